// Optimiser steps over one flat parameter buffer (and its gradient and moment buffers), all (n).
// The same element-wise f32 arithmetic in both builds, so they give bit-identical parameters.
//
// Aliasing: element-wise, g[i] (and p[i]) loaded before any store at i, so a written buffer may be g
// itself (the very same buffer): sgd_step: p or v; adamw_step: p, m or v. The written buffers (p, v;
// p, m, v) must not overlap one another, and no partial overlap is allowed. Split over threads,
// every buffer is cut at the same element.

import { powi } from './math';

// Flush to zero: optimiser state (SGD velocity, Adam moments) below the smallest normal f32 becomes
// +0; SGD's velocity already below MIN_NORMAL / lr (for 0 < lr < 1), so its step lr·v is never
// subnormal either. A weight whose gradient stays 0 (e.g. into a dead ReLU unit) has its velocity
// decay geometrically into the subnormal range, where x86 takes a slow microcode assist on every
// operation: measured, the SGD step of an MLP 784-256-10 went from 70 to 210 µs after ~1,000 steps.
// CPU frameworks set the FPU's flush-to-zero mode for the same reason; WebAssembly has no such
// mode, so it is explicit here: the same compare-and-select in both builds (NaN is kept).
const MIN_NORMAL: f32 = 1.17549435e-38;

// @ts-ignore: decorator
@inline function ftz(x: f32): f32 {
  return Mathf.abs(x) < MIN_NORMAL ? 0 : x;
}
// @ts-ignore: decorator
@inline function ftz4(x: v128, tiny: v128): v128 {
  return v128.andnot(x, f32x4.lt(f32x4.abs(x), tiny));
}

/**
 * SGD with momentum and (coupled, L2) weight decay:
 *   g' = g + wd·p;  v = momentum·v + g' (flushed to 0 below vmin);  p −= lr · (nesterov ? g' + momentum·v : v)
 */
export function sgd_step(p: usize, g: usize, v: usize, n: i32, lr: f32, momentum: f32, wd: f32, nesterov: i32): void {
  const vmin: f32 = lr > 0 && lr < 1 ? MIN_NORMAL / lr : MIN_NORMAL;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const lrv = f32x4.splat(lr), mv = f32x4.splat(momentum), wdv = f32x4.splat(wd), tiny = f32x4.splat(vmin);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const pv = v128.load(p + o);
      const gg = f32x4.add(v128.load(g + o), f32x4.mul(wdv, pv));
      const vv = ftz4(f32x4.add(f32x4.mul(mv, v128.load(v + o)), gg), tiny);
      v128.store(v + o, vv);
      const u = nesterov != 0 ? f32x4.add(gg, f32x4.mul(mv, vv)) : vv;
      v128.store(p + o, f32x4.sub(pv, f32x4.mul(lrv, u)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const pv = load<f32>(p + o);
    const gg = load<f32>(g + o) + wd * pv;
    let vv = momentum * load<f32>(v + o) + gg;
    if (Mathf.abs(vv) < vmin) vv = 0;
    store<f32>(v + o, vv);
    const u = nesterov != 0 ? gg + momentum * vv : vv;
    store<f32>(p + o, pv - lr * u);
  }
}

/**
 * AdamW (Loshchilov & Hutter) at step t >= 1, decoupled weight decay:
 *   m = ftz(β1·m + (1−β1)·g);  v = ftz(β2·v + (1−β2)·g²)
 *   p −= lr · ( (m/bc1) / (sqrt(v/bc2) + eps) + wd·p ),  bc = 1 − β^t (computed deterministically here)
 */
export function adamw_step(p: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, wd: f32, t: i32): void {
  const bc1 = <f32>(1.0 - powi(<f64>beta1, t));
  const bc2 = <f32>(1.0 - powi(<f64>beta2, t));
  const ob1 = <f32>1 - beta1, ob2 = <f32>1 - beta2;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const b1 = f32x4.splat(beta1), b2 = f32x4.splat(beta2), o1 = f32x4.splat(ob1), o2 = f32x4.splat(ob2);
    const c1 = f32x4.splat(bc1), c2 = f32x4.splat(bc2), ev = f32x4.splat(eps), wdv = f32x4.splat(wd), lrv = f32x4.splat(lr), tiny = f32x4.splat(MIN_NORMAL);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const gv = v128.load(g + o), pv = v128.load(p + o);
      const mv = ftz4(f32x4.add(f32x4.mul(b1, v128.load(m + o)), f32x4.mul(o1, gv)), tiny);
      const vv = ftz4(f32x4.add(f32x4.mul(b2, v128.load(v + o)), f32x4.mul(o2, f32x4.mul(gv, gv))), tiny);
      v128.store(m + o, mv);
      v128.store(v + o, vv);
      const upd = f32x4.add(f32x4.div(f32x4.div(mv, c1), f32x4.add(f32x4.sqrt(f32x4.div(vv, c2)), ev)), f32x4.mul(wdv, pv));
      v128.store(p + o, f32x4.sub(pv, f32x4.mul(lrv, upd)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gv = load<f32>(g + o), pv = load<f32>(p + o);
    const mv = ftz(beta1 * load<f32>(m + o) + ob1 * gv);
    const vv = ftz(beta2 * load<f32>(v + o) + ob2 * (gv * gv));
    store<f32>(m + o, mv);
    store<f32>(v + o, vv);
    const upd = (mv / bc1) / (Mathf.sqrt(vv / bc2) + eps) + wd * pv;
    store<f32>(p + o, pv - lr * upd);
  }
}
