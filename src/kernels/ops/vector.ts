/**
 * Wrappers of flat vectors and the batch gather (assembly/vector.ts): shape checks, the aliasing contract, one export call each.
 * Composed into the one `Kernels` class by ../ops.ts; conventions there.
 */
import type { F32, I32 } from '../../runtime/arena.js';
import { ShapeError } from '../../errors.js';
import { KernelBase } from './base.js';

export class VectorOps extends KernelBase {
  /** Σ x·y. Aliasing: writes nothing (x may be y). */
  dot(x: F32, y: F32): number {
    const n = this.same('dot', 'x and y', x, y);
    return this.raw.dot(this.buf('dot', 'x', x, n), this.buf('dot', 'y', y, n), n) as number;
  }
  /** Σ x². Aliasing: writes nothing. */
  sumsq(x: F32): number {
    return this.raw.sumsq(this.buf('sumsq', 'x', x, x.length), x.length) as number;
  }
  /** y += a·x. Aliasing: y may be x itself (element-wise: y = (1 + a)·y). */
  axpy(y: F32, x: F32, a: number): void {
    const n = this.same('axpy', 'y and x', y, x);
    const v = this.argv.axpy; // y x n a
    v[0] = this.buf('axpy', 'y', y, n);
    v[1] = this.buf('axpy', 'x', x, n);
    this.inPlace('axpy', 'y', y, 'x', x);
    v[2] = n;
    v[3] = this.finite('axpy', 'a', a);
    this.elementwise('axpy', v, 2);
  }
  /** x *= a. Aliasing: one buffer, updated in place. */
  scale(x: F32, a: number): void {
    const v = this.argv.scale; // x n a
    v[0] = this.buf('scale', 'x', x, x.length);
    v[1] = x.length;
    v[2] = this.finite('scale', 'a', a);
    this.elementwise('scale', v, 1);
  }
  /** x = value. Aliasing: one buffer. */
  fill(x: F32, value: number): void {
    const v = this.argv.fill; // x n v
    v[0] = this.buf('fill', 'x', x, x.length);
    v[1] = x.length;
    v[2] = value;
    this.elementwise('fill', v, 1);
  }
  /**
   * dst = src. Aliasing: dst may be src itself (a no-op); a partial overlap is rejected: split over
   * the pool, one thread would overwrite source elements another has yet to read.
   */
  copy(dst: F32, src: F32): void {
    const n = this.same('copy', 'dst and src', dst, src);
    const v = this.argv.copy; // dst src n
    v[0] = this.buf('copy', 'dst', dst, n);
    v[1] = this.buf('copy', 'src', src, n);
    this.inPlace('copy', 'dst', dst, 'src', src);
    v[2] = n;
    this.elementwise('copy', v, 2);
  }

  /**
   * out (n, dim) = rows idx[i] of src (rows, dim): the batch gather, entirely in WebAssembly.
   * Aliasing: out must not overlap src (a row may be read after it is overwritten, by this or another
   * thread) nor idx (its checked indices could change under the writes).
   */
  gatherRows(out: F32, src: F32, idx: I32, n: number, dim: number): void {
    const op = 'gatherRows';
    this.size(op, 'n', n);
    this.size(op, 'dim', dim);
    if (dim === 0 || src.length % dim !== 0) throw new ShapeError(`${op}: src has ${src.length} elements, not a whole number of rows of ${dim}`);
    const rows = src.length / dim;
    const ip = this.ibuf(op, 'idx', idx, n, 'n', n);
    const iv = this.arena.heapI32,
      at = ip >> 2;
    for (let i = 0; i < n; i++) if (!(iv[at + i] >= 0 && iv[at + i] < rows)) throw new RangeError(`${op}: idx[${i}] = ${iv[at + i]} is outside the ${rows} rows of src`);
    const v = this.argv.gather_rows; // out src idx n dim r0 r1
    v[0] = this.buf(op, 'out', out, n * dim, 'n×dim', n, dim);
    v[1] = this.buf(op, 'src', src, src.length);
    v[2] = ip;
    this.apart(op, 'out', out, 'src', src);
    this.apart(op, 'out', out, 'idx', idx);
    v[3] = n;
    v[4] = dim;
    // Rows are copied from scattered places (memory latency bound): worth splitting like im2col.
    this.split('gather_rows', v, 5, n, 1, n * dim * 8, -1);
  }
}
