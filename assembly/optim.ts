// Optimiser steps over one flat parameter buffer (and its gradient and moment buffers), all (n).
// The same element-wise f32 arithmetic in both builds, so they give bit-identical parameters.

import { powi } from './math';

/**
 * SGD with momentum and (coupled, L2) weight decay:
 *   g' = g + wd·p;  v = momentum·v + g';  p −= lr · (nesterov ? g' + momentum·v : v)
 */
export function sgd_step(p: usize, g: usize, v: usize, n: i32, lr: f32, momentum: f32, wd: f32, nesterov: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const lrv = f32x4.splat(lr), mv = f32x4.splat(momentum), wdv = f32x4.splat(wd);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const pv = v128.load(p + o);
      const gg = f32x4.add(v128.load(g + o), f32x4.mul(wdv, pv));
      const vv = f32x4.add(f32x4.mul(mv, v128.load(v + o)), gg);
      v128.store(v + o, vv);
      const u = nesterov != 0 ? f32x4.add(gg, f32x4.mul(mv, vv)) : vv;
      v128.store(p + o, f32x4.sub(pv, f32x4.mul(lrv, u)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const pv = load<f32>(p + o);
    const gg = load<f32>(g + o) + wd * pv;
    const vv = momentum * load<f32>(v + o) + gg;
    store<f32>(v + o, vv);
    const u = nesterov != 0 ? gg + momentum * vv : vv;
    store<f32>(p + o, pv - lr * u);
  }
}

/**
 * AdamW (Loshchilov & Hutter) at step t >= 1, decoupled weight decay:
 *   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
 *   p −= lr · ( (m/bc1) / (sqrt(v/bc2) + eps) + wd·p ),  bc = 1 − β^t (computed deterministically here)
 */
export function adamw_step(p: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, wd: f32, t: i32): void {
  const bc1 = <f32>(1.0 - powi(<f64>beta1, t));
  const bc2 = <f32>(1.0 - powi(<f64>beta2, t));
  const ob1 = <f32>1 - beta1, ob2 = <f32>1 - beta2;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const b1 = f32x4.splat(beta1), b2 = f32x4.splat(beta2), o1 = f32x4.splat(ob1), o2 = f32x4.splat(ob2);
    const c1 = f32x4.splat(bc1), c2 = f32x4.splat(bc2), ev = f32x4.splat(eps), wdv = f32x4.splat(wd), lrv = f32x4.splat(lr);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const gv = v128.load(g + o), pv = v128.load(p + o);
      const mv = f32x4.add(f32x4.mul(b1, v128.load(m + o)), f32x4.mul(o1, gv));
      const vv = f32x4.add(f32x4.mul(b2, v128.load(v + o)), f32x4.mul(o2, f32x4.mul(gv, gv)));
      v128.store(m + o, mv);
      v128.store(v + o, vv);
      const upd = f32x4.add(f32x4.div(f32x4.div(mv, c1), f32x4.add(f32x4.sqrt(f32x4.div(vv, c2)), ev)), f32x4.mul(wdv, pv));
      v128.store(p + o, f32x4.sub(pv, f32x4.mul(lrv, upd)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gv = load<f32>(g + o), pv = load<f32>(p + o);
    const mv = beta1 * load<f32>(m + o) + ob1 * gv;
    const vv = beta2 * load<f32>(v + o) + ob2 * (gv * gv);
    store<f32>(m + o, mv);
    store<f32>(v + o, vv);
    const upd = (mv / bc1) / (Mathf.sqrt(vv / bc2) + eps) + wd * pv;
    store<f32>(p + o, pv - lr * upd);
  }
}
