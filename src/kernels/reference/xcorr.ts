/** Float64 twins of standardisation and cross-correlation (assembly/xcorr.ts); conventions in ./index.ts. */
import type { Vec } from './math.js';

/** xhat (rows,cols) = (x − mean)·invstd per column; invstd (cols) = 1/sqrt(biased var + eps). */
export function standardize(x: Vec, rows: number, cols: number, eps = 1e-5): { xhat: Float64Array; invstd: Float64Array } {
  const xhat = new Float64Array(rows * cols),
    invstd = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += x[r * cols + j];
    const mean = rows > 0 ? s / rows : 0;
    let v = 0;
    for (let r = 0; r < rows; r++) v += (x[r * cols + j] - mean) ** 2;
    invstd[j] = 1 / Math.sqrt((rows > 0 ? v / rows : 0) + eps);
    for (let r = 0; r < rows; r++) xhat[r * cols + j] = (x[r * cols + j] - mean) * invstd[j];
  }
  return { xhat, invstd };
}

/** dx (rows,cols) = invstd · (dxhat − mean(dxhat) − xhat · mean(dxhat ⊙ xhat)) per column. */
export function standardizeBackward(dxhat: Vec, xhat: Vec, invstd: Vec, rows: number, cols: number): Float64Array {
  const dx = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) {
    let s = 0,
      sx = 0;
    for (let r = 0; r < rows; r++) {
      s += dxhat[r * cols + j];
      sx += dxhat[r * cols + j] * xhat[r * cols + j];
    }
    for (let r = 0; r < rows; r++) dx[r * cols + j] = invstd[j] * (dxhat[r * cols + j] - s / rows - (xhat[r * cols + j] * sx) / rows);
  }
  return dx;
}

/** fhat, invstd = standardize(f (rows,d1)); c (d1,d2) = fhatᵀ·ghat / rows; loss = Σ c² / (d1·d2); ghat (rows,d2) is given. */
export function crossCorrelation(f: Vec, ghat: Vec, rows: number, d1: number, d2: number, eps = 1e-5): { loss: number; c: Float64Array; fhat: Float64Array; invstd: Float64Array } {
  const { xhat: fhat, invstd } = standardize(f, rows, d1, eps);
  const c = new Float64Array(d1 * d2);
  let total = 0;
  for (let i = 0; i < d1; i++) {
    for (let j = 0; j < d2; j++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += fhat[r * d1 + i] * ghat[r * d2 + j];
      c[i * d2 + j] = rows > 0 ? s / rows : 0;
      total += c[i * d2 + j] ** 2;
    }
  }
  return { loss: d1 > 0 && d2 > 0 ? total / (d1 * d2) : 0, c, fhat, invstd };
}

/** df (rows,d1) = scale · ∂loss/∂f: dfhat[r,i] = Σ_j ghat[r,j]·2c[i,j]/(d1·d2·rows), then standardizeBackward. */
export function crossCorrelationBackward(c: Vec, fhat: Vec, invstd: Vec, ghat: Vec, rows: number, d1: number, d2: number, scale = 1): Float64Array {
  if (rows <= 0 || d1 <= 0 || d2 <= 0) return new Float64Array(rows * d1);
  const dfhat = new Float64Array(rows * d1);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < d1; i++) {
      let s = 0;
      for (let j = 0; j < d2; j++) s += ghat[r * d2 + j] * c[i * d2 + j];
      dfhat[r * d1 + i] = (2 * scale * s) / (d1 * d2 * rows);
    }
  }
  return standardizeBackward(dfhat, fhat, invstd, rows, d1);
}
