// Kernel cases of flat vectors and the batch gather (assembly/vector.ts, src/kernels/reference/vector.ts); the table's conventions are in ./case.ts.
import * as R from '../../src/kernels/reference/index.js';
import { abs, EPS32, Rand, tolAcc, tolRel } from '../helpers.js';
import { put, read, f, kcase, exact, type KernelCase } from './case.js';

export function vectorCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  for (const n of [0, 1, 3, 4, 5, 8, 13, 1001, 4099]) {
    const x = r.f32(n, -2, 2),
      y = r.f32(n, -2, 2),
      a = f(r.uniform(-3, 3)),
      v = f(r.uniform(-5, 5));
    const label = `n=${n}`;
    out.push(
      kcase({
        group: 'dot',
        kernels: ['dot'],
        label,
        run: (rt) => ({ dot: rt.kernels.dot(put(rt, x), put(rt, y)) }),
        expect: () => ({ dot: { ref: R.dot(x, y), tol: 2 * Math.sqrt(n + 2) * EPS32 * R.dot(abs(x), abs(y)) } }),
      }),
      kcase({
        group: 'sumsq',
        kernels: ['sumsq'],
        label,
        run: (rt) => ({ sumsq: rt.kernels.sumsq(put(rt, x)) }),
        expect: () => ({ sumsq: { ref: R.sumsq(x), tol: 2 * Math.sqrt(n + 2) * EPS32 * R.sumsq(x) } }),
      }),
      kcase({
        group: 'axpy',
        kernels: ['axpy'],
        label: `${label} a=${a.toFixed(3)}`,
        run(rt) {
          const yb = put(rt, y);
          rt.kernels.axpy(yb, put(rt, x), a);
          return { y: read(rt, yb) };
        },
        expect: () => ({ y: { ref: R.axpy(y, x, a), tol: tolAcc(R.axpy(y, x, a), y, 2) } }),
      }),
      kcase({
        group: 'scale',
        kernels: ['scale'],
        label: `${label} a=${a.toFixed(3)}`,
        run(rt) {
          const xb = put(rt, x);
          rt.kernels.scale(xb, a);
          return { x: read(rt, xb) };
        },
        expect: () => ({ x: { ref: R.scale(x, a), tol: tolRel(R.scale(x, a), 1) } }),
      }),
      kcase({
        group: 'fill',
        kernels: ['fill'],
        label: `${label} v=${v.toFixed(3)}`,
        run(rt) {
          const xb = put(rt, x);
          rt.kernels.fill(xb, v);
          return { x: read(rt, xb) };
        },
        expect: () => ({ x: exact(R.fill(n, v)) }),
      }),
      kcase({
        group: 'copy',
        kernels: ['copy'],
        label,
        run(rt) {
          const d = put(rt, y);
          rt.kernels.copy(d, put(rt, x));
          return { dst: read(rt, d) };
        },
        expect: () => ({ dst: exact(R.copy(x)) }),
      }),
    );
  }
  return out;
}

export function gatherCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  for (const [rows, dim, n] of [
    [1, 1, 1],
    [10, 3, 0],
    [50, 7, 64],
    [200, 13, 9],
  ]) {
    const src = r.f32(rows * dim);
    const idx = Int32Array.from({ length: n }, () => r.int(0, rows - 1));
    out.push(
      kcase({
        group: 'gatherRows',
        kernels: ['gather_rows'],
        label: `rows=${rows} dim=${dim} n=${n}`,
        run(rt) {
          const o = rt.arena.f32(n * dim);
          rt.kernels.gatherRows(o, put(rt, src), rt.arena.i32From(idx), n, dim);
          return { out: read(rt, o) };
        },
        expect: () => ({ out: exact(R.gatherRows(src, idx, dim)) }),
      }),
    );
  }
  return out;
}
