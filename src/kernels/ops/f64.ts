/**
 * Wrappers of the f64 family (assembly/f64.ts): kernels that reproduce the training layer's float64
 * JavaScript arithmetic bit for bit (f64 inside, sequential sums, one rounding per stored f32).
 * Single-threaded: never split over the pool. Composed into `Kernels` by ../ops.ts; conventions there.
 */
import type { F32, I32 } from '../../runtime/arena.js';
import { KernelBase } from './base.js';

export class F64Ops extends KernelBase {
  /**
   * h (n,d) = f / (sqrt(Σ_j f²) + 1e-12) per row: DI-MML's row normalisation (sums in f64, in order).
   * Aliasing: h may be f itself (a row's norm is taken before the row is written).
   */
  rowNormalize(h: F32, f: F32, n: number, d: number): void {
    const op = 'rowNormalize';
    this.size(op, 'n', n);
    this.size(op, 'd', d);
    const hp = this.buf(op, 'h', h, n * d, 'n×d', n, d),
      fp = this.buf(op, 'f', f, n * d, 'n×d', n, d);
    this.inPlace(op, 'h', h, 'f', f);
    this.raw.row_normalize_forward(hp, fp, n, d);
  }
  /**
   * df (n,d) += (dh − h·(h·dh)) / (|f| + 1e-12) per row, h = rowNormalize(f); the norm is recomputed
   * from f exactly as the forward computes it (no saved state).
   * Aliasing: df overlaps nothing (not dh, h nor f: they are read after df's earlier rows are written).
   */
  rowNormalizeBackward(df: F32, dh: F32, h: F32, f: F32, n: number, d: number): void {
    const op = 'rowNormalizeBackward';
    this.size(op, 'n', n);
    this.size(op, 'd', d);
    const a = this.buf(op, 'df', df, n * d, 'n×d', n, d),
      b = this.buf(op, 'dh', dh, n * d, 'n×d', n, d),
      c = this.buf(op, 'h', h, n * d, 'n×d', n, d),
      e = this.buf(op, 'f', f, n * d, 'n×d', n, d);
    this.apart(op, 'df', df, 'dh', dh);
    this.apart(op, 'df', df, 'h', h);
    this.apart(op, 'df', df, 'f', f);
    this.raw.row_normalize_backward(a, b, c, e, n, d);
  }
  /** Sample standard deviation of x in f64: sqrt(Σ(x − mean)² / (n − 1)), 0 when n < 2 (OGM-GE's per-tensor statistic). Aliasing: writes nothing. */
  sampleStd(x: F32): number {
    return this.raw.sample_std(this.buf('sampleStd', 'x', x, x.length), x.length) as number;
  }
  /** Σ_r p[r, labels[r]] in f64, p (rows,cols) probabilities (OGM-GE's score). Aliasing: writes nothing. */
  labelProbSum(p: F32, labels: I32, rows: number, cols: number): number {
    const op = 'labelProbSum';
    this.rowsCols(op, rows, cols);
    const pp = this.rc(op, 'p', p, rows, cols),
      y = this.ibuf(op, 'labels', labels, rows, 'rows', rows);
    const v = this.arena.heapI32,
      at = y >> 2;
    for (let r = 0; r < rows; r++) if (!(v[at + r] >= 0 && v[at + r] < cols)) throw new RangeError(`${op}: label ${v[at + r]} in row ${r} is outside [0, ${cols})`);
    return this.raw.label_prob_sum(pp, y, rows, cols) as number;
  }
  /**
   * out (rows,cols) += bias (cols) / divisor, the division and the sum in f64, rounded once (the joint
   * head's per-modality block logits: bias / M). divisor is a whole number >= 1.
   * Aliasing: out must not overlap bias.
   */
  biasAddScaled(out: F32, bias: F32, rows: number, cols: number, divisor: number): void {
    const op = 'biasAddScaled';
    this.rowsCols(op, rows, cols);
    if (!(Number.isInteger(divisor) && divisor >= 1 && divisor <= 0x7fffffff)) throw new RangeError(`${op}: divisor must be a whole number >= 1, got ${divisor}`);
    const o = this.rc(op, 'out', out, rows, cols),
      b = this.buf(op, 'bias', bias, cols, 'cols', cols);
    this.apart(op, 'out', out, 'bias', bias);
    this.raw.bias_add_scaled(o, b, rows, cols, divisor);
  }
}
