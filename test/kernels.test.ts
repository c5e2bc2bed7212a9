// Every forward kernel, in the scalar and the SIMD build, against the float64 reference (src/kernels/reference/)
// over seeded random shapes, including 1x1, zero sizes and sizes that are not multiples of the tiles.
// Also: matmul with k = 0, dropout's mask, and the statistics and determinism of the generator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import { KERNEL_NAMES } from '../src/engine.js';
import { checkGroup, groupCases, kernelCases } from './cases/index.js';
import { fmt, Rand, scoped } from './helpers.js';

const cases = kernelCases();

it('the cases call every kernel of the module', () => {
  const covered = new Set(cases.flatMap((c) => c.kernels));
  expect(KERNEL_NAMES.filter((n) => !covered.has(n))).toEqual([]);
});

for (const build of ['scalar', 'simd'] as const) {
  describe(`${build} build vs the float64 reference`, () => {
    let rt: Runtime;
    beforeAll(async () => {
      rt = await createRuntime({ threads: 1, build });
    });
    afterAll(() => rt?.dispose());

    for (const [group, list] of groupCases(cases.filter((c) => !c.backward))) {
      it(`${group} (${list.length} cases)`, () => checkGroup(rt, group, list));
    }

    it('matmul with k = 0 gives exactly C = bias, C = 0, or C unchanged when accumulating', () => {
      const r = new Rand(7);
      for (const layout of ['nn', 'nt', 'tn'] as const) {
        for (const [m, n] of [
          [1, 1],
          [5, 9],
          [13, 520],
        ]) {
          scoped(rt, () => {
            const c0 = r.f32(m * n),
              bias = r.f32(n);
            const run = (withBias: boolean, accumulate: boolean) => {
              const c = rt.arena.f32From(c0);
              rt.kernels.matmul(c, rt.arena.f32(0), rt.arena.f32(0), { m, n, k: 0, layout, bias: withBias ? rt.arena.f32From(bias) : undefined, accumulate });
              return rt.arena.read(c);
            };
            const rowsOf = (row: Float32Array) => Float32Array.from({ length: m * n }, (_, i) => row[i % n]);
            expect(Array.from(run(false, false)), `${layout} ${m}×${n}: C = 0`).toEqual(new Array(m * n).fill(0));
            expect(run(true, false), `${layout} ${m}×${n}: C = bias`).toEqual(rowsOf(bias));
            expect(run(false, true), `${layout} ${m}×${n}: C unchanged`).toEqual(c0);
            expect(run(true, true), `${layout} ${m}×${n}: C = C + bias`).toEqual(Float32Array.from(c0, (v, i) => v + bias[i % n]));
          });
        }
      }
    });

    it('optimiser state that decays into the subnormal range is flushed to +0; NaN is kept', () => {
      // A weight whose gradient is 0 has its velocity (SGD) or first moment (AdamW) decay by a
      // constant factor per step; without the flush it would pass through every subnormal value.
      scoped(rt, () => {
        const K = rt.kernels;
        const start = [1e-30, -3e-31, 2e-36, 1.5e-38, 0.25];
        const n = start.length + 1; // the last element's gradient is NaN
        const p = rt.arena.f32From(new Float32Array(n).fill(1)),
          v = rt.arena.f32From([...start, 0]),
          m = rt.arena.f32From([...start, 0]),
          v2 = rt.arena.f32From(new Float32Array(n)),
          g = rt.arena.f32From([...new Array(start.length).fill(0), NaN]);
        const isSubnormal = (x: number) => x !== 0 && Math.abs(x) < 2 ** -126;
        const lr = 0.01;
        for (let t = 1; t <= 300; t++) {
          K.sgdStep(p, g, v, { lr, momentum: 0.5 });
          K.adamwStep(p, g, m, v2, { lr: 0, step: t, beta1: 0.5 });
          const [vv, mm] = [rt.arena.read(v), rt.arena.read(m)];
          for (let i = 0; i < start.length; i++) {
            expect(isSubnormal(vv[i]) || (vv[i] !== 0 && Math.abs(vv[i]) < 2 ** -126 / lr), `step ${t}: SGD velocity ${vv[i]}`).toBe(false);
            expect(isSubnormal(mm[i]), `step ${t}: AdamW first moment ${mm[i]}`).toBe(false);
          }
          expect(Number.isNaN(vv[start.length]) && Number.isNaN(mm[start.length]), 'NaN is not flushed').toBe(true);
        }
        // 0.5^300 of anything here is far below the smallest normal: everything reached exactly +0.
        expect(Array.from(rt.arena.read(v).subarray(0, start.length), (x) => Object.is(x, 0))).toEqual(start.map(() => true));
        expect(Array.from(rt.arena.read(m).subarray(0, start.length), (x) => Object.is(x, 0))).toEqual(start.map(() => true));
      });
    });

    it('matmul with m = 0 or n = 0 writes nothing', () => {
      scoped(rt, () => {
        const guard = new Float32Array(64).fill(-7.5);
        for (const [m, n, k] of [
          [0, 5, 3],
          [4, 0, 3],
          [0, 0, 0],
        ]) {
          const c = rt.arena.f32(m * n);
          const g = rt.arena.f32From(guard); // the next allocation: a kernel writing past C would hit it
          rt.kernels.matmul(c, rt.arena.f32From(new Float32Array(m * k).fill(1)), rt.arena.f32From(new Float32Array(k * n).fill(1)), { m, n, k, bias: rt.arena.f32From(new Float32Array(n).fill(1)) });
          expect(rt.arena.read(g)).toEqual(guard);
        }
      });
    });

    it('dropout: mask values are 0 or 1/(1−p), about 1−p of them kept, out = x·mask', () => {
      const n = 200_000;
      for (const p of [0.1, 0.5, 0.8]) {
        scoped(rt, () => {
          const x = rt.arena.f32From(new Rand(p * 100).f32(n, -3, 3));
          const out = rt.arena.f32(n),
            mask = rt.arena.f32(n);
          rt.kernels.dropout(out, mask, x, p, rt.kernels.rng(11, 4));
          const m = rt.arena.read(mask),
            o = rt.arena.read(out),
            xv = rt.arena.read(x);
          const keep = Math.fround(1 / Math.fround(1 - Math.fround(p))); // as the kernel computes it in f32
          expect(Math.abs(keep - 1 / (1 - p)) / (1 / (1 - p))).toBeLessThan(2 ** -22);
          let kept = 0,
            bad = 0,
            wrongOut = 0;
          for (let i = 0; i < n; i++) {
            if (m[i] === keep) kept++;
            else if (m[i] !== 0 || Object.is(m[i], -0)) bad++;
            if (o[i] !== Math.fround(xv[i] * m[i])) wrongOut++;
          }
          const frac = kept / n,
            sd = Math.sqrt((p * (1 - p)) / n);
          console.log(`[${build}] dropout p=${p}: kept ${frac.toFixed(4)} (expected ${1 - p} ± ${fmt(5 * sd)}), mask value ${keep}`);
          expect(bad, 'mask values other than 0 and 1/(1−p)').toBe(0);
          expect(wrongOut, 'elements where out ≠ x·mask').toBe(0);
          expect(Math.abs(frac - (1 - p))).toBeLessThan(5 * sd);
        });
      }
    });

    it('dropout with p = 0 keeps everything and is the identity', () => {
      scoped(rt, () => {
        const xs = new Rand(5).f32(1003);
        const out = rt.arena.f32(xs.length),
          mask = rt.arena.f32(xs.length);
        rt.kernels.dropout(out, mask, rt.arena.f32From(xs), 0, rt.kernels.rng(1));
        expect(rt.arena.read(mask)).toEqual(new Float32Array(xs.length).fill(1));
        expect(rt.arena.read(out)).toEqual(xs);
      });
    });

    it('rng: uniform, normal and permutation statistics', () => {
      scoped(rt, () => {
        const K = rt.kernels;
        const n = 200_000;
        const u = rt.arena.f32(n);
        K.uniform(u, K.rng(3, 1), -2, 3);
        const uv = rt.arena.read(u);
        let s = 0,
          s2 = 0,
          outside = 0;
        for (const v of uv) {
          s += v;
          s2 += v * v;
          if (!(v >= -2 && v < 3)) outside++;
        }
        const mean = s / n,
          variance = s2 / n - mean * mean;
        console.log(`[${build}] uniform[-2,3): mean ${mean.toFixed(4)} (0.5), variance ${variance.toFixed(4)} (${(25 / 12).toFixed(4)})`);
        expect(outside).toBe(0);
        expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(25 / 12 / n));
        expect(Math.abs(variance - 25 / 12)).toBeLessThan(0.02);

        const g = rt.arena.f32(n + 1); // odd: the last pair is cut in half
        K.normal(g, K.rng(3, 2), 1.5, 2);
        const gv = rt.arena.read(g);
        let gs = 0,
          gs2 = 0,
          within1 = 0,
          nonFinite = 0;
        for (const v of gv) {
          gs += v;
          gs2 += v * v;
          if (Math.abs(v - 1.5) < 2) within1++;
          if (!Number.isFinite(v)) nonFinite++;
        }
        const gm = gs / gv.length,
          gsd = Math.sqrt(gs2 / gv.length - gm * gm),
          frac1 = within1 / gv.length;
        console.log(`[${build}] normal(1.5, 2): mean ${gm.toFixed(4)}, std ${gsd.toFixed(4)}, within 1σ ${frac1.toFixed(4)} (0.6827)`);
        expect(nonFinite).toBe(0);
        expect(Math.abs(gm - 1.5)).toBeLessThan(5 * (2 / Math.sqrt(n)));
        expect(Math.abs(gsd - 2)).toBeLessThan(0.02);
        expect(Math.abs(frac1 - 0.6827)).toBeLessThan(0.006);

        // permutation: always a permutation; every value lands in every position about equally often
        const size = 6,
          trials = 12_000;
        const counts = Array.from({ length: size }, () => new Array(size).fill(0));
        const state = K.rng(9, 9),
          perm = rt.arena.i32(size);
        for (let t = 0; t < trials; t++) {
          K.permutation(perm, state);
          const pv = rt.arena.viewI32(perm);
          expect([...pv].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
          pv.forEach((v, pos) => counts[pos][v]++);
        }
        const e = trials / size;
        const chi2 = counts.flat().reduce((acc, c) => acc + (c - e) ** 2 / e, 0);
        console.log(`[${build}] permutation of ${size}, ${trials} trials: χ² of position counts ${chi2.toFixed(1)} (25 degrees of freedom; 99.9% quantile 52.6)`);
        expect(chi2).toBeLessThan(52.6);

        const big = rt.arena.i32(10_000);
        K.permutation(big, K.rng(1, 1));
        expect(new Set(rt.arena.viewI32(big)).size).toBe(10_000);
      });
    });

    it('rng: the same seed and stream repeat, other streams and seeds differ', () => {
      scoped(rt, () => {
        const K = rt.kernels;
        const draw = (seed: number, stream: number) => {
          const out = rt.arena.f32(1000);
          K.uniform(out, K.rng(seed, stream));
          return rt.arena.read(out);
        };
        expect(draw(42, 0)).toEqual(draw(42, 0));
        expect(draw(42, 5)).toEqual(draw(42, 5));
        const a = draw(42, 0),
          b = draw(42, 1),
          c = draw(43, 0);
        const same = (x: Float32Array, y: Float32Array) => x.filter((v, i) => v === y[i]).length;
        // equal values by chance have probability 2^-24 each
        expect(same(a, b)).toBeLessThan(3);
        expect(same(a, c)).toBeLessThan(3);
        // the draws of one state continue where they stopped
        const s1 = K.rng(8, 8),
          s2 = K.rng(8, 8);
        const whole = rt.arena.f32(100),
          first = rt.arena.f32(40),
          rest = rt.arena.f32(60);
        K.uniform(whole, s1);
        K.uniform(first, s2);
        K.uniform(rest, s2);
        expect(rt.arena.read(whole)).toEqual(Float32Array.from([...rt.arena.read(first), ...rt.arena.read(rest)]));
        const p1 = rt.arena.i32(50),
          p2 = rt.arena.i32(50);
        K.permutation(p1, K.rng(4, 2));
        K.permutation(p2, K.rng(4, 2));
        expect(rt.arena.viewI32(p1)).toEqual(rt.arena.viewI32(p2));
        const n1 = rt.arena.f32(33),
          n2 = rt.arena.f32(33);
        K.normal(n1, K.rng(4, 3));
        K.normal(n2, K.rng(4, 3));
        expect(rt.arena.read(n1)).toEqual(rt.arena.read(n2));
      });
    });
  });
}
