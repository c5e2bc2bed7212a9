// Kernel cases of standardisation and cross-correlation (assembly/xcorr.ts, src/kernels/reference/xcorr.ts); the table's conventions are in ./case.ts.
import * as R from '../../src/kernels/reference/index.js';
import { abs, add, EPS32, fround, Rand, TINY, tolAcc, tolRel } from '../helpers.js';
import { put, read, f, kcase, type KernelCase } from './case.js';

export function xcorrCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  const eps = 1e-5,
    feps = f(eps);
  for (const [rows, cols] of [
    [1, 1],
    [0, 3],
    [2, 5],
    [32, 17],
    [129, 9],
  ]) {
    const x = Float32Array.from(r.f32(rows * cols, -2, 2), (v, i) => v * (1 + (i % cols)) + 3); // column scales 1..cols, mean 3
    const dxhat = r.f32(rows * cols),
      dx0 = r.f32(rows * cols);
    const fw = R.standardize(x, rows, cols, feps);
    const xhat = fround(fw.xhat),
      invstd = fround(fw.invstd);
    const label = `rows=${rows} cols=${cols}`;
    out.push(
      kcase({
        group: 'standardize',
        kernels: ['standardize_forward'],
        label,
        run(rt) {
          const xh = rt.arena.f32(rows * cols),
            is = rt.arena.f32(cols);
          rt.kernels.standardize(xh, is, put(rt, x), rows, cols, eps);
          return { xhat: read(rt, xh), invstd: read(rt, is) };
        },
        expect: () => ({ xhat: { ref: fw.xhat, tol: tolRel(fw.xhat, 2, 1e-6) }, invstd: { ref: fw.invstd, tol: tolRel(fw.invstd, 2) } }),
      }),
      kcase({
        group: 'standardizeBackward',
        kernels: ['standardize_backward'],
        label,
        backward: true,
        run(rt) {
          const d = put(rt, dx0);
          rt.kernels.standardizeBackward(d, put(rt, dxhat), put(rt, xhat), put(rt, invstd), rows, cols);
          return { dx: read(rt, d) };
        },
        expect() {
          const ref = add(dx0, R.standardizeBackward(dxhat, xhat, invstd, rows, cols));
          return { dx: { ref, tol: tolAcc(ref, dx0, 2, 1e-6) } };
        },
      }),
    );
  }

  for (const [rows, d1, d2] of [
    [1, 1, 1],
    [0, 2, 3],
    [16, 5, 7],
    [33, 12, 4],
    [7, 0, 3],
    [9, 3, 0],
  ]) {
    const fx = Float32Array.from(r.f32(rows * d1, -2, 2), (v) => v + 1);
    const gx = r.f32(rows * d2, -1, 1);
    for (let row = 0; row < rows; row++) for (let i = 0; i < Math.min(d1, d2); i++) fx[row * d1 + i] += 0.5 * gx[row * d2 + i]; // some correlation
    const ghat = fround(R.standardize(gx, rows, d2, feps).xhat);
    const df0 = r.f32(rows * d1),
      scale = f(r.uniform(0.2, 2));
    const fw = R.crossCorrelation(fx, ghat, rows, d1, d2, feps);
    const c32 = fround(fw.c),
      fhat32 = fround(fw.fhat),
      invstd32 = fround(fw.invstd);
    const label = `rows=${rows} d1=${d1} d2=${d2}`;
    out.push(
      kcase({
        group: 'crossCorrelation',
        kernels: ['cross_correlation_forward'],
        label,
        run(rt) {
          const c = rt.arena.f32(d1 * d2),
            fhat = rt.arena.f32(rows * d1),
            invstd = rt.arena.f32(d1);
          const loss = rt.kernels.crossCorrelation(c, fhat, invstd, put(rt, fx), put(rt, ghat), rows, d1, d2, eps);
          return { loss, c: read(rt, c), fhat: read(rt, fhat), invstd: read(rt, invstd) };
        },
        expect() {
          // c is computed from fhat rounded to f32: bound by M = Σ_r |fhat||ghat| / rows.
          const M = R.matmul(abs(fw.fhat), abs(ghat), d1, d2, rows, 'tn').map((v) => (rows > 0 ? v / rows : 0));
          let lossMag = 0;
          for (let i = 0; i < d1 * d2; i++) lossMag += (2 * Math.abs(fw.c[i]) * M[i]) / (d1 * d2);
          return {
            loss: { ref: fw.loss, tol: 4 * EPS32 * (Math.abs(fw.loss) + lossMag) + TINY },
            c: { ref: fw.c, tol: Float64Array.from(fw.c, (v, i) => 4 * EPS32 * (Math.abs(v) + M[i]) + TINY) },
            fhat: { ref: fw.fhat, tol: tolRel(fw.fhat, 2, 1e-6) },
            invstd: { ref: fw.invstd, tol: tolRel(fw.invstd, 2) },
          };
        },
      }),
      kcase({
        group: 'crossCorrelationBackward',
        kernels: ['cross_correlation_backward'],
        label: `${label} scale=${scale.toFixed(3)}`,
        backward: true,
        run(rt) {
          const df = put(rt, df0);
          rt.kernels.crossCorrelationBackward(df, put(rt, c32), put(rt, fhat32), put(rt, invstd32), put(rt, ghat), rows, d1, d2, scale, rt.arena.f32(rows * d1));
          return { df: read(rt, df) };
        },
        expect() {
          // The kernel rounds dL/dfhat to f32 before the standardize backward: errors relative to the whole output.
          const ref = add(df0, R.crossCorrelationBackward(c32, fhat32, invstd32, ghat, rows, d1, d2, scale));
          return { df: { ref, tol: tolAcc(ref, df0, 2, 8) } };
        },
      }),
    );
  }
  return out;
}
