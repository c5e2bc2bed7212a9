/**
 * Wrappers of the bias add and the activations (assembly/activations.ts): shape checks, the aliasing contract, one export call each.
 * Composed into the one `Kernels` class by ../ops.ts; conventions there.
 */
import type { F32, I32 } from '../../runtime/arena.js';
import { KernelBase } from './base.js';

export class ActivationOps extends KernelBase {
  /** out (rows,cols) = x + bias (cols). Aliasing: out may be x itself (element-wise); out must not overlap bias. */
  biasAdd(out: F32, x: F32, bias: F32, rows: number, cols: number): void {
    const op = 'biasAdd';
    this.rowsCols(op, rows, cols);
    const o = this.rc(op, 'out', out, rows, cols),
      i = this.rc(op, 'x', x, rows, cols),
      b = this.buf(op, 'bias', bias, cols, 'cols', cols);
    this.inPlace(op, 'out', out, 'x', x);
    this.apart(op, 'out', out, 'bias', bias);
    this.raw.bias_add_forward(o, i, b, rows, cols);
  }
  /** dbias (cols) += column sums of dout (rows,cols). Aliasing: dbias must not overlap dout (a row of dout under dbias would be read after rows were added into it). */
  biasAddBackward(dbias: F32, dout: F32, rows: number, cols: number): void {
    const op = 'biasAddBackward';
    this.rowsCols(op, rows, cols);
    const d = this.buf(op, 'dbias', dbias, cols, 'cols', cols),
      g = this.rc(op, 'dout', dout, rows, cols);
    this.apart(op, 'dbias', dbias, 'dout', dout);
    this.raw.bias_add_backward(d, g, rows, cols);
  }

  /** out = max(x, 0). Aliasing: out may be x itself (element-wise). */
  relu(out: F32, x: F32): void {
    const n = this.same('relu', 'out and x', out, x);
    const v = this.argv.relu_forward; // out x n
    v[0] = this.buf('relu', 'out', out, n);
    v[1] = this.buf('relu', 'x', x, n);
    v[2] = n;
    this.inPlace('relu', 'out', out, 'x', x);
    this.elementwise('relu_forward', v, 2);
  }
  /** dx += dout where x > 0. Aliasing: dx may be dout or x itself (element-wise). */
  reluBackward(dx: F32, dout: F32, x: F32): void {
    const n = this.same('reluBackward', 'dx, dout and x', dx, dout, x);
    const v = this.argv.relu_backward; // dx dout x n
    v[0] = this.buf('reluBackward', 'dx', dx, n);
    v[1] = this.buf('reluBackward', 'dout', dout, n);
    v[2] = this.buf('reluBackward', 'x', x, n);
    v[3] = n;
    this.inPlace('reluBackward', 'dx', dx, 'dout', dout);
    this.inPlace('reluBackward', 'dx', dx, 'x', x);
    this.elementwise('relu_backward', v, 3);
  }

  /** out = gelu(x), tanh approximation. Aliasing: out may be x itself (element-wise). */
  gelu(out: F32, x: F32): void {
    const n = this.same('gelu', 'out and x', out, x);
    const v = this.argv.gelu_forward; // out x n
    v[0] = this.buf('gelu', 'out', out, n);
    v[1] = this.buf('gelu', 'x', x, n);
    v[2] = n;
    this.inPlace('gelu', 'out', out, 'x', x);
    this.elementwise('gelu_forward', v, 2);
  }
  /** dx += dout · gelu'(x). Aliasing: dx may be dout or x itself (element-wise). */
  geluBackward(dx: F32, dout: F32, x: F32): void {
    const n = this.same('geluBackward', 'dx, dout and x', dx, dout, x);
    const v = this.argv.gelu_backward; // dx dout x n
    v[0] = this.buf('geluBackward', 'dx', dx, n);
    v[1] = this.buf('geluBackward', 'dout', dout, n);
    v[2] = this.buf('geluBackward', 'x', x, n);
    v[3] = n;
    this.inPlace('geluBackward', 'dx', dx, 'dout', dout);
    this.inPlace('geluBackward', 'dx', dx, 'x', x);
    this.elementwise('gelu_backward', v, 3);
  }

  /**
   * Inverted dropout with drop probability p in [0, 1); mask is kept for the backward pass.
   * Aliasing: out may be x itself (element-wise); mask must not overlap x (mask[i] is stored before
   * x[i] is read), and out, mask and the generator state rng are all written, so none overlaps another.
   */
  dropout(out: F32, mask: F32, x: F32, p: number, rng: I32): void {
    const op = 'dropout';
    const n = this.same(op, 'out, mask and x', out, mask, x);
    if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
    const o = this.buf(op, 'out', out, n),
      m = this.buf(op, 'mask', mask, n),
      i = this.buf(op, 'x', x, n),
      s = this.ibuf(op, 'rng', rng, 4);
    this.inPlace(op, 'out', out, 'x', x);
    this.apart(op, 'mask', mask, 'x', x);
    this.apart(op, 'rng', rng, 'x', x);
    this.distinct(op, 'out', out, 'mask', mask);
    this.distinct(op, 'out', out, 'rng', rng);
    this.distinct(op, 'mask', mask, 'rng', rng);
    this.raw.dropout_forward(o, m, i, n, p, s);
  }
  /** dx += dout · mask. Aliasing: dx may be dout or mask itself (element-wise). */
  dropoutBackward(dx: F32, dout: F32, mask: F32): void {
    const op = 'dropoutBackward';
    const n = this.same(op, 'dx, dout and mask', dx, dout, mask);
    const d = this.buf(op, 'dx', dx, n),
      g = this.buf(op, 'dout', dout, n),
      m = this.buf(op, 'mask', mask, n);
    this.inPlace(op, 'dx', dx, 'dout', dout);
    this.inPlace(op, 'dx', dx, 'mask', mask);
    this.raw.dropout_backward(d, g, m, n);
  }
}
