// Kernel cases of optimisers (assembly/optim.ts, src/kernels/reference/optim.ts); the table's conventions are in ./case.ts.
import * as R from '../../src/kernels/reference/index.js';
import { abs, EPS32, Rand, TINY, tolRel } from '../helpers.js';
import { put, read, f, kcase, type KernelCase } from './case.js';

export function optimiserCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  const steps = 4;
  const sgdOptions = [{ lr: 0.1 }, { lr: 0.05, momentum: 0.9, weightDecay: 0.01 }, { lr: 0.05, momentum: 0.9, weightDecay: 0.01, nesterov: true }, { lr: 0.3, momentum: 0.5, nesterov: true }];
  const adamOptions = [{ lr: 0.01 }, { lr: 0.001, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 }, { lr: 0.05, weightDecay: 0.01 }];
  for (const n of [0, 1, 7, 1000]) {
    for (const o of sgdOptions) {
      const p0 = r.f32(n),
        v0 = r.f32(n, -0.1, 0.1),
        gs = Array.from({ length: steps }, () => r.f32(n));
      const fo = { lr: f(o.lr), momentum: f(o.momentum ?? 0), weightDecay: f(o.weightDecay ?? 0), nesterov: o.nesterov ?? false };
      out.push(
        kcase({
          group: 'sgdStep',
          kernels: ['sgd_step'],
          label: `n=${n} ${JSON.stringify(o)} ×${steps} steps`,
          run(rt) {
            const p = put(rt, p0),
              v = put(rt, v0);
            for (const g of gs) rt.kernels.sgdStep(p, put(rt, g), v, o);
            return { p: read(rt, p), v: read(rt, v) };
          },
          expect() {
            let s: { p: Float64Array; v: Float64Array } = { p: Float64Array.from(p0), v: Float64Array.from(v0) };
            for (const g of gs) s = R.sgdStep(s.p, g, s.v, fo);
            // Magnitudes: the same steps on |p|, |g|, |v| with every term adding up (lr negated).
            let mag: { p: Float64Array; v: Float64Array } = { p: abs(p0), v: abs(v0) };
            for (const g of gs) mag = R.sgdStep(mag.p, abs(g), mag.v, { ...fo, lr: -fo.lr });
            const tol = (v: Float64Array) => Float64Array.from(v, (x) => 2 * steps * EPS32 * x + TINY);
            return { p: { ref: s.p, tol: tol(mag.p) }, v: { ref: s.v, tol: tol(mag.v) } };
          },
        }),
      );
    }
    for (const o of adamOptions) {
      const p0 = r.f32(n),
        gs = Array.from({ length: steps }, () => r.f32(n));
      const fo = { beta1: f(o.beta1 ?? 0.9), beta2: f(o.beta2 ?? 0.999), eps: f(o.eps ?? 1e-8), weightDecay: f(o.weightDecay ?? 0), lr: f(o.lr) };
      out.push(
        kcase({
          group: 'adamwStep',
          kernels: ['adamw_step'],
          label: `n=${n} ${JSON.stringify(o)} ×${steps} steps`,
          run(rt) {
            const p = put(rt, p0),
              m = rt.arena.f32(n),
              v = rt.arena.f32(n);
            rt.kernels.fill(m, 0);
            rt.kernels.fill(v, 0);
            gs.forEach((g, t) => rt.kernels.adamwStep(p, put(rt, g), m, v, { ...o, step: t + 1 }));
            return { p: read(rt, p), m: read(rt, m), v: read(rt, v) };
          },
          expect() {
            let s: { p: Float64Array; m: Float64Array; v: Float64Array } = { p: Float64Array.from(p0), m: new Float64Array(n), v: new Float64Array(n) };
            gs.forEach((g, t) => (s = R.adamwStep(s.p, g, s.m, s.v, { ...fo, step: t + 1 })));
            return {
              p: { ref: s.p, tol: tolRel(s.p, 2 * steps, 2 * steps) },
              m: { ref: s.m, tol: tolRel(s.m, 2 * steps, 2 * steps) },
              v: { ref: s.v, tol: tolRel(s.v, 2 * steps, 2 * steps) },
            };
          },
        }),
      );
    }
  }
  return out;
}
