// Kernel cases of the f64 family (assembly/f64.ts, src/kernels/reference/f64.ts): the kernels must give
// exactly the bits of the float64 JavaScript loops they replace, so every output is compared with
// tolerance 0 against the twin (which is that loop), rounded to f32 where the kernel stores f32.
import * as R from '../../src/kernels/reference/index.js';
import { Rand } from '../helpers.js';
import { put, read, kcase, exact, type KernelCase } from './case.js';

const fround32 = (v: ArrayLike<number>) => Float32Array.from(v);

export function f64Cases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  for (const [n, d] of [
    [1, 1],
    [0, 5],
    [4, 0],
    [6, 13],
    [17, 64],
  ]) {
    const f = r.f32(n * d, -3, 3);
    if (n * d > 0) f[0] = 0; // a zero entry; and a zero row below (its norm is 1e-12)
    if (n > 2) f.fill(0, d, 2 * d);
    const dh = r.f32(n * d),
      df0 = r.f32(n * d);
    out.push(
      kcase({
        group: 'rowNormalize',
        kernels: ['row_normalize_forward'],
        label: `n=${n} d=${d}`,
        run(rt) {
          const h = rt.arena.f32(n * d);
          rt.kernels.rowNormalize(h, put(rt, f), n, d);
          return { h: read(rt, h) };
        },
        expect: () => ({ h: exact(fround32(R.rowNormalize(f, n, d))) }),
      }),
      kcase({
        group: 'rowNormalizeBackward',
        kernels: ['row_normalize_backward'],
        label: `n=${n} d=${d}`,
        backward: true,
        run(rt) {
          const h = fround32(R.rowNormalize(f, n, d));
          const df = put(rt, df0);
          rt.kernels.rowNormalizeBackward(df, put(rt, dh), put(rt, h), put(rt, f), n, d);
          return { df: read(rt, df) };
        },
        expect() {
          const h = fround32(R.rowNormalize(f, n, d));
          const g = R.rowNormalizeBackward(dh, h, f, n, d);
          return { df: exact(Float32Array.from(g, (v, i) => df0[i] + v)) };
        },
      }),
    );
  }
  for (const n of [0, 1, 2, 7, 1000]) {
    const x = r.f32(n, -2, 5);
    out.push(
      kcase({
        group: 'sampleStd',
        kernels: ['sample_std'],
        label: `n=${n}`,
        run: (rt) => ({ std: rt.kernels.sampleStd(put(rt, x)) }),
        expect: () => ({ std: exact(R.sampleStd(x)) }),
      }),
    );
  }
  for (const [rows, cols] of [
    [0, 3],
    [1, 1],
    [9, 10],
    [130, 7],
  ]) {
    const p = r.f32(rows * cols, 0, 1);
    const labels = Int32Array.from({ length: rows }, () => r.int(0, cols - 1));
    const o0 = r.f32(rows * cols),
      bias = r.f32(cols);
    out.push(
      kcase({
        group: 'labelProbSum',
        kernels: ['label_prob_sum'],
        label: `rows=${rows} cols=${cols}`,
        run: (rt) => ({ s: rt.kernels.labelProbSum(put(rt, p), rt.arena.i32From(labels), rows, cols) }),
        expect: () => ({ s: exact(R.labelProbSum(p, labels, rows, cols)) }),
      }),
    );
    for (const divisor of [1, 3]) {
      out.push(
        kcase({
          group: 'biasAddScaled',
          kernels: ['bias_add_scaled'],
          label: `rows=${rows} cols=${cols} divisor=${divisor}`,
          run(rt) {
            const o = put(rt, o0);
            rt.kernels.biasAddScaled(o, put(rt, bias), rows, cols, divisor);
            return { out: read(rt, o) };
          },
          expect: () => ({ out: exact(fround32(R.biasAddScaled(o0, bias, rows, cols, divisor))) }),
        }),
      );
    }
  }
  return out;
}
