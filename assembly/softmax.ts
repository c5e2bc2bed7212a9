// Softmax, log-softmax and the fused softmax + cross-entropy, row-wise over (rows, cols).
// Row reductions run in f64 in column order; exp/log are the deterministic ones of math.ts.
//
// Aliasing ("may be" = the very same buffer; a partial overlap is wrong: row r's writes would land
// on a row not yet read):
//   softmax_forward (softmaxRows): out must not overlap x. Not safe in place: the second loop stores
//                     exp(x − max) into out, the third reads x again to recompute it.
//   softmax_backward, log_softmax_backward: dx may be dy or y (a row's sum is taken before the row
//                     is written; then each element is read before it is written).
//   log_softmax_forward: out may be x (the row's max and sum are taken first; then element-wise).
//   softmax_cross_entropy_forward: probs must not overlap logits (logits[label] is read after the row of
//                     probs is stored) nor labels (read after earlier rows of probs are stored).
//   softmax_cross_entropy_backward: dlogits may be probs (element-wise); it must not overlap labels.

import { expd, logd } from './math';

/** out (rows,cols) = softmax of x (rows,cols) along cols, at inverse temperature invT (1 = plain). */
// @ts-ignore: decorator
@inline export function softmaxRows(out: usize, x: usize, rows: i32, cols: i32, invT: f64): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>cols << 2), or = out + (<usize>r * <usize>cols << 2);
    let mx: f64 = -Infinity;
    for (let j = 0; j < cols; j++) mx = max(mx, <f64>load<f32>(xr + (<usize>j << 2)) * invT);
    let s: f64 = 0;
    for (let j = 0; j < cols; j++) {
      const e = expd(<f64>load<f32>(xr + (<usize>j << 2)) * invT - mx);
      store<f32>(or + (<usize>j << 2), <f32>e);
      s += e;
    }
    const inv = 1.0 / s;
    for (let j = 0; j < cols; j++) {
      const e = expd(<f64>load<f32>(xr + (<usize>j << 2)) * invT - mx);
      store<f32>(or + (<usize>j << 2), <f32>(e * inv));
    }
  }
}

export function softmax_forward(out: usize, x: usize, rows: i32, cols: i32): void {
  softmaxRows(out, x, rows, cols, 1.0);
}

/** dx += y ⊙ (dy − Σ_j dy·y) per row; y is the forward output. */
export function softmax_backward(dx: usize, dy: usize, y: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * <usize>cols << 2;
    let s: f64 = 0;
    for (let j = 0; j < cols; j++) s += <f64>load<f32>(dy + base + (<usize>j << 2)) * <f64>load<f32>(y + base + (<usize>j << 2));
    for (let j = 0; j < cols; j++) {
      const o = base + (<usize>j << 2);
      store<f32>(dx + o, load<f32>(dx + o) + <f32>(<f64>load<f32>(y + o) * (<f64>load<f32>(dy + o) - s)));
    }
  }
}

/** out (rows,cols) = x − logΣexp(x) per row. */
export function log_softmax_forward(out: usize, x: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>cols << 2), or = out + (<usize>r * <usize>cols << 2);
    let mx: f64 = -Infinity;
    for (let j = 0; j < cols; j++) mx = max(mx, <f64>load<f32>(xr + (<usize>j << 2)));
    let s: f64 = 0;
    for (let j = 0; j < cols; j++) s += expd(<f64>load<f32>(xr + (<usize>j << 2)) - mx);
    // (x − max) − log s, not x − (max + log s): the latter loses log s when |max| is huge.
    const ls = logd(s);
    for (let j = 0; j < cols; j++) store<f32>(or + (<usize>j << 2), <f32>((<f64>load<f32>(xr + (<usize>j << 2)) - mx) - ls));
  }
}

/** dx += dy − softmax·Σ_j dy per row; y is the forward output (log-probabilities). */
export function log_softmax_backward(dx: usize, dy: usize, y: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * <usize>cols << 2;
    let s: f64 = 0;
    for (let j = 0; j < cols; j++) s += <f64>load<f32>(dy + base + (<usize>j << 2));
    for (let j = 0; j < cols; j++) {
      const o = base + (<usize>j << 2);
      const p = expd(<f64>load<f32>(y + o));
      store<f32>(dx + o, load<f32>(dx + o) + <f32>(<f64>load<f32>(dy + o) - p * s));
    }
  }
}

/**
 * probs (rows,cols) = softmax(logits); returns mean over rows of −log p[label].
 * labels: (rows) i32 in [0, cols), checked by the caller.
 */
export function softmax_cross_entropy_forward(probs: usize, logits: usize, labels: usize, rows: i32, cols: i32): f32 {
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const xr = logits + (<usize>r * <usize>cols << 2), pr = probs + (<usize>r * <usize>cols << 2);
    let mx: f64 = -Infinity;
    for (let j = 0; j < cols; j++) mx = max(mx, <f64>load<f32>(xr + (<usize>j << 2)));
    let s: f64 = 0;
    for (let j = 0; j < cols; j++) s += expd(<f64>load<f32>(xr + (<usize>j << 2)) - mx);
    const ls = logd(s);
    for (let j = 0; j < cols; j++) store<f32>(pr + (<usize>j << 2), <f32>expd((<f64>load<f32>(xr + (<usize>j << 2)) - mx) - ls));
    const y = load<i32>(labels + (<usize>r << 2));
    total += ls - (<f64>load<f32>(xr + (<usize>y << 2)) - mx);
  }
  return rows > 0 ? <f32>(total / <f64>rows) : 0;
}

/** dlogits (rows,cols) += scale · (probs − onehot(labels)) / rows. */
export function softmax_cross_entropy_backward(dlogits: usize, probs: usize, labels: usize, rows: i32, cols: i32, scale: f32): void {
  const f = <f64>scale / <f64>rows;
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * <usize>cols << 2;
    const y = load<i32>(labels + (<usize>r << 2));
    for (let j = 0; j < cols; j++) {
      const o = base + (<usize>j << 2);
      const g = <f64>load<f32>(probs + o) - (j == y ? 1.0 : 0.0);
      store<f32>(dlogits + o, load<f32>(dlogits + o) + <f32>(f * g));
    }
  }
}
