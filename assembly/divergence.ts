// Divergences between the (constant) anchor's probabilities and a follower's logits, and entropy.
//
//   pm = softmax(zm · invT)             (the follower, at temperature T = 1/invT)
//   JS(pa || pm) = ½ KL(pa || r) + ½ KL(pm || r),  r = (pa + pm)/2
//   KL(pa || pm) = Σ pa (log pa − log pm)
// Probabilities are clamped to >= eps inside every log. Values are means over rows; backward passes
// give the gradient with respect to zm only (the anchor side is constant) and accumulate: js_divergence_backward
// the exact gradient of the clamped value js_divergence_forward reports, kl_divergence_backward the gradient of the
// unclamped KL (its clamp guards the value only).
//
// Aliasing ("may be" = the very same buffer; partial overlaps are wrong):
//   js_divergence_forward, kl_divergence_forward: pm must not overlap zm (softmaxRows is not safe in place) nor pa (all of
//                     pm is written before pa is read).
//   js_divergence_backward, kl_divergence_backward: dzm may be pa or pm (a row's sum is taken before the row is written;
//                     then each element is read before it is written).
//   entropy: writes nothing.

import { logd } from './math';
import { softmaxRows } from './softmax';

// @ts-ignore: decorator
@inline function clog(p: f64, eps: f64): f64 {
  return logd(p > eps ? p : eps);
}

/** ∂JS/∂pm for one element: ½ (clog m − clog r + [m > eps] − [r > eps]), r = (a + m)/2. */
// @ts-ignore: decorator
@inline function jsGrad(a: f64, m: f64, eps: f64): f64 {
  const r = 0.5 * (a + m);
  return 0.5 * (clog(m, eps) - clog(r, eps) + (m > eps ? 1.0 : 0.0) - (r > eps ? 1.0 : 0.0));
}

/** pm (rows,cols) = softmax(zm·invT); returns mean JS(pa || pm). pa is (rows,cols). */
export function js_divergence_forward(pm: usize, pa: usize, zm: usize, rows: i32, cols: i32, invT: f32, eps: f32): f32 {
  softmaxRows(pm, zm, rows, cols, <f64>invT);
  const e = <f64>eps;
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * <usize>cols << 2;
    let s: f64 = 0;
    for (let j = 0; j < cols; j++) {
      const o = base + (<usize>j << 2);
      const a = <f64>load<f32>(pa + o), m = <f64>load<f32>(pm + o);
      const lr = clog(0.5 * (a + m), e);
      s += a * (clog(a, e) - lr) + m * (clog(m, e) - lr);
    }
    total += 0.5 * s;
  }
  return rows > 0 ? <f32>(total / <f64>rows) : 0;
}

/**
 * dzm (rows,cols) += scale/rows · invT · pm ⊙ (g − Σ pm g), g = ½ (clog pm − clog r + [pm > eps] − [r > eps]):
 * the exact gradient of the clamped value js_divergence_forward reports (a clamped log has derivative 0 where
 * the clamp binds; while every p > eps the two indicators cancel).
 */
export function js_divergence_backward(dzm: usize, pa: usize, pm: usize, rows: i32, cols: i32, invT: f32, eps: f32, scale: f32): void {
  const e = <f64>eps;
  const f = <f64>scale * <f64>invT / <f64>rows;
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * <usize>cols << 2;
    let sg: f64 = 0;
    for (let j = 0; j < cols; j++) {
      const o = base + (<usize>j << 2);
      const a = <f64>load<f32>(pa + o), m = <f64>load<f32>(pm + o);
      sg += m * jsGrad(a, m, e);
    }
    for (let j = 0; j < cols; j++) {
      const o = base + (<usize>j << 2);
      const a = <f64>load<f32>(pa + o), m = <f64>load<f32>(pm + o);
      const g = jsGrad(a, m, e);
      store<f32>(dzm + o, load<f32>(dzm + o) + <f32>(f * m * (g - sg)));
    }
  }
}

/** pm (rows,cols) = softmax(zm·invT); returns mean KL(pa || pm). */
export function kl_divergence_forward(pm: usize, pa: usize, zm: usize, rows: i32, cols: i32, invT: f32, eps: f32): f32 {
  softmaxRows(pm, zm, rows, cols, <f64>invT);
  const e = <f64>eps;
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * <usize>cols << 2;
    for (let j = 0; j < cols; j++) {
      const o = base + (<usize>j << 2);
      const a = <f64>load<f32>(pa + o);
      if (a > 0) total += a * (clog(a, e) - clog(<f64>load<f32>(pm + o), e));
    }
  }
  return rows > 0 ? <f32>(total / <f64>rows) : 0;
}

/** dzm (rows,cols) += scale/rows · invT · (pm·Σpa − pa). */
export function kl_divergence_backward(dzm: usize, pa: usize, pm: usize, rows: i32, cols: i32, invT: f32, scale: f32): void {
  const f = <f64>scale * <f64>invT / <f64>rows;
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * <usize>cols << 2;
    let sa: f64 = 0;
    for (let j = 0; j < cols; j++) sa += <f64>load<f32>(pa + base + (<usize>j << 2));
    for (let j = 0; j < cols; j++) {
      const o = base + (<usize>j << 2);
      const g = <f64>load<f32>(pm + o) * sa - <f64>load<f32>(pa + o);
      store<f32>(dzm + o, load<f32>(dzm + o) + <f32>(f * g));
    }
  }
}

/** Mean over rows of the predictive entropy −Σ p log p (p clamped to >= eps in the log); p is (rows,cols). */
export function entropy(p: usize, rows: i32, cols: i32, eps: f32): f32 {
  const e = <f64>eps;
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * <usize>cols << 2;
    for (let j = 0; j < cols; j++) {
      const v = <f64>load<f32>(p + base + (<usize>j << 2));
      if (v > 0) total -= v * clog(v, e);
    }
  }
  return rows > 0 ? <f32>(total / <f64>rows) : 0;
}
