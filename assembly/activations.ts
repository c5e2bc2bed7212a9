// Bias add, ReLU, GELU (tanh approximation) and inverted dropout. Forward and backward side by side.
// Backward accumulates into the gradient (dx += ...).
//
// Aliasing ("may be" = the very same buffer, same offset and length; any partial overlap is wrong:
// a shifted output overwrites inputs not yet read, or read by another thread of a split call):
//   bias_add_forward: out may be x (element-wise: x[i] is loaded before out[i] is stored); out must
//                     not overlap bias (rows after the first would read a bias already overwritten).
//   bias_add_backward: dbias must not overlap dout (a row of dout under dbias is read after earlier
//                     rows were added into it).
//   relu_forward, gelu_forward: out may be x (element-wise).
//   relu_backward, gelu_backward: dx may be dout or x (element-wise: all loads before the store).
//   dropout_forward: out may be x; mask must not overlap x (mask[i] is stored before x[i] is loaded);
//                     out, mask and state (written) must not overlap one another.
//   dropout_backward: dx may be dout or mask (element-wise).
// Split over threads (relu and gelu, forward and backward), every buffer is cut at the same element,
// so with out = x each thread reads and writes only its own chunk.

import { tanhd } from './math';
import { next } from './rng';

/** out (rows,cols) = x (rows,cols) + bias (cols) broadcast over rows. */
export function bias_add_forward(out: usize, x: usize, bias: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * <usize>cols << 2;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= cols; j += 4) {
        const o = <usize>j << 2;
        v128.store(out + base + o, f32x4.add(v128.load(x + base + o), v128.load(bias + o)));
      }
    }
    for (; j < cols; j++) {
      const o = <usize>j << 2;
      store<f32>(out + base + o, load<f32>(x + base + o) + load<f32>(bias + o));
    }
  }
}

/** dbias (cols) += Σ over rows of dout (rows,cols); rows are added in order. */
export function bias_add_backward(dbias: usize, dout: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * <usize>cols << 2;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= cols; j += 4) {
        const o = <usize>j << 2;
        v128.store(dbias + o, f32x4.add(v128.load(dbias + o), v128.load(dout + base + o)));
      }
    }
    for (; j < cols; j++) {
      const o = <usize>j << 2;
      store<f32>(dbias + o, load<f32>(dbias + o) + load<f32>(dout + base + o));
    }
  }
}

/** out (n) = max(x, 0). */
export function relu_forward(out: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const z = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(x + o);
      v128.store(out + o, v128.and(v, f32x4.gt(v, z)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    store<f32>(out + o, v > 0 ? v : 0);
  }
}

/** dx (n) += dout where x > 0. */
export function relu_backward(dx: usize, dout: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const z = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const g = v128.and(v128.load(dout + o), f32x4.gt(v128.load(x + o), z));
      v128.store(dx + o, f32x4.add(v128.load(dx + o), g));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(dx + o) + (load<f32>(x + o) > 0 ? load<f32>(dout + o) : 0));
  }
}

const GELU_C: f64 = 0.7978845608028654; // sqrt(2/pi)
const GELU_A: f64 = 0.044715;

/** out (n) = 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function gelu_forward(out: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const v = <f64>load<f32>(x + o);
    const t = tanhd(GELU_C * (v + GELU_A * v * v * v));
    store<f32>(out + o, <f32>(0.5 * v * (1.0 + t)));
  }
}

/** dx (n) += dout · gelu'(x). */
export function gelu_backward(dx: usize, dout: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const v = <f64>load<f32>(x + o);
    const t = tanhd(GELU_C * (v + GELU_A * v * v * v));
    const d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * GELU_A * v * v);
    store<f32>(dx + o, load<f32>(dx + o) + <f32>(<f64>load<f32>(dout + o) * d));
  }
}

/** Inverted dropout: mask (n) = u >= p ? 1/(1-p) : 0 with u uniform from the generator at `state`; out = x·mask. */
export function dropout_forward(out: usize, mask: usize, x: usize, n: i32, p: f32, state: usize): void {
  const keep: f32 = p < 1 ? <f32>1 / (<f32>1 - p) : 0;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const u = <f32>(next(state) >>> 8) * <f32>5.9604644775390625e-8; // 2^-24
    const m: f32 = u >= p ? keep : 0;
    store<f32>(mask + o, m);
    store<f32>(out + o, load<f32>(x + o) * m);
  }
}

/** dx (n) += dout · mask. */
export function dropout_backward(dx: usize, dout: usize, mask: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(dx + o) + load<f32>(dout + o) * load<f32>(mask + o));
  }
}
