/**
 * Wrappers of standardisation and the cross-correlation loss (assembly/xcorr.ts): shape checks, the aliasing contract, one export call each.
 * Composed into the one `Kernels` class by ../ops.ts; conventions there.
 */
import type { F32, I32 } from '../../runtime/arena.js';
import { KernelBase } from './base.js';

export class XcorrOps extends KernelBase {
  /**
   * xhat (rows,cols) = x standardised per column over rows; invstd (cols).
   * Aliasing: xhat may be x itself (a column's mean and variance are taken before the column is
   * written); invstd must not overlap x or xhat.
   */
  standardize(xhat: F32, invstd: F32, x: F32, rows: number, cols: number, eps = 1e-5): void {
    const op = 'standardize';
    this.rowsCols(op, rows, cols);
    const a = this.rc(op, 'xhat', xhat, rows, cols),
      b = this.rc(op, 'x', x, rows, cols),
      s = this.buf(op, 'invstd', invstd, cols, 'cols', cols);
    this.inPlace(op, 'xhat', xhat, 'x', x);
    this.apart(op, 'invstd', invstd, 'x', x);
    this.distinct(op, 'xhat', xhat, 'invstd', invstd);
    this.raw.standardize_forward(a, s, b, rows, cols, eps);
  }
  /**
   * dx (rows,cols) += invstd · (dxhat − mean(dxhat) − xhat · mean(dxhat ⊙ xhat)) per column.
   * Aliasing: dx may be dxhat or xhat itself (a column's sums are taken before the column is
   * written); dx must not overlap invstd.
   */
  standardizeBackward(dx: F32, dxhat: F32, xhat: F32, invstd: F32, rows: number, cols: number): void {
    const op = 'standardizeBackward';
    this.rowsCols(op, rows, cols);
    const a = this.rc(op, 'dx', dx, rows, cols),
      b = this.rc(op, 'dxhat', dxhat, rows, cols),
      c = this.rc(op, 'xhat', xhat, rows, cols),
      s = this.buf(op, 'invstd', invstd, cols, 'cols', cols);
    this.inPlace(op, 'dx', dx, 'dxhat', dxhat);
    this.inPlace(op, 'dx', dx, 'xhat', xhat);
    this.apart(op, 'dx', dx, 'invstd', invstd);
    this.raw.standardize_backward(a, b, c, s, rows, cols);
  }

  /**
   * Mean squared cross-correlation between standardised f (rows,d1) and ghat (rows,d2, already
   * standardised). Writes c (d1,d2), fhat (rows,d1), invstd (d1) for the backward pass.
   * Aliasing: fhat may be f itself (as standardize); c, fhat and invstd overlap nothing else (c is
   * written while fhat and ghat are read; c = f is correct today only because f is read first).
   */
  crossCorrelation(c: F32, fhat: F32, invstd: F32, f: F32, ghat: F32, rows: number, d1: number, d2: number, eps = 1e-5): number {
    const op = 'crossCorrelation';
    const cp = this.buf(op, 'c', c, d1 * d2, 'd1×d2', d1, d2),
      hp = this.buf(op, 'fhat', fhat, rows * d1, 'rows×d1', rows, d1),
      sp = this.buf(op, 'invstd', invstd, d1, 'd1', d1),
      fp = this.buf(op, 'f', f, rows * d1, 'rows×d1', rows, d1),
      gp = this.buf(op, 'ghat', ghat, rows * d2, 'rows×d2', rows, d2);
    this.apart(op, 'c', c, 'f', f);
    this.apart(op, 'c', c, 'ghat', ghat);
    this.inPlace(op, 'fhat', fhat, 'f', f);
    this.apart(op, 'fhat', fhat, 'ghat', ghat);
    this.apart(op, 'invstd', invstd, 'f', f);
    this.apart(op, 'invstd', invstd, 'ghat', ghat);
    this.distinct(op, 'c', c, 'fhat', fhat);
    this.distinct(op, 'c', c, 'invstd', invstd);
    this.distinct(op, 'fhat', fhat, 'invstd', invstd);
    return this.raw.cross_correlation_forward(cp, hp, sp, fp, gp, rows, d1, d2, eps) as number;
  }
  /**
   * df (rows,d1) += scale · ∂L/∂f; work is a (rows,d1) scratch buffer.
   * Aliasing: df may be fhat itself (as standardizeBackward's dx and xhat); work overlaps nothing
   * (it is written first, and df's old values are still needed); df overlaps nothing else.
   */
  crossCorrelationBackward(df: F32, c: F32, fhat: F32, invstd: F32, ghat: F32, rows: number, d1: number, d2: number, scale: number, work: F32): void {
    const op = 'crossCorrelationBackward';
    const dp = this.buf(op, 'df', df, rows * d1, 'rows×d1', rows, d1),
      cp = this.buf(op, 'c', c, d1 * d2, 'd1×d2', d1, d2),
      hp = this.buf(op, 'fhat', fhat, rows * d1, 'rows×d1', rows, d1),
      sp = this.buf(op, 'invstd', invstd, d1, 'd1', d1),
      gp = this.buf(op, 'ghat', ghat, rows * d2, 'rows×d2', rows, d2),
      k = this.finite(op, 'scale', scale),
      wp = this.buf(op, 'work', work, rows * d1, 'rows×d1', rows, d1);
    this.apart(op, 'df', df, 'c', c);
    this.inPlace(op, 'df', df, 'fhat', fhat);
    this.apart(op, 'df', df, 'invstd', invstd);
    this.apart(op, 'df', df, 'ghat', ghat);
    this.apart(op, 'work', work, 'c', c);
    this.apart(op, 'work', work, 'fhat', fhat);
    this.apart(op, 'work', work, 'invstd', invstd);
    this.apart(op, 'work', work, 'ghat', ghat);
    this.distinct(op, 'df', df, 'work', work);
    this.raw.cross_correlation_backward(dp, cp, hp, sp, gp, rows, d1, d2, k, wp);
  }
}
