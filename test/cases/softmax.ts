// Kernel cases of softmax and cross-entropy (assembly/softmax.ts, src/kernels/reference/softmax.ts); the table's conventions are in ./case.ts.
import * as R from '../../src/kernels/reference/index.js';
import { add, EPS32, fround, maxAbs, Rand, tolAcc, tolRel } from '../helpers.js';
import { put, read, f, kcase, exact, type KernelCase } from './case.js';

const softmaxShapes = [
  [1, 1],
  [0, 4],
  [3, 0],
  [5, 7],
  [16, 10],
  [3, 1001],
];

export function softmaxCases(r: Rand): KernelCase[] {
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
