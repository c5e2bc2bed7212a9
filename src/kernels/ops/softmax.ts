/**
 * Wrappers of softmax and cross-entropy (assembly/softmax.ts): shape checks, the aliasing contract, one export call each.
 * Composed into the one `Kernels` class by ../ops.ts; conventions there.
 */
import type { F32, I32 } from '../../runtime/arena.js';
import { KernelBase } from './base.js';

export class SoftmaxOps extends KernelBase {

  /**
   * out (rows,cols) = softmax of x along cols.
   * Aliasing: out must not overlap x (a row's exponentials are stored into out, then x is read again).
   */
  softmax(out: F32, x: F32, rows: number, cols: number): void {
    this.rowsCols('softmax', rows, cols);
    const o = this.rc('softmax', 'out', out, rows, cols),
      i = this.rc('softmax', 'x', x, rows, cols);
    this.apart('softmax', 'out', out, 'x', x);
    this.raw.softmax_forward(o, i, rows, cols);
  }
  /** dx += y ⊙ (dy − Σ dy·y) per row, y the forward output. Aliasing: dx may be dy or y itself (a row's sum is taken before the row is written). */
  softmaxBackward(dx: F32, dy: F32, y: F32, rows: number, cols: number): void {
    this.rowsCols('softmaxBackward', rows, cols);
    const a = this.rc('softmaxBackward', 'dx', dx, rows, cols),
      b = this.rc('softmaxBackward', 'dy', dy, rows, cols),
      c = this.rc('softmaxBackward', 'y', y, rows, cols);
    this.inPlace('softmaxBackward', 'dx', dx, 'dy', dy);
    this.inPlace('softmaxBackward', 'dx', dx, 'y', y);
    this.raw.softmax_backward(a, b, c, rows, cols);
  }
  /** out (rows,cols) = x − logΣexp(x) per row. Aliasing: out may be x itself (a row's max and sum are taken before the row is written). */
  logSoftmax(out: F32, x: F32, rows: number, cols: number): void {
    this.rowsCols('logSoftmax', rows, cols);
    const o = this.rc('logSoftmax', 'out', out, rows, cols),
      i = this.rc('logSoftmax', 'x', x, rows, cols);
    this.inPlace('logSoftmax', 'out', out, 'x', x);
    this.raw.log_softmax_forward(o, i, rows, cols);
  }
  /** dx += dy − softmax(y)·Σ dy per row, y the forward output. Aliasing: dx may be dy or y itself (as softmaxBackward). */
  logSoftmaxBackward(dx: F32, dy: F32, y: F32, rows: number, cols: number): void {
    this.rowsCols('logSoftmaxBackward', rows, cols);
    const a = this.rc('logSoftmaxBackward', 'dx', dx, rows, cols),
      b = this.rc('logSoftmaxBackward', 'dy', dy, rows, cols),
      c = this.rc('logSoftmaxBackward', 'y', y, rows, cols);
    this.inPlace('logSoftmaxBackward', 'dx', dx, 'dy', dy);
    this.inPlace('logSoftmaxBackward', 'dx', dx, 'y', y);
    this.raw.log_softmax_backward(a, b, c, rows, cols);
  }

  protected labels(op: string, labels: I32, rows: number, cols: number): number {
    const p = this.ibuf(op, 'labels', labels, rows, 'rows', rows);
    const v = this.arena.heapI32,
      at = p >> 2;
    for (let r = 0; r < rows; r++) {
      const label = v[at + r];
      if (!(label >= 0 && label < cols)) throw new RangeError(`${op}: label ${label} in row ${r} is outside [0, ${cols})`);
    }
    return p;
  }

  /**
   * probs = softmax(logits); returns the mean cross-entropy over rows.
   * Aliasing: probs must not overlap logits (the label's logit is read after the row of probs is
   * stored) nor labels (later rows' labels would be read after probs is written).
   */
  softmaxCrossEntropy(probs: F32, logits: F32, labels: I32, rows: number, cols: number): number {
    const op = 'softmaxCrossEntropy';
    this.rowsCols(op, rows, cols);
    const p = this.rc(op, 'probs', probs, rows, cols),
      z = this.rc(op, 'logits', logits, rows, cols),
      y = this.labels(op, labels, rows, cols);
    this.apart(op, 'probs', probs, 'logits', logits);
    this.apart(op, 'probs', probs, 'labels', labels);
    return this.raw.softmax_cross_entropy_forward(p, z, y, rows, cols) as number;
  }
  /** dlogits += scale · (probs − onehot) / rows. Aliasing: dlogits may be probs itself (element-wise); it must not overlap labels. */
  softmaxCrossEntropyBackward(dlogits: F32, probs: F32, labels: I32, rows: number, cols: number, scale = 1): void {
    const op = 'softmaxCrossEntropyBackward';
    this.rowsCols(op, rows, cols);
    const d = this.rc(op, 'dlogits', dlogits, rows, cols),
      p = this.rc(op, 'probs', probs, rows, cols),
      y = this.labels(op, labels, rows, cols);
    this.inPlace(op, 'dlogits', dlogits, 'probs', probs);
    this.apart(op, 'dlogits', dlogits, 'labels', labels);
    this.raw.softmax_cross_entropy_backward(d, p, y, rows, cols, this.finite(op, 'scale', scale));
  }
}
