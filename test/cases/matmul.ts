// Kernel cases of matmul (assembly/matmul.ts, src/kernels/reference/matmul.ts); the table's conventions are in ./case.ts.
import type { MatmulLayout } from '../../src/engine.js';
import * as R from '../../src/kernels/reference/index.js';
import { abs, add, Rand } from '../helpers.js';
import { put, read, kcase, exact, tolDot, type KernelCase } from './case.js';

/** Shapes (m, n, k): tiles are 4 rows × 8 cols, depth blocks 256, column blocks 512, row blocks 64. */
function matmulShapes(r: Rand): [number, number, number][] {
  const fixed: [number, number, number][] = [
    [1, 1, 1],
    [4, 8, 256],
    [5, 520, 300],
    [70, 13, 257],
    [3, 7, 5],
    [9, 17, 300],
    [6, 520, 33],
    [67, 9, 513],
    [130, 260, 300],
    [0, 5, 3],
    [4, 0, 3],
    [4, 5, 0],
    [0, 0, 0],
  ];
  const random = Array.from({ length: 4 }, () => [r.int(1, 40), r.int(1, 40), r.int(1, 300)] as [number, number, number]);
  return [...fixed, ...random];
}

function matmulCase(r: Rand, layout: MatmulLayout, m: number, n: number, k: number, bias: boolean, acc: boolean): KernelCase {
  const a = r.f32(m * k),
    b = r.f32(k * n),
    bv = bias ? r.f32(n) : null,
    c0 = r.f32(m * n); // the initial C: kept when accumulating, overwritten otherwise
  return kcase({
    group: `matmul ${layout}`,
    kernels: [`matmul_${layout}`],
    label: `m=${m} n=${n} k=${k}${bias ? ' +bias' : ''}${acc ? ' +accumulate' : ''}`,
    run(rt) {
      const c = put(rt, c0);
      rt.kernels.matmul(c, put(rt, a), put(rt, b), { m, n, k, layout, bias: bv ? put(rt, bv) : undefined, accumulate: acc });
      return { C: read(rt, c) };
    },
    expect() {
      const ref = R.matmul(a, b, m, n, k, layout, bv, acc ? c0 : null);
      const mag = R.matmul(abs(a), abs(b), m, n, k, layout, bv && abs(bv), acc ? abs(c0) : null);
      return { C: { ref, tol: tolDot(mag, k) } };
    },
  });
}

/** The backward of C = op(A)·op(B) + bias through the matmul layouts, accumulating as a model does. */
function matmulBackwardCase(r: Rand, layout: MatmulLayout, m: number, n: number, k: number): KernelCase {
  const a = r.f32(m * k),
    b = r.f32(k * n),
    dc = r.f32(m * n),
    da0 = r.f32(m * k),
    db0 = r.f32(k * n),
    dbias0 = r.f32(n);
  return kcase({
    group: `matmul ${layout} backward`,
    kernels: ['matmul_nn', 'matmul_nt', 'matmul_tn', 'bias_add_backward'],
    label: `m=${m} n=${n} k=${k}`,
    backward: true,
    run(rt) {
      const K = rt.kernels;
      const [A, B, dC, dA, dB, dbias] = [a, b, dc, da0, db0, dbias0].map((x) => put(rt, x));
      if (layout === 'nn') {
        K.matmul(dA, dC, B, { m, n: k, k: n, layout: 'nt', accumulate: true }); // dA (m,k) += dC·Bᵀ
        K.matmul(dB, A, dC, { m: k, n, k: m, layout: 'tn', accumulate: true }); // dB (k,n) += Aᵀ·dC
      } else if (layout === 'nt') {
        K.matmul(dA, dC, B, { m, n: k, k: n, layout: 'nn', accumulate: true }); // dA (m,k) += dC·B, B (n,k)
        K.matmul(dB, dC, A, { m: n, n: k, k: m, layout: 'tn', accumulate: true }); // dB (n,k) += dCᵀ·A
      } else {
        K.matmul(dA, B, dC, { m: k, n: m, k: n, layout: 'nt', accumulate: true }); // dA (k,m) += B·dCᵀ
        K.matmul(dB, A, dC, { m: k, n, k: m, layout: 'nn', accumulate: true }); // dB (k,n) += A·dC, A (k,m)
      }
      K.biasAddBackward(dbias, dC, m, n);
      return { dA: read(rt, dA), dB: read(rt, dB), dbias: read(rt, dbias) };
    },
    expect() {
      const g = R.matmulBackward(dc, a, b, m, n, k, layout);
      const mag = R.matmulBackward(abs(dc), abs(a), abs(b), m, n, k, layout);
      return {
        dA: { ref: add(da0, g.da), tol: tolDot(add(abs(da0), mag.da), n) },
        dB: { ref: add(db0, g.db), tol: tolDot(add(abs(db0), mag.db), m) },
        dbias: { ref: add(dbias0, g.dbias), tol: tolDot(add(abs(dbias0), mag.dbias), m) },
      };
    },
  });
}

/** linearBackward: dw += xᵀ·dy, dbias += Σ dy, dx = dy·wᵀ (dx overwritten; dx or dbias may be null). */
function linearBackwardCase(r: Rand, rows: number, inF: number, outF: number, withDx: boolean, withBias: boolean): KernelCase {
  const x = r.f32(rows * inF),
    w = r.f32(inF * outF),
    dy = r.f32(rows * outF),
    dx0 = r.f32(rows * inF),
    dw0 = r.f32(inF * outF),
    db0 = r.f32(outF);
  return kcase({
    group: 'linearBackward',
    kernels: ['matmul_tn', 'bias_add_backward', 'matmul_nt'],
    label: `rows=${rows} in=${inF} out=${outF}${withDx ? '' : ' dx=null'}${withBias ? '' : ' dbias=null'}`,
    backward: true,
    run(rt) {
      const [X, W, dY, dX, dW, dB] = [x, w, dy, dx0, dw0, db0].map((v) => put(rt, v));
      rt.kernels.linearBackward(withDx ? dX : null, dW, withBias ? dB : null, dY, X, W, rows, inF, outF);
      return { dx: read(rt, dX), dw: read(rt, dW), dbias: read(rt, dB) };
    },
    expect() {
      const g = R.linearBackward(dy, x, w, rows, inF, outF);
      const mag = R.linearBackward(abs(dy), abs(x), abs(w), rows, inF, outF);
      return {
        dx: withDx ? { ref: g.dx, tol: tolDot(mag.dx, outF) } : exact(dx0),
        dw: { ref: add(dw0, g.dw), tol: tolDot(add(abs(dw0), mag.dw), rows) },
        dbias: withBias ? { ref: add(db0, g.dbias), tol: tolDot(add(abs(db0), mag.dbias), rows) } : exact(db0),
      };
    },
  });
}

export function matmulCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  for (const layout of ['nn', 'nt', 'tn'] as const) {
    for (const [m, n, k] of matmulShapes(r)) {
      out.push(matmulCase(r, layout, m, n, k, false, false), matmulCase(r, layout, m, n, k, true, true));
    }
    for (const [m, n, k] of [
      [9, 17, 300],
      [6, 520, 33],
      [4, 5, 0],
    ]) {
      out.push(matmulCase(r, layout, m, n, k, true, false), matmulCase(r, layout, m, n, k, false, true));
    }
    for (const [m, n, k] of [
      [1, 1, 1],
      [7, 13, 300],
      [70, 33, 5],
      [3, 520, 9],
      [0, 4, 3],
      [5, 6, 0],
    ]) {
      out.push(matmulBackwardCase(r, layout, m, n, k));
    }
  }
  for (const [rows, inF, outF] of [
    [1, 1, 1],
    [5, 7, 3],
    [33, 20, 10],
    [0, 4, 3],
  ]) {
    out.push(linearBackwardCase(r, rows, inF, outF, true, true), linearBackwardCase(r, rows, inF, outF, false, rows % 2 === 1));
  }
  out.push(
    kcase({
      group: 'matmul_scratch_floats',
      kernels: ['matmul_scratch_floats'],
      label: '',
      run: (rt) => ({ floats: rt.kernels.raw.matmul_scratch_floats() as number }),
      expect: () => ({ floats: exact(R.MATMUL_SCRATCH_FLOATS) }),
    }),
  );
  return out;
}
