/**
 * One table of kernel cases, shared by the tests: each case runs one or more kernels through the
 * typed wrappers on seeded random data and names its outputs; `expect()` gives the float64 reference
 * value and a per-element tolerance for each output. kernels.test.ts checks the forward cases and
 * gradients.test.ts the backward ones against the reference in both builds; bitwise.test.ts runs
 * every case in both builds and compares the bytes.
 *
 * Inputs are f32 (Float32Array), so the kernels and the reference see the same numbers; scalars the
 * kernels take as f32 are rounded with Math.fround before they reach the reference.
 */
import type { ConvShape, F32, KernelName, MatmulLayout, PoolShape, Runtime } from '../src/index.js';
import * as R from '../src/kernels/reference.js';
import { expect } from 'vitest';
import { abs, add, compare, type Comparison, describeComparison, EPS32, fmt, fround, maxAbs, Rand, scoped, TINY, tolAcc, tolRel } from './helpers.js';

export type Got = Float32Array | Int32Array | number;
export interface Expected {
  ref: ArrayLike<number> | number;
  tol: ArrayLike<number> | number;
}
export interface KernelCase {
  /** The kernel or kernel pair, e.g. 'matmul_nn'; one summary line per group. */
  group: string;
  /** Exports of the module this case calls. */
  kernels: readonly KernelName[];
  /** Shape and options. */
  label: string;
  /** A backward pass (checked in gradients.test.ts). */
  backward: boolean;
  /** Run in a runtime (inside an arena scope) and return copies of every output. */
  run(rt: Runtime): Record<string, Got>;
  /** Reference value and tolerance per output (computed once). */
  expect(): Record<string, Expected>;
}

const put = (rt: Runtime, a: ArrayLike<number>): F32 => rt.arena.f32From(a);
const read = (rt: Runtime, b: F32): Float32Array => rt.arena.read(b);
const f = Math.fround;

function lazy<T>(fn: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= fn());
}

function kcase(c: Omit<KernelCase, 'expect' | 'backward'> & { backward?: boolean; expect: () => Record<string, Expected> }): KernelCase {
  return { ...c, backward: c.backward ?? false, expect: lazy(c.expect) };
}

/** Exact comparison (tolerance 0). */
const exact = (ref: ArrayLike<number> | number): Expected => ({ ref, tol: 0 });

/** Tolerance of a sum of K products whose absolute values add up to `mag`: 2·sqrt(K+2)·EPS32·mag. */
const tolDot = (mag: ArrayLike<number>, K: number) => Float64Array.from(mag, (v) => 2 * Math.sqrt(K + 2) * EPS32 * v + TINY);

// ---- matmul -------------------------------------------------------------------------------------

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

function matmulCases(r: Rand): KernelCase[] {
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

// ---- bias and activations -----------------------------------------------------------------------

function activationCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  for (const [rows, cols] of [
    [1, 1],
    [0, 5],
    [5, 0],
    [7, 13],
    [33, 129],
    [3, 1024],
  ]) {
    const x = r.f32(rows * cols, -3, 3),
      bias = r.f32(cols),
      dout = r.f32(rows * cols),
      db0 = r.f32(cols);
    out.push(
      kcase({
        group: 'biasAdd',
        kernels: ['bias_add_forward'],
        label: `rows=${rows} cols=${cols}`,
        run(rt) {
          const o = rt.arena.f32(rows * cols);
          rt.kernels.biasAdd(o, put(rt, x), put(rt, bias), rows, cols);
          return { out: read(rt, o) };
        },
        expect: () => ({ out: { ref: R.biasAdd(x, bias, rows, cols), tol: tolRel(R.biasAdd(abs(x), abs(bias), rows, cols), 1) } }),
      }),
      kcase({
        group: 'biasAddBackward',
        kernels: ['bias_add_backward'],
        label: `rows=${rows} cols=${cols}`,
        backward: true,
        run(rt) {
          const d = put(rt, db0);
          rt.kernels.biasAddBackward(d, put(rt, dout), rows, cols);
          return { dbias: read(rt, d) };
        },
        expect: () => ({ dbias: { ref: add(db0, R.biasAddBackward(dout, rows, cols)), tol: tolDot(add(abs(db0), R.biasAddBackward(abs(dout), rows, cols)), rows) } }),
      }),
    );
  }

  for (const n of [0, 1, 3, 4, 7, 8, 13, 1001]) {
    const x = r.f32(n, -4, 4);
    // exact zeros of both signs, and a few large values
    for (let i = 0; i < n; i += 5) x[i] = i % 2 ? -0 : 0;
    for (let i = 3; i < n; i += 97) x[i] = r.pick([-30, 25, -1e4, 3e4]);
    const dout = r.f32(n),
      dx0 = r.f32(n);
    const unary = (name: 'relu' | 'gelu', ref: (x: Float32Array) => Float64Array, refB: (d: Float32Array, x: Float32Array) => Float64Array, fTol: number): KernelCase[] => [
      kcase({
        group: name,
        kernels: [`${name}_forward`],
        label: `n=${n}`,
        run(rt) {
          const o = rt.arena.f32(n);
          rt.kernels[name](o, put(rt, x));
          return { out: read(rt, o) };
        },
        expect: () => ({ out: { ref: ref(x), tol: name === 'relu' ? 0 : tolRel(ref(x), fTol) } }),
      }),
      kcase({
        group: `${name}Backward`,
        kernels: [`${name}_backward`],
        label: `n=${n}`,
        backward: true,
        run(rt) {
          const d = put(rt, dx0);
          (name === 'relu' ? rt.kernels.reluBackward : rt.kernels.geluBackward).call(rt.kernels, d, put(rt, dout), put(rt, x));
          return { dx: read(rt, d) };
        },
        expect: () => {
          const ref = add(dx0, refB(dout, x));
          return { dx: { ref, tol: tolAcc(ref, dx0, 2) } };
        },
      }),
    ];
    out.push(...unary('relu', R.relu, R.reluBackward, 0), ...unary('gelu', R.gelu, R.geluBackward, 2));
  }

  let stream = 0;
  for (const n of [0, 1, 5, 1000]) {
    for (const p of [0, 0.25, 0.5, 0.9]) {
      const x = r.f32(n, -2, 2),
        seed = r.int(0, 1e6),
        s = stream++;
      out.push(
        kcase({
          group: 'dropout',
          kernels: ['dropout_forward', 'rng'],
          label: `n=${n} p=${p}`,
          run(rt) {
            const o = rt.arena.f32(n),
              mask = rt.arena.f32(n),
              state = rt.kernels.rng(seed, s);
            rt.kernels.dropout(o, mask, put(rt, x), p, state);
            return { out: read(rt, o), mask: read(rt, mask), state: rt.arena.viewI32(state).slice() };
          },
          expect() {
            const state = R.rng(seed, s);
            const mask = R.dropoutMask(n, f(p), state);
            const o = R.dropout(x, mask);
            return { out: { ref: o, tol: tolRel(o, 4) }, mask: { ref: mask, tol: tolRel(mask, 2) }, state: exact(new Int32Array(state.buffer)) };
          },
        }),
      );
    }
  }
  for (const n of [0, 1, 7, 1000]) {
    const dout = r.f32(n),
      dx0 = r.f32(n),
      mask = Float32Array.from({ length: n }, () => (r.next() < 0.3 ? 0 : f(1 / f(1 - f(0.3)))));
    out.push(
      kcase({
        group: 'dropoutBackward',
        kernels: ['dropout_backward'],
        label: `n=${n}`,
        backward: true,
        run(rt) {
          const d = put(rt, dx0);
          rt.kernels.dropoutBackward(d, put(rt, dout), put(rt, mask));
          return { dx: read(rt, d) };
        },
        expect() {
          const ref = add(dx0, R.dropoutBackward(dout, mask));
          return { dx: { ref, tol: tolAcc(ref, dx0, 2) } };
        },
      }),
    );
  }
  return out;
}

// ---- softmax and losses -------------------------------------------------------------------------

const softmaxShapes = [
  [1, 1],
  [0, 4],
  [3, 0],
  [5, 7],
  [16, 10],
  [3, 1001],
];

function softmaxCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  for (const [rows, cols] of softmaxShapes) {
    const x = r.f32(rows * cols, -8, 8),
      dy = r.f32(rows * cols),
      dx0 = r.f32(rows * cols);
    const y = fround(R.softmax(x, rows, cols)),
      ly = fround(R.logSoftmax(x, rows, cols));
    const label = `rows=${rows} cols=${cols}`;
    out.push(
      kcase({
        group: 'softmax',
        kernels: ['softmax_forward'],
        label,
        run(rt) {
          const o = rt.arena.f32(rows * cols);
          rt.kernels.softmax(o, put(rt, x), rows, cols);
          return { out: read(rt, o) };
        },
        expect: () => ({ out: { ref: R.softmax(x, rows, cols), tol: tolRel(R.softmax(x, rows, cols), 2) } }),
      }),
      kcase({
        group: 'softmaxBackward',
        kernels: ['softmax_backward'],
        label,
        backward: true,
        run(rt) {
          const d = put(rt, dx0);
          rt.kernels.softmaxBackward(d, put(rt, dy), put(rt, y), rows, cols);
          return { dx: read(rt, d) };
        },
        expect() {
          const ref = add(dx0, R.softmaxBackward(dy, y, rows, cols));
          return { dx: { ref, tol: tolAcc(ref, dx0, 2, 1e-6) } };
        },
      }),
      kcase({
        group: 'logSoftmax',
        kernels: ['log_softmax_forward'],
        label,
        run(rt) {
          const o = rt.arena.f32(rows * cols);
          rt.kernels.logSoftmax(o, put(rt, x), rows, cols);
          return { out: read(rt, o) };
        },
        expect: () => ({ out: { ref: R.logSoftmax(x, rows, cols), tol: tolRel(R.logSoftmax(x, rows, cols), 2) } }),
      }),
      kcase({
        group: 'logSoftmaxBackward',
        kernels: ['log_softmax_backward'],
        label,
        backward: true,
        run(rt) {
          const d = put(rt, dx0);
          rt.kernels.logSoftmaxBackward(d, put(rt, dy), put(rt, ly), rows, cols);
          return { dx: read(rt, d) };
        },
        expect() {
          const ref = add(dx0, R.logSoftmaxBackward(dy, ly, rows, cols));
          return { dx: { ref, tol: tolAcc(ref, dx0, 2, 1e-6) } };
        },
      }),
    );
  }

  for (const [rows, cols] of [
    [1, 1],
    [0, 3],
    [8, 10],
    [33, 7],
    [4, 1001],
  ]) {
    const logits = r.f32(rows * cols, -6, 6),
      labels = r.ints(rows, cols),
      d0 = r.f32(rows * cols),
      scale = f(r.uniform(0.2, 2));
    const probs = fround(R.softmax(logits, rows, cols));
    const label = `rows=${rows} cols=${cols}`;
    out.push(
      kcase({
        group: 'softmaxCrossEntropy',
        kernels: ['softmax_cross_entropy_forward'],
        label,
        run(rt) {
          const p = rt.arena.f32(rows * cols);
          const loss = rt.kernels.softmaxCrossEntropy(p, put(rt, logits), rt.arena.i32From(labels), rows, cols);
          return { loss, probs: read(rt, p) };
        },
        expect() {
          const ref = R.softmaxCrossEntropy(logits, labels, rows, cols);
          return { loss: { ref: ref.loss, tol: 2 * EPS32 * Math.abs(ref.loss) + 1e-12 * (1 + maxAbs(logits)) }, probs: { ref: ref.probs, tol: tolRel(ref.probs, 2) } };
        },
      }),
      kcase({
        group: 'softmaxCrossEntropyBackward',
        kernels: ['softmax_cross_entropy_backward'],
        label: `${label} scale=${scale.toFixed(3)}`,
        backward: true,
        run(rt) {
          const d = put(rt, d0);
          rt.kernels.softmaxCrossEntropyBackward(d, put(rt, probs), rt.arena.i32From(labels), rows, cols, scale);
          return { dlogits: read(rt, d) };
        },
        expect() {
          const ref = add(d0, R.softmaxCrossEntropyBackward(probs, labels, rows, cols, scale));
          return { dlogits: { ref, tol: tolAcc(ref, d0, 2) } };
        },
      }),
    );
  }
  return out;
}

/** Rows of anchor probabilities: softmax of random logits, and (if asked) some one-hot rows with exact zeros. */
function anchorProbs(r: Rand, rows: number, cols: number, oneHot: boolean): Float32Array {
  const pa = fround(R.softmax(r.f32(rows * cols, -3, 3), rows, cols));
  if (oneHot) for (let row = 0; row < rows; row += 3) for (let j = 0; j < cols; j++) pa[row * cols + j] = j === row % cols ? 1 : 0;
  return pa;
}

function divergenceCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  const eps = 1e-7,
    feps = f(eps);
  const shapes: [number, number, number, boolean][] = [
    [1, 1, 1, false],
    [0, 4, 1, false],
    [6, 10, 1, false],
    [9, 7, 2, true],
    [5, 33, 0.7, false],
    [3, 1001, 3, true],
  ];
  for (const [rows, cols, T, oneHot] of shapes) {
    const invT = f(1 / T);
    const pa = anchorProbs(r, rows, cols, oneHot),
      zm = r.f32(rows * cols, -3, 3),
      d0 = r.f32(rows * cols),
      scale = f(r.uniform(0.2, 2));
    const pm = fround(R.softmax(zm, rows, cols, invT));
    const label = `rows=${rows} cols=${cols} T=${T}${oneHot ? ' one-hot anchor rows' : ''}`;
    const clog = (p: number) => Math.abs(Math.log(Math.max(p, feps)));
    out.push(
      kcase({
        group: 'jsDivergence',
        kernels: ['js_divergence_forward'],
        label,
        run(rt) {
          const p = rt.arena.f32(rows * cols);
          const loss = rt.kernels.jsDivergence(p, put(rt, pa), put(rt, zm), rows, cols, { temperature: T, eps });
          return { loss, pm: read(rt, p) };
        },
        expect() {
          const ref = R.jsDivergence(pa, zm, rows, cols, invT, feps);
          // The kernel evaluates the loss on pm rounded to f32; bound that by the sizes of its terms.
          let mag = 0;
          for (let i = 0; i < rows * cols; i++) mag += pa[i] * clog(pa[i]) + ref.pm[i] * clog(ref.pm[i]) + (pa[i] + ref.pm[i]) * clog(0.5 * (pa[i] + ref.pm[i]));
          return { loss: { ref: ref.loss, tol: 4 * EPS32 * (Math.abs(ref.loss) + mag / Math.max(rows, 1)) + TINY }, pm: { ref: ref.pm, tol: tolRel(ref.pm, 2) } };
        },
      }),
      kcase({
        group: 'jsDivergenceBackward',
        kernels: ['js_divergence_backward'],
        label: `${label} scale=${scale.toFixed(3)}`,
        backward: true,
        run(rt) {
          const d = put(rt, d0);
          rt.kernels.jsDivergenceBackward(d, put(rt, pa), put(rt, pm), rows, cols, { temperature: T, eps, scale });
          return { dzm: read(rt, d) };
        },
        expect() {
          const ref = add(d0, R.jsDivergenceBackward(pa, pm, rows, cols, invT, feps, scale));
          return { dzm: { ref, tol: tolAcc(ref, d0, 2, 1e-6) } };
        },
      }),
      kcase({
        group: 'klDivergence',
        kernels: ['kl_divergence_forward'],
        label,
        run(rt) {
          const p = rt.arena.f32(rows * cols);
          const loss = rt.kernels.klDivergence(p, put(rt, pa), put(rt, zm), rows, cols, { temperature: T, eps });
          return { loss, pm: read(rt, p) };
        },
        expect() {
          const ref = R.klDivergence(pa, zm, rows, cols, invT, feps);
          let mag = 0;
          for (let i = 0; i < rows * cols; i++) mag += pa[i] * (clog(pa[i]) + clog(ref.pm[i]));
          return { loss: { ref: ref.loss, tol: 4 * EPS32 * (Math.abs(ref.loss) + mag / Math.max(rows, 1)) + TINY }, pm: { ref: ref.pm, tol: tolRel(ref.pm, 2) } };
        },
      }),
      kcase({
        group: 'klDivergenceBackward',
        kernels: ['kl_divergence_backward'],
        label: `${label} scale=${scale.toFixed(3)}`,
        backward: true,
        run(rt) {
          const d = put(rt, d0);
          rt.kernels.klDivergenceBackward(d, put(rt, pa), put(rt, pm), rows, cols, { temperature: T, scale });
          return { dzm: read(rt, d) };
        },
        expect() {
          const ref = add(d0, R.klDivergenceBackward(pa, pm, rows, cols, invT, scale));
          return { dzm: { ref, tol: tolAcc(ref, d0, 2, 1e-6) } };
        },
      }),
      kcase({
        group: 'entropy',
        kernels: ['entropy'],
        label,
        run: (rt) => ({ entropy: rt.kernels.entropy(put(rt, pa), rows, cols, eps) }),
        expect() {
          const ref = R.entropy(pa, rows, cols, feps);
          let mag = 0;
          for (let i = 0; i < rows * cols; i++) mag += pa[i] * clog(pa[i]);
          return { entropy: { ref, tol: 2 * EPS32 * (Math.abs(ref) + mag / Math.max(rows, 1)) + TINY } };
        },
      }),
    );
  }
  return out;
}

// ---- standardize and cross-correlation ----------------------------------------------------------

function xcorrCases(r: Rand): KernelCase[] {
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

// ---- convolution and pooling --------------------------------------------------------------------

const convShapes: ConvShape[] = [
  { batch: 2, h: 5, w: 6, c: 3, outChannels: 4, kh: 3, kw: 3, stride: 1, pad: 1 },
  { batch: 1, h: 7, w: 5, c: 2, outChannels: 5, kh: 2, kw: 3, stride: 2, pad: 0 },
  { batch: 3, h: 4, w: 4, c: 1, outChannels: 1, kh: 1, kw: 1 },
  { batch: 2, h: 9, w: 9, c: 5, outChannels: 9, kh: 5, kw: 5, stride: 3, pad: 2 },
  { batch: 1, h: 1, w: 1, c: 1, outChannels: 1, kh: 1, kw: 1 },
  { batch: 0, h: 4, w: 4, c: 2, outChannels: 3, kh: 3, kw: 3, pad: 1 },
  { batch: 2, h: 12, w: 10, c: 3, outChannels: 8, kh: 3, kw: 3, stride: 1, pad: 0 },
];

export function convGeometry(s: ConvShape): { ho: number; wo: number; rows: number; kk: number } {
  const stride = s.stride ?? 1,
    pad = s.pad ?? 0;
  const ho = Math.floor((s.h + 2 * pad - s.kh) / stride) + 1,
    wo = Math.floor((s.w + 2 * pad - s.kw) / stride) + 1;
  return { ho, wo, rows: s.batch * ho * wo, kk: s.kh * s.kw * s.c };
}

const shapeLabel = (s: object) =>
  Object.entries(s)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

function convCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  convShapes.forEach((s, si) => {
    const { rows, kk } = convGeometry(s);
    const oc = s.outChannels;
    const x = r.f32(s.batch * s.h * s.w * s.c),
      w = r.f32(kk * oc),
      bias = si % 2 === 0 ? r.f32(oc) : null;
    const dout = r.f32(rows * oc),
      dx0 = r.f32(x.length),
      dw0 = r.f32(w.length),
      db0 = r.f32(oc);
    const withDx = si !== 2;
    out.push(
      kcase({
        group: 'conv2d (im2col, matmul nn)',
        kernels: ['im2col', 'matmul_nn'],
        label: `${shapeLabel(s)}${bias ? ' +bias' : ''}`,
        run(rt) {
          const o = rt.arena.f32(rows * oc),
            col = rt.arena.f32(rows * kk);
          rt.kernels.conv2d(o, put(rt, x), put(rt, w), bias ? put(rt, bias) : null, col, s);
          return { out: read(rt, o), col: read(rt, col) };
        },
        expect: () => ({
          out: { ref: R.conv2d(x, w, bias, s), tol: tolDot(R.conv2d(abs(x), abs(w), bias && abs(bias), s), kk) },
          col: exact(R.im2col(x, s)),
        }),
      }),
      kcase({
        group: 'conv2dBackward (matmul tn, matmul nt, col2im)',
        kernels: ['im2col', 'matmul_tn', 'matmul_nt', 'col2im', 'bias_add_backward'],
        label: `${shapeLabel(s)}${withDx ? '' : ' (no dx)'}`,
        backward: true,
        run(rt) {
          const K = rt.kernels;
          const xb = put(rt, x),
            wb = put(rt, w);
          const col = rt.arena.f32(rows * kk),
            dcol = rt.arena.f32(rows * kk);
          K.conv2d(rt.arena.f32(rows * oc), xb, wb, null, col, s); // fills col
          const dx = put(rt, dx0),
            dw = put(rt, dw0),
            db = put(rt, db0);
          K.conv2dBackward(withDx ? dx : null, dw, db, put(rt, dout), col, wb, dcol, s);
          return { dx: read(rt, dx), dw: read(rt, dw), dbias: read(rt, db) };
        },
        expect() {
          const g = R.conv2dBackward(dout, x, w, s);
          const mag = R.conv2dBackward(abs(dout), abs(x), abs(w), s);
          return {
            dx: withDx ? { ref: add(dx0, g.dx), tol: tolDot(add(abs(dx0), mag.dx), oc + s.kh * s.kw) } : exact(dx0),
            dw: { ref: add(dw0, g.dw), tol: tolDot(add(abs(dw0), mag.dw), rows) },
            dbias: { ref: add(db0, g.dbias), tol: tolDot(add(abs(db0), mag.dbias), rows) },
          };
        },
      }),
    );
  });

  const poolShapes: PoolShape[] = [
    { batch: 2, h: 6, w: 6, c: 3, k: 2 },
    { batch: 1, h: 7, w: 5, c: 2, k: 3, stride: 2 },
    { batch: 1, h: 5, w: 5, c: 4, k: 2, stride: 1 },
    { batch: 3, h: 9, w: 8, c: 5, k: 3 },
    { batch: 0, h: 4, w: 4, c: 2, k: 2 },
    { batch: 1, h: 1, w: 1, c: 1, k: 1 },
  ];
  for (const s of poolShapes) {
    const stride = s.stride ?? s.k;
    const ho = Math.floor((s.h - s.k) / stride) + 1,
      wo = Math.floor((s.w - s.k) / stride) + 1;
    const n = s.batch * ho * wo * s.c;
    // values on a grid of 1/4, so windows often hold ties: the first maximum in (ky, kx) order must win
    const x = Float32Array.from({ length: s.batch * s.h * s.w * s.c }, () => r.int(-4, 4) / 4);
    const dout = r.f32(n),
      dx0 = r.f32(x.length);
    out.push(
      kcase({
        group: 'maxPool',
        kernels: ['max_pool_forward'],
        label: shapeLabel(s),
        run(rt) {
          const o = rt.arena.f32(n),
            am = rt.arena.i32(n);
          rt.kernels.maxPool(o, am, put(rt, x), s);
          return { out: read(rt, o), argmax: rt.arena.viewI32(am).slice() };
        },
        expect() {
          const ref = R.maxPool(x, s);
          return { out: exact(ref.out), argmax: exact(ref.argmax) };
        },
      }),
      kcase({
        group: 'maxPoolBackward',
        kernels: ['max_pool_forward', 'max_pool_backward'],
        label: shapeLabel(s),
        backward: true,
        run(rt) {
          const am = rt.arena.i32(n),
            dx = put(rt, dx0);
          rt.kernels.maxPool(rt.arena.f32(n), am, put(rt, x), s);
          rt.kernels.maxPoolBackward(dx, put(rt, dout), am);
          return { dx: read(rt, dx) };
        },
        expect() {
          const ref = add(dx0, R.maxPoolBackward(dout, x, s));
          const mag = add(abs(dx0), R.maxPoolBackward(abs(dout), x, s));
          return { dx: { ref, tol: Float64Array.from(mag, (v) => 2 * (s.k * s.k + 1) * EPS32 * v) } };
        },
      }),
    );
  }
  return out;
}

// ---- flat vectors and optimisers ----------------------------------------------------------------

function vectorCases(r: Rand): KernelCase[] {
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

function optimiserCases(r: Rand): KernelCase[] {
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

// ---- random numbers -----------------------------------------------------------------------------

function rngCases(r: Rand): KernelCase[] {
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

// ---- audio ---------------------------------------------------------------------------------------

function audioCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  for (const [len, nfft, hop] of [
    [1, 2, 1],
    [16, 16, 4],
    [100, 32, 10],
    [700, 256, 80],
    [37, 64, 80],
  ]) {
    const signal = r.f32(len, -1, 1);
    out.push(
      kcase({
        group: 'stftPower',
        kernels: ['stft_power'],
        label: `len=${len} nfft=${nfft} hop=${hop}`,
        run(rt) {
          const frames = len <= nfft ? 1 : 1 + Math.ceil((len - nfft) / hop);
          const o = rt.arena.f32(frames * (nfft / 2 + 1));
          rt.kernels.stftPower(o, put(rt, signal), nfft, hop);
          return { out: read(rt, o) };
        },
        expect() {
          const { out: ref } = R.stftPower(signal, nfft, hop);
          // f64 inside the kernel, one f32 rounding at the end; near-zero bins get an absolute floor
          // proportional to the frame's energy (the FFT's and the direct DFT's own rounding).
          let energy = 0;
          for (const v of signal) energy += v * v;
          return { out: { ref, tol: Float64Array.from(ref, (v) => 2 * EPS32 * v + 1e-12 * nfft * energy + TINY) } };
        },
      }),
    );
  }
  for (const n of [0, 1, 5, 64]) {
    const x = Float32Array.from(r.f32(n, -1, 3), (v, i) => (i % 5 === 0 ? 0 : Math.abs(v) ** 3));
    const eps = 1e-6;
    out.push(
      kcase({
        group: 'logEps',
        kernels: ['log_eps'],
        label: `n=${n}`,
        run(rt) {
          const o = rt.arena.f32(n);
          rt.kernels.logEps(o, put(rt, x), eps);
          return { out: read(rt, o) };
        },
        expect() {
          const ref = R.logEps(x, f(eps));
          return { out: { ref, tol: Float64Array.from(ref, (v) => EPS32 * Math.abs(v) + TINY) } };
        },
      }),
    );
  }
  return out;
}

function gatherCases(r: Rand): KernelCase[] {
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

/** Every case, from one seed: the same list in every test file. */
export function kernelCases(seed = 20240607): KernelCase[] {
  const r = new Rand(seed);
  return [...matmulCases(r), ...activationCases(r), ...softmaxCases(r), ...divergenceCases(r), ...xcorrCases(r), ...convCases(r), ...vectorCases(r), ...optimiserCases(r), ...rngCases(r), ...audioCases(r), ...gatherCases(r)];
}

/** Cases grouped by `group`, in first-seen order. */
export function groupCases(cases: KernelCase[]): Map<string, KernelCase[]> {
  const m = new Map<string, KernelCase[]>();
  for (const c of cases) {
    if (!m.has(c.group)) m.set(c.group, []);
    m.get(c.group)!.push(c);
  }
  return m;
}

/** Run every case of a group in `rt`, compare each output with the reference, log the largest error and the worst error/tolerance, and assert. */
export function checkGroup(rt: Runtime, group: string, list: KernelCase[]): void {
  let worst: { c: Comparison; where: string } | null = null;
  let largest: { c: Comparison; where: string } | null = null;
  const failures: string[] = [];
  for (const kc of list) {
    const got = scoped(rt, () => kc.run(rt));
    const exp = kc.expect();
    for (const [name, e] of Object.entries(exp)) {
      const g = got[name];
      if (g === undefined) throw new Error(`${group} ${kc.label}: the case returned no output "${name}"`);
      const c = compare(g, e.ref, e.tol);
      const where = `[${kc.label}] ${name}`;
      if (c.at >= 0 && (!worst || c.worst > worst.c.worst)) worst = { c, where };
      if (c.at >= 0 && (!largest || c.maxErr > largest.c.maxErr)) largest = { c, where };
      if (!(c.worst <= 1)) failures.push(describeComparison(`${group} ${where}`, c));
    }
  }
  if (worst && largest) {
    console.log(
      `[${rt.info.build}] ${group}, ${list.length} cases: largest |err| ${fmt(largest.c.maxErr)} (tol there ${fmt(largest.c.tolAtMaxErr)}) in ${largest.where}; ` +
        `worst err/tol ${fmt(worst.c.worst)} in ${worst.where} (got ${worst.c.got}, ref ${worst.c.ref}, tol ${fmt(worst.c.tol)})`,
    );
  }
  expect(failures, failures.join('\n')).toEqual([]);
}
