// Kernels that reproduce the training layer's float64 arithmetic: values are loaded from f32 buffers,
// every operation is done in f64 (as JavaScript does), sums are taken sequentially in index order,
// and a result stored into an f32 buffer is rounded once. They replace JavaScript loops of
// src/train with the same bits.
//
//   row_normalize_forward:  s_i = Σ_j f[i,j]² (f64, j = 0..d-1 in order), r_i = sqrt(s_i) + 1e-12,
//                           h[i,j] = f32(f[i,j] / r_i).                    f, h (n,d)
//   row_normalize_backward: dot_i = Σ_j h[i,j]·dh[i,j] (f64, in order), r_i as the forward (recomputed
//                           from f, no saved state),
//                           df[i,j] = f32(df[i,j] + (dh[i,j] − h[i,j]·dot_i) / r_i).  df, dh, h, f (n,d)
//   sample_std:             mean = Σ x / n, ss = Σ (x − mean)² (f64, in order);
//                           returns n > 1 ? sqrt(ss / (n − 1)) : 0 as f64.           x (n)
//   label_prob_sum:         returns Σ_r p[r·cols + labels[r]] (f64, r in order).    p (rows,cols), labels (rows)
//   bias_add_scaled:        out[r,c] = f32(out[r,c] + bias[c] / divisor) (f64).    out (rows,cols), bias (cols)
//
// Threading and determinism: single-threaded (the wrappers never split them; they are small), one
// scalar loop in index order in every build (no SIMD branch), so every build gives the same bits.
//
// Aliasing ("may be" = the very same buffer):
//   row_normalize_forward: h may be f (row by row: a row's sum is taken before the row is written).
//   row_normalize_backward: df overlaps nothing (the row's norm is recomputed from f after earlier
//                           rows of df are written; dh and h are read after df's row is written).
//   bias_add_scaled: out must not overlap bias.
//   sample_std, label_prob_sum: write nothing.

/** Euclidean norm of row i of f (n,d) plus 1e-12, in f64 (sequential sum of squares). */
// @ts-ignore: decorator
@inline function rowNorm(f: usize, i: i32, d: i32): f64 {
  let s: f64 = 0;
  const row = f + ((<usize>i * <usize>d) << 2);
  for (let j = 0; j < d; j++) {
    const v = <f64>load<f32>(row + (<usize>j << 2));
    s += v * v;
  }
  return Math.sqrt(s) + 1e-12;
}

/** h (n,d) = f / (|f| + 1e-12) per row (see the header). */
export function row_normalize_forward(h: usize, f: usize, n: i32, d: i32): void {
  for (let i = 0; i < n; i++) {
    const r = rowNorm(f, i, d);
    const off = (<usize>i * <usize>d) << 2;
    for (let j = 0; j < d; j++) {
      const o = off + (<usize>j << 2);
      store<f32>(h + o, <f32>(<f64>load<f32>(f + o) / r));
    }
  }
}

/** df (n,d) += (dh − h (h·dh)) / (|f| + 1e-12) per row (see the header). */
export function row_normalize_backward(df: usize, dh: usize, h: usize, f: usize, n: i32, d: i32): void {
  for (let i = 0; i < n; i++) {
    const off = (<usize>i * <usize>d) << 2;
    let dot: f64 = 0;
    for (let j = 0; j < d; j++) {
      const o = off + (<usize>j << 2);
      dot += <f64>load<f32>(h + o) * <f64>load<f32>(dh + o);
    }
    const r = rowNorm(f, i, d);
    for (let j = 0; j < d; j++) {
      const o = off + (<usize>j << 2);
      store<f32>(df + o, <f32>(<f64>load<f32>(df + o) + (<f64>load<f32>(dh + o) - <f64>load<f32>(h + o) * dot) / r));
    }
  }
}

/** Sample standard deviation of x (n) in f64 (see the header). */
export function sample_std(x: usize, n: i32): f64 {
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) sum += <f64>load<f32>(x + (<usize>i << 2));
  const mean = sum / <f64>n;
  let ss: f64 = 0;
  for (let i = 0; i < n; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2)) - mean;
    ss += v * v;
  }
  return n > 1 ? Math.sqrt(ss / <f64>(n - 1)) : 0;
}

/** Σ_r p[r, labels[r]] in f64 (see the header). */
export function label_prob_sum(p: usize, labels: usize, rows: i32, cols: i32): f64 {
  let s: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const y = load<i32>(labels + (<usize>r << 2));
    s += <f64>load<f32>(p + ((<usize>r * <usize>cols + <usize>y) << 2));
  }
  return s;
}

/** out (rows,cols) += bias (cols) / divisor, in f64, rounded once (see the header). */
export function bias_add_scaled(out: usize, bias: usize, rows: i32, cols: i32, divisor: i32): void {
  const m = <f64>divisor;
  for (let r = 0; r < rows; r++) {
    const off = (<usize>r * <usize>cols) << 2;
    for (let c = 0; c < cols; c++) {
      const o = off + (<usize>c << 2);
      store<f32>(out + o, <f32>(<f64>load<f32>(out + o) + <f64>load<f32>(bias + (<usize>c << 2)) / m));
    }
  }
}
