/**
 * Wrappers of matmul (assembly/matmul.ts): shape checks, the aliasing contract, one export call each.
 * Composed into the one `Kernels` class by ../ops.ts; conventions there.
 */
import type { F32, I32 } from '../../runtime/arena.js';
import type { Kernels } from '../ops.js';
import type { KernelName } from '../spec.js';
import type { MatmulOptions } from './shapes.js';
import { KernelBase } from './base.js';

export class MatmulOps extends KernelBase {
  /**
   * C (m,n) = (accumulate ? C : 0) + bias + op(A)·op(B); see MatmulOptions for the layouts.
   * Aliasing: C must not overlap A, B or bias (C is written tile by tile while they are still read).
   */
  matmul(c: F32, a: F32, b: F32, o: MatmulOptions): void {
    const op = 'matmul';
    const layout = o.layout ?? 'nn';
    const name: KernelName | null = layout === 'nn' ? 'matmul_nn' : layout === 'nt' ? 'matmul_nt' : layout === 'tn' ? 'matmul_tn' : null;
    if (name === null) throw new TypeError(`matmul: layout must be 'nn', 'nt' or 'tn', got ${String(layout)}`);
    const m = this.size(op, 'm', o.m),
      n = this.size(op, 'n', o.n),
      k = this.size(op, 'k', o.k);
    const v = this.argv[name]; // c a b bias m n k accumulate scratch r0 r1 c0 c1
    v[0] = this.buf(op, 'C', c, m * n, 'm×n', m, n);
    v[1] = layout === 'tn' ? this.buf(op, 'A', a, m * k, 'k×m', k, m) : this.buf(op, 'A', a, m * k, 'm×k', m, k);
    v[2] = layout === 'nt' ? this.buf(op, 'B', b, k * n, 'n×k', n, k) : this.buf(op, 'B', b, k * n, 'k×n', k, n);
    v[3] = o.bias ? this.buf(op, 'bias', o.bias, n, 'n') : 0;
    this.apart(op, 'C', c, 'A', a);
    this.apart(op, 'C', c, 'B', b);
    this.apart(op, 'C', c, 'bias', o.bias);
    v[4] = m;
    v[5] = n;
    v[6] = k;
    v[7] = o.accumulate ? 1 : 0;
    // Split the rows; or, when A is the smaller operand (m < n), the columns, so that each thread
    // packs (or, for m <= 64, reads) only its own columns of B, and all of A, rather than all of B.
    if (m < n) {
      v[9] = 0;
      v[10] = m;
      this.split(name, v, 11, n, 8, m * n * k, 8);
    } else {
      v[11] = 0;
      v[12] = n;
      this.split(name, v, 9, m, 4, m * n * k, 8);
    }
  }

  /**
   * The backward of a dense layer y (rows,out) = x (rows,in)·w (in,out) + bias (out), as the layers
   * run it: dw (in,out) += xᵀ·dy, then dbias (out) += Σ_rows dy (skipped when dbias is null), then
   * dx (rows,in) = dy·wᵀ (overwritten, not accumulated: a layer's input gradient is fresh; skipped
   * when dx is null). Three kernel calls in that order (matmul tn, bias add backward, matmul nt), so
   * the bits are those of the calls written out; threads as matmul.
   * Aliasing: dx, dw and dbias overlap nothing: not each other, nor dy, x or w (dx = x would be
   * correct today only because dw is computed first).
   */
  linearBackward(this: Kernels, dx: F32 | null, dw: F32, dbias: F32 | null, dy: F32, x: F32, w: F32, rows: number, inFeatures: number, outFeatures: number): void {
    const op = 'linearBackward';
    this.size(op, 'rows', rows);
    this.size(op, 'inFeatures', inFeatures);
    this.size(op, 'outFeatures', outFeatures);
    this.buf(op, 'dy', dy, rows * outFeatures, 'rows×outFeatures', rows, outFeatures);
    this.buf(op, 'x', x, rows * inFeatures, 'rows×inFeatures', rows, inFeatures);
    this.buf(op, 'w', w, inFeatures * outFeatures, 'inFeatures×outFeatures', inFeatures, outFeatures);
    this.buf(op, 'dw', dw, inFeatures * outFeatures, 'inFeatures×outFeatures', inFeatures, outFeatures);
    if (dbias) this.buf(op, 'dbias', dbias, outFeatures, 'outFeatures', outFeatures);
    if (dx) this.buf(op, 'dx', dx, rows * inFeatures, 'rows×inFeatures', rows, inFeatures);
    for (let i = 0; i < 3; i++) {
      const wn = i === 0 ? 'dx' : i === 1 ? 'dw' : 'dbias';
      const wb = i === 0 ? dx : i === 1 ? dw : dbias;
      this.apart(op, wn, wb, 'dy', dy);
      this.apart(op, wn, wb, 'x', x);
      this.apart(op, wn, wb, 'w', w);
    }
    this.distinct(op, 'dx', dx, 'dw', dw);
    this.distinct(op, 'dx', dx, 'dbias', dbias);
    this.distinct(op, 'dw', dw, 'dbias', dbias);
    const o = this.cm;
    o.bias = undefined;
    o.m = inFeatures;
    o.n = outFeatures;
    o.k = rows;
    o.layout = 'tn';
    o.accumulate = true;
    this.matmul(dw, x, dy, o);
    if (dbias) this.biasAddBackward(dbias, dy, rows, outFeatures);
    if (!dx) return;
    o.m = rows;
    o.n = inFeatures;
    o.k = outFeatures;
    o.layout = 'nt';
    o.accumulate = false;
    this.matmul(dx, dy, w, o);
  }
}
