/**
 * Wrappers of matmul (assembly/matmul.ts): shape checks, the aliasing contract, one export call each.
 * Composed into the one `Kernels` class by ../ops.ts; conventions there.
 */
import type { F32, I32 } from '../../runtime/arena.js';
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
}
