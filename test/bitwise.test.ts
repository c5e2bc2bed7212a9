// The scalar and SIMD builds give bit-identical outputs for every kernel: a design property (matmul adds
// the k products of each element in order in both builds; reductions use the same 4 interleaved lanes).
// Every case of cases.ts, forward and backward, runs in both builds and the output bytes are compared.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import { groupCases, kernelCases } from './cases/index.js';
import { firstBitDifference, Rand, scoped } from './helpers.js';

describe('scalar and SIMD builds are bit-identical', () => {
  let scalar: Runtime, simd: Runtime;
  beforeAll(async () => {
    [scalar, simd] = await Promise.all([createRuntime({ threads: 1, build: 'scalar' }), createRuntime({ threads: 1, build: 'simd' })]);
  });
  afterAll(() => {
    scalar?.dispose();
    simd?.dispose();
  });

  for (const [group, list] of groupCases(kernelCases())) {
    it(`${group} (${list.length} cases)`, () => {
      const diffs: string[] = [];
      let bytes = 0;
      for (const kc of list) {
        const a = scoped(scalar, () => kc.run(scalar));
        const b = scoped(simd, () => kc.run(simd));
        for (const name of Object.keys(a)) {
          const x = a[name],
            y = b[name];
          bytes += typeof x === 'number' ? 4 : x.byteLength;
          const i = firstBitDifference(x, y);
          if (i >= 0) {
            const show = (v: typeof x) => (typeof v === 'number' ? v : v[i]);
            diffs.push(`${group} [${kc.label}] ${name}: first difference at [${i}]: scalar ${show(x)}, simd ${show(y)}`);
          }
        }
      }
      console.log(`${group}: ${list.length} cases, ${bytes} output bytes compared, ${diffs.length} differing outputs`);
      expect(diffs, diffs.join('\n')).toEqual([]);
    });
  }

  it('large matmuls in every layout, with signed zeros, denormals and large values in the data', () => {
    const r = new Rand(31);
    // no values that could make ∞ − ∞: NaN payloads are not deterministic in WebAssembly
    const specials = [0, -0, 1e-40, -1e-40, 1e30, -1e30, 1e-20];
    for (const layout of ['nn', 'nt', 'tn'] as const) {
      for (const [m, n, k] of [
        [37, 530, 301],
        [64, 64, 512],
        [5, 3, 1000],
      ]) {
        const a = r.f32(m * k, -2, 2),
          b = r.f32(k * n, -2, 2),
          bias = r.f32(n);
        for (let i = 0; i < a.length; i += 53) a[i] = r.pick(specials);
        const c0 = r.f32(m * n);
        const run = (rt: Runtime) =>
          scoped(rt, () => {
            const c = rt.arena.f32From(c0);
            rt.kernels.matmul(c, rt.arena.f32From(a), rt.arena.f32From(b), { m, n, k, layout, bias: rt.arena.f32From(bias), accumulate: true });
            return rt.arena.read(c);
          });
        const [x, y] = [run(scalar), run(simd)];
        expect(firstBitDifference(x, y), `${layout} ${m}×${n}×${k}`).toBe(-1);
      }
    }
  });
});
