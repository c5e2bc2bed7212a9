// Kernel cases of random numbers (assembly/rng.ts, src/kernels/reference/rng.ts); the table's conventions are in ./case.ts.
import type { Runtime } from '../../src/index.js';
import * as R from '../../src/kernels/reference/index.js';
import { EPS32, Rand } from '../helpers.js';
import { read, f, kcase, exact, type KernelCase } from './case.js';

export function rngCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  const state32 = (rt: Runtime, s: { ptr: number; length: number; kind: 'i32' }) => rt.arena.viewI32(s).slice();
  for (const [seed, stream] of [
    [0, 0],
    [1, 0],
    [0, 1],
    [-7, 123],
    [2147483647, -1],
    [r.int(0, 2 ** 31 - 1), r.int(0, 1000)],
  ]) {
    out.push(
      kcase({
        group: 'rng, rngNext',
        kernels: ['rng', 'rng_next'],
        label: `seed=${seed} stream=${stream}`,
        run(rt) {
          const s = rt.kernels.rng(seed, stream);
          const seeded = state32(rt, s);
          const draws = Int32Array.from({ length: 20 }, () => rt.kernels.rngNext(s));
          return { seeded, draws };
        },
        expect() {
          const s = R.rng(seed, stream);
          const seeded = new Int32Array(s.slice().buffer);
          return { seeded: exact(seeded), draws: exact(Int32Array.from({ length: 20 }, () => R.rngNext(s))) };
        },
      }),
    );
  }
  for (const n of [0, 1, 7, 1000]) {
    const seed = r.int(0, 1e6),
      stream = r.int(0, 50);
    const lo = f(r.uniform(-3, 0)),
      hi = f(lo + r.uniform(0.1, 5)),
      mean = f(r.uniform(-2, 2)),
      std = f(r.uniform(0.1, 3));
    out.push(
      kcase({
        group: 'uniform',
        kernels: ['uniform'],
        label: `n=${n} [${lo.toFixed(2)}, ${hi.toFixed(2)})`,
        run(rt) {
          const s = rt.kernels.rng(seed, stream),
            o = rt.arena.f32(n);
          rt.kernels.uniform(o, s, lo, hi);
          return { out: read(rt, o), state: state32(rt, s) };
        },
        expect() {
          const s = R.rng(seed, stream);
          const ref = R.uniform(n, s, lo, hi);
          return { out: { ref, tol: 2 * EPS32 * (Math.abs(lo) + Math.abs(hi)) }, state: exact(new Int32Array(s.buffer)) };
        },
      }),
      kcase({
        group: 'normal',
        kernels: ['normal'],
        label: `n=${n} mean=${mean.toFixed(2)} std=${std.toFixed(2)}`,
        run(rt) {
          const s = rt.kernels.rng(seed, stream),
            o = rt.arena.f32(n);
          rt.kernels.normal(o, s, mean, std);
          return { out: read(rt, o), state: state32(rt, s) };
        },
        expect() {
          const s = R.rng(seed, stream);
          const ref = R.normal(n, s, mean, std);
          return { out: { ref, tol: Float64Array.from(ref, (v) => 2 * EPS32 * (Math.abs(v) + Math.abs(mean))) }, state: exact(new Int32Array(s.buffer)) };
        },
      }),
    );
  }
  for (const n of [0, 1, 2, 10, 1000]) {
    const seed = r.int(0, 1e6);
    out.push(
      kcase({
        group: 'permutation',
        kernels: ['permutation'],
        label: `n=${n}`,
        run(rt) {
          const s = rt.kernels.rng(seed, 3),
            o = rt.arena.i32(n);
          rt.kernels.permutation(o, s);
          return { out: rt.arena.viewI32(o).slice(), state: state32(rt, s) };
        },
        expect() {
          const s = R.rng(seed, 3);
          return { out: exact(R.permutation(n, s)), state: exact(new Int32Array(s.buffer)) };
        },
      }),
    );
  }
  return out;
}
