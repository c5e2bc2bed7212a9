// The default complementary loss of UDI (udi-method.md, [ours]): mean squared cross-correlation
// between the batch-standardised follower features F (rows,d1) and anchor features G (rows,d2).
//
//   F̂ = (F − mean) · invstd, invstd = 1/sqrt(var + eps) per column (biased variance, over rows)
//   C (d1,d2) = F̂ᵀ Ĝ / rows,   L = Σ C² / (d1·d2)
// L is 0 exactly when every follower feature is uncorrelated with every anchor feature.
// Ĝ comes from standardize_forward on the anchor's (constant) features.
//
// Aliasing ("may be" = the very same buffer; partial overlaps are wrong):
//   standardize_forward: xhat may be x (column by column: a column's mean and variance are taken
//                     before it is written); invstd must not overlap x (invstd[j] is stored before
//                     column j is read again) nor xhat.
//   standardize_backward: dx may be dxhat or xhat (column by column, sums first); dx must not
//                     overlap invstd.
//   cross_correlation_forward: fhat may be f (standardize_forward); c, fhat and invstd overlap nothing else (c is
//                     written while fhat and ghat are read; c = f happens to work, as f is consumed
//                     first, but is not promised).
//   cross_correlation_backward: df may be fhat (standardize_backward's dx = xhat); work overlaps nothing (it is
//                     written first, and df's old values are still needed after); df overlaps
//                     nothing else.

/** xhat (rows,cols) = standardised x per column; invstd (cols) = 1/sqrt(var + eps). */
export function standardize_forward(xhat: usize, invstd: usize, x: usize, rows: i32, cols: i32, eps: f32): void {
  for (let j = 0; j < cols; j++) {
    let s: f64 = 0;
    for (let r = 0; r < rows; r++) s += <f64>load<f32>(x + ((<usize>r * <usize>cols + <usize>j) << 2));
    const mean = rows > 0 ? s / <f64>rows : 0.0;
    let v: f64 = 0;
    for (let r = 0; r < rows; r++) {
      const d = <f64>load<f32>(x + ((<usize>r * <usize>cols + <usize>j) << 2)) - mean;
      v += d * d;
    }
    const is = 1.0 / Math.sqrt((rows > 0 ? v / <f64>rows : 0.0) + <f64>eps);
    store<f32>(invstd + (<usize>j << 2), <f32>is);
    for (let r = 0; r < rows; r++) {
      const o = (<usize>r * <usize>cols + <usize>j) << 2;
      store<f32>(xhat + o, <f32>((<f64>load<f32>(x + o) - mean) * is));
    }
  }
}

/** dx (rows,cols) += invstd · (dxhat − mean(dxhat) − xhat · mean(dxhat ⊙ xhat)), per column. */
export function standardize_backward(dx: usize, dxhat: usize, xhat: usize, invstd: usize, rows: i32, cols: i32): void {
  if (rows <= 0) return;
  for (let j = 0; j < cols; j++) {
    let s: f64 = 0, sx: f64 = 0;
    for (let r = 0; r < rows; r++) {
      const o = (<usize>r * <usize>cols + <usize>j) << 2;
      const g = <f64>load<f32>(dxhat + o);
      s += g;
      sx += g * <f64>load<f32>(xhat + o);
    }
    const mg = s / <f64>rows, mgx = sx / <f64>rows;
    const is = <f64>load<f32>(invstd + (<usize>j << 2));
    for (let r = 0; r < rows; r++) {
      const o = (<usize>r * <usize>cols + <usize>j) << 2;
      const g = is * (<f64>load<f32>(dxhat + o) - mg - <f64>load<f32>(xhat + o) * mgx);
      store<f32>(dx + o, load<f32>(dx + o) + <f32>g);
    }
  }
}

/**
 * Forward: fhat (rows,d1) and invstd (d1) from f; c (d1,d2) = fhatᵀ ghat / rows; returns Σ c² / (d1·d2).
 * ghat is (rows,d2), already standardised.
 */
export function cross_correlation_forward(c: usize, fhat: usize, invstd: usize, f: usize, ghat: usize, rows: i32, d1: i32, d2: i32, eps: f32): f32 {
  standardize_forward(fhat, invstd, f, rows, d1, eps);
  const inv = rows > 0 ? 1.0 / <f64>rows : 0.0;
  let total: f64 = 0;
  for (let i = 0; i < d1; i++) {
    for (let j = 0; j < d2; j++) {
      let s: f64 = 0;
      for (let r = 0; r < rows; r++) {
        s += <f64>load<f32>(fhat + ((<usize>r * <usize>d1 + <usize>i) << 2)) * <f64>load<f32>(ghat + ((<usize>r * <usize>d2 + <usize>j) << 2));
      }
      const cij = s * inv;
      store<f32>(c + ((<usize>i * <usize>d2 + <usize>j) << 2), <f32>cij);
      total += cij * cij;
    }
  }
  return d1 > 0 && d2 > 0 ? <f32>(total / (<f64>d1 * <f64>d2)) : 0;
}

/**
 * Backward: df (rows,d1) += scale · dL/df. work holds rows·d1 floats (dL/dfhat).
 * dL/dC = 2C/(d1·d2); dL/dfhat[r,i] = Σ_j ghat[r,j] · dL/dC[i,j] / rows; then standardize_backward.
 */
export function cross_correlation_backward(df: usize, c: usize, fhat: usize, invstd: usize, ghat: usize, rows: i32, d1: i32, d2: i32, scale: f32, work: usize): void {
  if (rows <= 0 || d1 <= 0 || d2 <= 0) return;
  const k = 2.0 * <f64>scale / (<f64>d1 * <f64>d2 * <f64>rows);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < d1; i++) {
      let s: f64 = 0;
      for (let j = 0; j < d2; j++) {
        s += <f64>load<f32>(ghat + ((<usize>r * <usize>d2 + <usize>j) << 2)) * <f64>load<f32>(c + ((<usize>i * <usize>d2 + <usize>j) << 2));
      }
      store<f32>(work + ((<usize>r * <usize>d1 + <usize>i) << 2), <f32>(k * s));
    }
  }
  standardize_backward(df, work, fhat, invstd, rows, d1);
}
