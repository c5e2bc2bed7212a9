// 2-D convolution helpers and max-pooling, NHWC layout.
//
// A convolution is im2col followed by a matmul: with x (batch,h,w,c) and a filter bank W stored as
// (kh·kw·c, o), out (batch·ho·wo, o) = col · W + bias, where col (batch·ho·wo, kh·kw·c) holds each
// output position's receptive field in (ky, kx, channel) order, zero outside the padded input.
// Backward: dW += colᵀ·dout, dcol = dout·Wᵀ, dx += col2im(dcol).
// ho = (h + 2·pad − kh)/stride + 1, wo likewise; checked by the caller.
//
// Aliasing: none of these kernels is safe in place, and the wrappers reject any overlap.
//   im2col: col must not overlap x (col rows are written while x is read, by every thread).
//   col2im: dx must not overlap dcol (dx is added into while dcol is read).
//   max_pool_forward: out and argmax must not overlap x nor each other (later windows of x are read
//                     after earlier outputs are stored).
//   max_pool_backward: dx must not overlap dout (scattered writes) nor argmax (the indices were
//                     checked before the call; writes must not change them).

// Short runs (a first layer's c = 1 gives runs of kw floats) are moved by plain loads and stores:
// memory.copy and memory.fill are calls into the engine, which cost more than moving a few floats.
const SHORT_RUN: i32 = 16;

// @ts-ignore: decorator
@inline function copy(dst: usize, src: usize, n: i32): void {
  if (n <= SHORT_RUN) {
    for (let i = 0; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
  } else memory.copy(dst, src, <usize>n << 2);
}

// @ts-ignore: decorator
@inline function zero(dst: usize, n: i32): void {
  if (n <= SHORT_RUN) {
    for (let i = 0; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
  } else memory.fill(dst, 0, <usize>n << 2);
}

/** col (batch·ho·wo, kh·kw·c) = patches of x (batch,h,w,c). Rows [r0,r1) only (for threads). */
export function im2col(col: usize, x: usize, batch: i32, h: i32, w: i32, c: i32, kh: i32, kw: i32, stride: i32, pad: i32, ho: i32, wo: i32, r0: i32, r1: i32): void {
  const kk = kh * kw * c;
  const cb = <usize>c << 2;
  for (let row = r0; row < r1; row++) {
    const b = row / (ho * wo);
    const rem = row - b * ho * wo;
    const oy = rem / wo, ox = rem - (rem / wo) * wo;
    let dst = col + ((<usize>row * <usize>kk) << 2);
    // The kx range whose input column lies inside the image: copied as one contiguous run per ky.
    const ix0 = ox * stride - pad;
    const kx0 = max(0, -ix0), kx1 = min(kw, w - ix0);
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * stride - pad + ky;
      if (iy < 0 || iy >= h || kx1 <= kx0) {
        zero(dst, kw * c);
      } else {
        if (kx0 > 0) zero(dst, kx0 * c);
        copy(dst + <usize>kx0 * cb, x + (((<usize>b * <usize>h + <usize>iy) * <usize>w + <usize>(ix0 + kx0)) * <usize>c << 2), (kx1 - kx0) * c);
        if (kx1 < kw) zero(dst + <usize>kx1 * cb, (kw - kx1) * c);
      }
      dst += <usize>kw * cb;
    }
  }
  void batch;
}

/**
 * dx (batch,h,w,c) += scatter of dcol (batch·ho·wo, kh·kw·c), in row order (deterministic), for the
 * samples [b0, b1) only (for threads: a sample's dx receives only from its own rows of dcol).
 */
export function col2im(dx: usize, dcol: usize, batch: i32, h: i32, w: i32, c: i32, kh: i32, kw: i32, stride: i32, pad: i32, ho: i32, wo: i32, b0: i32, b1: i32): void {
  const rows = min(b1, batch) * ho * wo;
  for (let row = max(b0, 0) * ho * wo; row < rows; row++) {
    const b = row / (ho * wo);
    const rem = row - b * ho * wo;
    const oy = rem / wo, ox = rem - (rem / wo) * wo;
    let src = dcol + ((<usize>row * <usize>(kh * kw * c)) << 2);
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * stride - pad + ky;
      for (let kx = 0; kx < kw; kx++) {
        const ix = ox * stride - pad + kx;
        if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
          const dst = dx + (((<usize>b * <usize>h + <usize>iy) * <usize>w + <usize>ix) * <usize>c << 2);
          let ch = 0;
          if (ASC_FEATURE_SIMD) {
            for (; ch + 4 <= c; ch += 4) {
              const o = <usize>ch << 2;
              v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
            }
          }
          for (; ch < c; ch++) {
            const o = <usize>ch << 2;
            store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
          }
        }
        src += <usize>c << 2;
      }
    }
  }
}

/**
 * out (batch,ho,wo,c) = max over k×k windows (stride s, no padding) of x (batch,h,w,c);
 * argmax (same shape, i32) = flat index into x of the first maximum in (ky, kx) order.
 * Samples [b0, b1) only (for threads).
 */
export function max_pool_forward(out: usize, argmax: usize, x: usize, batch: i32, h: i32, w: i32, c: i32, k: i32, stride: i32, ho: i32, wo: i32, b0: i32, b1: i32): void {
  const first = max(b0, 0);
  let o: usize = <usize>first * <usize>ho * <usize>wo * <usize>c;
  for (let b = first; b < min(b1, batch); b++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        const first = ((b * h + oy * stride) * w + ox * stride) * c; // index of (ky, kx) = (0, 0), channel 0
        let ch = 0;
        if (ASC_FEATURE_SIMD) {
          // Four channels at a time; a strict > keeps the first maximum, exactly as the scalar loop.
          for (; ch + 4 <= c; ch += 4) {
            let bi = i32x4.add(i32x4.splat(first + ch), i32x4(0, 1, 2, 3));
            let best = v128.load(x + (<usize>(first + ch) << 2));
            for (let ky = 0; ky < k; ky++) {
              for (let kx = 0; kx < k; kx++) {
                if (ky == 0 && kx == 0) continue;
                const idx = first + (ky * w + kx) * c + ch;
                const v = v128.load(x + (<usize>idx << 2));
                const gt = f32x4.gt(v, best);
                best = v128.bitselect(v, best, gt);
                bi = v128.bitselect(i32x4.add(i32x4.splat(idx), i32x4(0, 1, 2, 3)), bi, gt);
              }
            }
            v128.store(out + ((o + <usize>ch) << 2), best);
            v128.store(argmax + ((o + <usize>ch) << 2), bi);
          }
        }
        for (; ch < c; ch++) {
          let best = load<f32>(x + (<usize>(first + ch) << 2));
          let bi = first + ch;
          for (let ky = 0; ky < k; ky++) {
            for (let kx = 0; kx < k; kx++) {
              const idx = first + (ky * w + kx) * c + ch;
              const v = load<f32>(x + (<usize>idx << 2));
              if (v > best) { best = v; bi = idx; }
            }
          }
          store<f32>(out + ((o + <usize>ch) << 2), best);
          store<i32>(argmax + ((o + <usize>ch) << 2), bi);
        }
        o += <usize>c;
      }
    }
  }
}

/** dx[argmax[i]] += dout[i] for i in 0..n (n = batch·ho·wo·c), in order. */
export function max_pool_backward(dx: usize, dout: usize, argmax: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const p = dx + (<usize>load<i32>(argmax + (<usize>i << 2)) << 2);
    store<f32>(p, load<f32>(p) + load<f32>(dout + (<usize>i << 2)));
  }
}
