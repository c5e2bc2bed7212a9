// 2-D convolution helpers and max-pooling, NHWC layout.
//
// A convolution is im2col followed by a matmul: with x (batch,h,w,c) and a filter bank W stored as
// (kh·kw·c, o), out (batch·ho·wo, o) = col · W + bias, where col (batch·ho·wo, kh·kw·c) holds each
// output position's receptive field in (ky, kx, channel) order, zero outside the padded input.
// Backward: dW += colᵀ·dout, dcol = dout·Wᵀ, dx += col2im(dcol).
// A convolution block (conv + bias + ReLU + 2×2 max-pool, the image CNN's layers) has fused kernels
// without a patch matrix, conv_relu_pool_*: their contract is at the end of this file.
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

// ---- A convolution block: k×k 'same' convolution + bias + ReLU + 2×2 max-pool, fused ----------------
//
// Geometry: x (batch,h,w,c); a k×k convolution with k = 2·pad + 1, stride 1, zero padding pad, so the
// convolution map is (batch,h,w,oc); w (k·k·c, oc) and bias (oc) as for conv2d; then ReLU; then a 2×2
// max-pool of stride 2: out (batch,h/2,w/2,oc) (floors: an odd last row or column of the map is not
// pooled, so it is not computed, and its gradient is 0).
// code (batch,h/2,w/2,oc, i32) = the window position (dy·2 + dx) of the first maximum of relu(conv) in
// (dy, dx) order, or −1 when that maximum is not > 0 (the ReLU blocks its gradient). With it the
// backward needs neither the map nor the ReLU's input.
//
// Bits: every conv value is bias (or 0) + its kh·kw·c products added in im2col order (ky, kx, ch),
// one f32 multiply then one add each, padding included as products with 0: exactly matmul_nn on the
// im2col matrix. ReLU is v > 0 ? v : 0 and the pool keeps the first strict maximum, as relu_forward
// and max_pool_forward. The backward computes dconv = 0 + dout at the window's code position (0
// elsewhere), as max_pool_backward then relu_backward into zeroed buffers do; dw (k·k·c, oc) += Σ over
// every map position in row order of x_patch·dconv (matmul_tn's order, accumulating into dw), dbias
// += Σ dconv in row order (bias_add_backward's), and dx (batch,h,w,c) = for each input pixel,
// 0 + Σ over the map positions that read it, in row order, of (0 + Σ_o dconv·w in o order) (matmul_nt
// then col2im). The scalar and SIMD builds and any thread split give the same bits, equal to the
// unfused layers' (conv2d, relu, maxPool and their backwards) as long as w is finite.
//
// Threads: forward and backward_input compute the samples [b0, b1); backward_weights the rows
// [k0, k1) of dw (any split; dbias with the range that ends at k·k·c), each over every sample,
// so the reduction order does not depend on the split. scratch is the calling thread's private
// buffer (the matmul scratch), holding one padded sample and one sample's dconv (and w transposed).
//
// Aliasing: out and code must not overlap x, w, bias or each other; dw, dbias, dx must not overlap
// each other nor dout, code, x, w. The wrappers reject any overlap.

/** xp (h+2·pad, w+2·pad, c) = sample b of x with a zero border of pad. */
// @ts-ignore: decorator
@inline function padSample(xp: usize, x: usize, b: i32, h: i32, w: i32, c: i32, pad: i32): void {
  const wp = w + 2 * pad;
  memory.fill(xp, 0, <usize>((h + 2 * pad) * wp * c) << 2);
  const row = w * c;
  for (let iy = 0; iy < h; iy++) {
    copy(xp + (<usize>(((iy + pad) * wp + pad) * c) << 2), x + (<usize>((b * h + iy) * row) << 2), row);
  }
}

/**
 * dc (rows of stride `rs` floats, starting at dc) = dconv of sample b: at each pooled output's code
 * position 0 + dout, 0 at every other map position (the caller zeroed the odd last row/column and borders).
 */
// @ts-ignore: decorator
@inline function unpool(dc: usize, rs: i32, dout: usize, code: usize, b: i32, hq: i32, wq: i32, oc: i32): void {
  for (let qy = 0; qy < hq; qy++) {
    for (let qx = 0; qx < wq; qx++) {
      const o = <usize>(((b * hq + qy) * wq + qx) * oc) << 2;
      const p0 = dc + (<usize>(2 * qy * rs + 2 * qx * oc) << 2);
      const p1 = p0 + (<usize>oc << 2), p2 = p0 + (<usize>rs << 2), p3 = p2 + (<usize>oc << 2);
      let j = 0;
      if (ASC_FEATURE_SIMD) {
        const z = f32x4.splat(0);
        for (; j + 4 <= oc; j += 4) {
          const jo = <usize>j << 2;
          const d = f32x4.add(z, v128.load(dout + o + jo));
          const cd = v128.load(code + o + jo);
          v128.store(p0 + jo, v128.and(d, i32x4.eq(cd, i32x4.splat(0))));
          v128.store(p1 + jo, v128.and(d, i32x4.eq(cd, i32x4.splat(1))));
          v128.store(p2 + jo, v128.and(d, i32x4.eq(cd, i32x4.splat(2))));
          v128.store(p3 + jo, v128.and(d, i32x4.eq(cd, i32x4.splat(3))));
        }
      }
      for (; j < oc; j++) {
        const jo = <usize>j << 2;
        const d: f32 = <f32>0 + load<f32>(dout + o + jo);
        const cd = load<i32>(code + o + jo);
        store<f32>(p0 + jo, cd == 0 ? d : 0);
        store<f32>(p1 + jo, cd == 1 ? d : 0);
        store<f32>(p2 + jo, cd == 2 ? d : 0);
        store<f32>(p3 + jo, cd == 3 ? d : 0);
      }
    }
  }
}

/** out, code (batch,h/2,w/2,oc) = maxpool2(relu(conv(x, w) + bias)), samples [b0, b1). */
export function conv_relu_pool_forward(out: usize, code: usize, x: usize, w: usize, bias: usize, h: i32, wd: i32, c: i32, oc: i32, pad: i32, scratch: usize, b0: i32, b1: i32): void {
  const k = 2 * pad + 1, kc = k * c, wp = wd + 2 * pad, rs = wp * c;
  const hq = h >> 1, wq = wd >> 1;
  const xp = scratch;
  const ob = <usize>oc << 2;
  for (let b = b0; b < b1; b++) {
    padSample(xp, x, b, h, wd, c, pad);
    for (let qy = 0; qy < hq; qy++) {
      for (let qx = 0; qx < wq; qx++) {
        const o = <usize>(((b * hq + qy) * wq + qx) * oc) << 2;
        // padded (2qy, 2qx) is the patch origin of map position (2qy, 2qx)
        const p00 = xp + (<usize>(2 * qy * rs + 2 * qx * c) << 2);
        const dxo = <usize>c << 2, dyo = <usize>rs << 2;
        let j = 0;
        if (ASC_FEATURE_SIMD) {
          const z = f32x4.splat(0);
          for (; j + 8 <= oc; j += 8) {
            const jo = <usize>j << 2;
            const lo = bias != 0 ? v128.load(bias + jo) : z, hi = bias != 0 ? v128.load(bias + jo, 16) : z;
            let a0 = lo, a1 = hi, b0v = lo, b1v = hi, c0 = lo, c1 = hi, d0 = lo, d1 = hi; // map (0,0) (0,1) (1,0) (1,1)
            let wrow = w + jo;
            for (let ky = 0; ky < k; ky++) {
              const xr = p00 + <usize>ky * dyo;
              for (let t = 0; t < kc; t++) {
                const xa = xr + (<usize>t << 2);
                const w0 = v128.load(wrow), w1 = v128.load(wrow, 16);
                let v = v128.load32_splat(xa);
                a0 = f32x4.add(a0, f32x4.mul(v, w0)); a1 = f32x4.add(a1, f32x4.mul(v, w1));
                v = v128.load32_splat(xa + dxo);
                b0v = f32x4.add(b0v, f32x4.mul(v, w0)); b1v = f32x4.add(b1v, f32x4.mul(v, w1));
                v = v128.load32_splat(xa + dyo);
                c0 = f32x4.add(c0, f32x4.mul(v, w0)); c1 = f32x4.add(c1, f32x4.mul(v, w1));
                v = v128.load32_splat(xa + dyo + dxo);
                d0 = f32x4.add(d0, f32x4.mul(v, w0)); d1 = f32x4.add(d1, f32x4.mul(v, w1));
                wrow += ob;
              }
            }
            poolStore(out + o + jo, code + o + jo, a0, b0v, c0, d0);
            poolStore(out + o + jo + 16, code + o + jo + 16, a1, b1v, c1, d1);
          }
          for (; j + 4 <= oc; j += 4) {
            const jo = <usize>j << 2;
            const lo = bias != 0 ? v128.load(bias + jo) : z;
            let a0 = lo, b0v = lo, c0 = lo, d0 = lo;
            let wrow = w + jo;
            for (let ky = 0; ky < k; ky++) {
              const xr = p00 + <usize>ky * dyo;
              for (let t = 0; t < kc; t++) {
                const xa = xr + (<usize>t << 2);
                const w0 = v128.load(wrow);
                a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(xa), w0));
                b0v = f32x4.add(b0v, f32x4.mul(v128.load32_splat(xa + dxo), w0));
                c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(xa + dyo), w0));
                d0 = f32x4.add(d0, f32x4.mul(v128.load32_splat(xa + dyo + dxo), w0));
                wrow += ob;
              }
            }
            poolStore(out + o + jo, code + o + jo, a0, b0v, c0, d0);
          }
        }
        for (; j < oc; j++) {
          const jo = <usize>j << 2;
          const init: f32 = bias != 0 ? load<f32>(bias + jo) : 0;
          let s0 = init, s1 = init, s2 = init, s3 = init;
          let wrow = w + jo;
          for (let ky = 0; ky < k; ky++) {
            const xr = p00 + <usize>ky * dyo;
            for (let t = 0; t < kc; t++) {
              const xa = xr + (<usize>t << 2);
              const wv = load<f32>(wrow);
              s0 = s0 + load<f32>(xa) * wv;
              s1 = s1 + load<f32>(xa + dxo) * wv;
              s2 = s2 + load<f32>(xa + dyo) * wv;
              s3 = s3 + load<f32>(xa + dyo + dxo) * wv;
              wrow += ob;
            }
          }
          s0 = s0 > 0 ? s0 : 0; s1 = s1 > 0 ? s1 : 0; s2 = s2 > 0 ? s2 : 0; s3 = s3 > 0 ? s3 : 0;
          let best = s0, bi = 0;
          if (s1 > best) { best = s1; bi = 1; }
          if (s2 > best) { best = s2; bi = 2; }
          if (s3 > best) { best = s3; bi = 3; }
          store<f32>(out + o + jo, best);
          store<i32>(code + o + jo, best > 0 ? bi : -1);
        }
      }
    }
  }
}

/** ReLU the four map values of a window (4 channels), keep the first strict maximum and its position. */
// @ts-ignore: decorator
@inline function poolStore(out: usize, code: usize, v0: v128, v1: v128, v2: v128, v3: v128): void {
  const z = f32x4.splat(0);
  let best = v128.and(v0, f32x4.gt(v0, z));
  let bi = i32x4.splat(0);
  let r = v128.and(v1, f32x4.gt(v1, z));
  let gt = f32x4.gt(r, best);
  best = v128.bitselect(r, best, gt); bi = v128.bitselect(i32x4.splat(1), bi, gt);
  r = v128.and(v2, f32x4.gt(v2, z));
  gt = f32x4.gt(r, best);
  best = v128.bitselect(r, best, gt); bi = v128.bitselect(i32x4.splat(2), bi, gt);
  r = v128.and(v3, f32x4.gt(v3, z));
  gt = f32x4.gt(r, best);
  best = v128.bitselect(r, best, gt); bi = v128.bitselect(i32x4.splat(3), bi, gt);
  v128.store(out, best);
  v128.store(code, v128.bitselect(bi, i32x4.splat(-1), f32x4.gt(best, z)));
}

/** Floats of scratch the block's kernels need: a padded sample, then one sample's dconv (padded by pad), then w transposed. */
// @ts-ignore: decorator
@inline function padFloats(h: i32, wd: i32, c: i32, pad: i32): i32 {
  return ((h + 2 * pad) * (wd + 2 * pad) * c + 3) & ~3;
}

/** dw rows [k0, k1) += x_patchᵀ·dconv over every sample and map position in row order; dbias += Σ dconv when k1 == k·k·c. */
export function conv_relu_pool_backward_weights(dw: usize, dbias: usize, dout: usize, code: usize, x: usize, batch: i32, h: i32, wd: i32, c: i32, oc: i32, pad: i32, scratch: usize, k0: i32, k1: i32): void {
  const k = 2 * pad + 1, kc = k * c, kk = k * kc, wp = wd + 2 * pad, rs = wp * c;
  const hq = h >> 1, wq = wd >> 1;
  const xp = scratch;
  const dc = scratch + (<usize>padFloats(h, wd, c, pad) << 2); // (h, wd, oc)
  const n = h * wd;
  const last = dbias != 0 && k1 >= kk;
  for (let b = 0; b < batch; b++) {
    padSample(xp, x, b, h, wd, c, pad);
    if ((h & 1) != 0 || (wd & 1) != 0) memory.fill(dc, 0, <usize>(n * oc) << 2);
    unpool(dc, wd * oc, dout, code, b, hq, wq, oc);
    if (last) {
      for (let r = 0; r < n; r++) {
        const src = dc + (<usize>(r * oc) << 2);
        let j = 0;
        if (ASC_FEATURE_SIMD) {
          for (; j + 4 <= oc; j += 4) {
            const jo = <usize>j << 2;
            v128.store(dbias + jo, f32x4.add(v128.load(dbias + jo), v128.load(src + jo)));
          }
        }
        for (; j < oc; j++) {
          const jo = <usize>j << 2;
          store<f32>(dbias + jo, load<f32>(dbias + jo) + load<f32>(src + jo));
        }
      }
    }
    for (let kt = k0; kt < k1; kt += 4) {
      const nk = min(4, k1 - kt);
      // x_patch[r, kidx] = xp[(oy·wp + ox)·c + off(kidx)], off = ky·rs + (kx·c + ch)
      const f0 = (kt / kc) * rs + kt % kc;
      const f1 = nk > 1 ? ((kt + 1) / kc) * rs + (kt + 1) % kc : 0;
      const f2 = nk > 2 ? ((kt + 2) / kc) * rs + (kt + 2) % kc : 0;
      const f3 = nk > 3 ? ((kt + 3) / kc) * rs + (kt + 3) % kc : 0;
      const o0 = <usize>f0 << 2, o1 = <usize>f1 << 2, o2 = <usize>f2 << 2, o3 = <usize>f3 << 2;
      let j = 0;
      if (ASC_FEATURE_SIMD && nk <= 2) {
        // A short last tile (e.g. the 9th row of a 3×3×1 filter bank): two rows, half the work of four.
        for (; j + 8 <= oc; j += 8) {
          const jo = <usize>j << 2;
          const r0 = dw + (<usize>(kt * oc) << 2) + jo, rsb = <usize>oc << 2;
          const z = f32x4.splat(0);
          let c00 = v128.load(r0), c01 = v128.load(r0, 16);
          let c10 = nk > 1 ? v128.load(r0 + rsb) : z, c11 = nk > 1 ? v128.load(r0 + rsb, 16) : z;
          let d = dc + jo;
          for (let oy = 0; oy < h; oy++) {
            let xa = xp + (<usize>(oy * rs) << 2);
            for (let ox = 0; ox < wd; ox++) {
              const g0 = v128.load(d), g1 = v128.load(d, 16);
              let a = v128.load32_splat(xa + o0);
              c00 = f32x4.add(c00, f32x4.mul(a, g0)); c01 = f32x4.add(c01, f32x4.mul(a, g1));
              a = v128.load32_splat(xa + o1);
              c10 = f32x4.add(c10, f32x4.mul(a, g0)); c11 = f32x4.add(c11, f32x4.mul(a, g1));
              xa += <usize>c << 2;
              d += rsb;
            }
          }
          v128.store(r0, c00); v128.store(r0, c01, 16);
          if (nk > 1) { v128.store(r0 + rsb, c10); v128.store(r0 + rsb, c11, 16); }
        }
      }
      if (ASC_FEATURE_SIMD) {
        for (; j + 8 <= oc; j += 8) {
          const jo = <usize>j << 2;
          const r0 = dw + (<usize>(kt * oc) << 2) + jo, rsb = <usize>oc << 2;
          const z = f32x4.splat(0);
          let c00 = v128.load(r0), c01 = v128.load(r0, 16);
          let c10 = nk > 1 ? v128.load(r0 + rsb) : z, c11 = nk > 1 ? v128.load(r0 + rsb, 16) : z;
          let c20 = nk > 2 ? v128.load(r0 + 2 * rsb) : z, c21 = nk > 2 ? v128.load(r0 + 2 * rsb, 16) : z;
          let c30 = nk > 3 ? v128.load(r0 + 3 * rsb) : z, c31 = nk > 3 ? v128.load(r0 + 3 * rsb, 16) : z;
          let d = dc + jo;
          for (let oy = 0; oy < h; oy++) {
            let xa = xp + (<usize>(oy * rs) << 2);
            for (let ox = 0; ox < wd; ox++) {
              const g0 = v128.load(d), g1 = v128.load(d, 16);
              let a = v128.load32_splat(xa + o0);
              c00 = f32x4.add(c00, f32x4.mul(a, g0)); c01 = f32x4.add(c01, f32x4.mul(a, g1));
              a = v128.load32_splat(xa + o1);
              c10 = f32x4.add(c10, f32x4.mul(a, g0)); c11 = f32x4.add(c11, f32x4.mul(a, g1));
              a = v128.load32_splat(xa + o2);
              c20 = f32x4.add(c20, f32x4.mul(a, g0)); c21 = f32x4.add(c21, f32x4.mul(a, g1));
              a = v128.load32_splat(xa + o3);
              c30 = f32x4.add(c30, f32x4.mul(a, g0)); c31 = f32x4.add(c31, f32x4.mul(a, g1));
              xa += <usize>c << 2;
              d += rsb;
            }
          }
          v128.store(r0, c00); v128.store(r0, c01, 16);
          if (nk > 1) { v128.store(r0 + rsb, c10); v128.store(r0 + rsb, c11, 16); }
          if (nk > 2) { v128.store(r0 + 2 * rsb, c20); v128.store(r0 + 2 * rsb, c21, 16); }
          if (nk > 3) { v128.store(r0 + 3 * rsb, c30); v128.store(r0 + 3 * rsb, c31, 16); }
        }
      }
      for (; j < oc; j++) {
        for (let i = 0; i < nk; i++) {
          const kidx = kt + i;
          const off = <usize>((kidx / kc) * rs + kidx % kc) << 2;
          const p = dw + (<usize>(kidx * oc + j) << 2);
          let acc = load<f32>(p);
          let d = dc + (<usize>j << 2);
          for (let oy = 0; oy < h; oy++) {
            let xa = xp + (<usize>(oy * rs) << 2) + off;
            for (let ox = 0; ox < wd; ox++) {
              acc = acc + load<f32>(xa) * load<f32>(d);
              xa += <usize>c << 2;
              d += <usize>oc << 2;
            }
          }
          store<f32>(p, acc);
        }
      }
    }
  }
}

/** dx (batch,h,w,c) = the input gradient of the block for samples [b0, b1) (overwritten, not accumulated). */
export function conv_relu_pool_backward_input(dx: usize, dout: usize, code: usize, w: usize, batch: i32, h: i32, wd: i32, c: i32, oc: i32, pad: i32, scratch: usize, b0: i32, b1: i32): void {
  const k = 2 * pad + 1, kk = k * k * c, hq = h >> 1, wq = wd >> 1;
  const hp = h + 2 * pad, wp = wd + 2 * pad;
  // wT (k·k, oc, c): the c input channels of one tap and output channel side by side
  const wt = scratch;
  for (let tap = 0; tap < k * k; tap++) {
    for (let o = 0; o < oc; o++) {
      for (let ch = 0; ch < c; ch++) {
        store<f32>(wt + (<usize>((tap * oc + o) * c + ch) << 2), load<f32>(w + (<usize>((tap * c + ch) * oc + o) << 2)));
      }
    }
  }
  const dcp = scratch + (<usize>((kk * oc + 3) & ~3) << 2); // (hp, wp, oc), zero border
  const rsd = wp * oc;
  const tapb = <usize>(oc * c) << 2;
  for (let b = b0; b < b1; b++) {
    memory.fill(dcp, 0, <usize>(hp * rsd) << 2);
    unpool(dcp + (<usize>(pad * rsd + pad * oc) << 2), rsd, dout, code, b, hq, wq, oc);
    for (let iy = 0; iy < h; iy++) {
      let ix0 = 0;
      if (ASC_FEATURE_SIMD && (c & 7) == 0) {
        // Four pixels × 8 channels at a time: 8 partial sums in registers, the totals added in dx
        // itself (from 0, one tap after the other: the same order per element).
        const cb = <usize>c << 2;
        for (; ix0 + 4 <= wd; ix0 += 4) {
          const dst = dx + (<usize>(((b * h + iy) * wd + ix0) * c) << 2);
          for (let ch = 0; ch < c; ch += 8) {
            const d0 = dst + (<usize>ch << 2);
            const z = f32x4.splat(0);
            for (let p = 0; p < 4; p++) { v128.store(d0 + <usize>p * cb, z); v128.store(d0 + <usize>p * cb, z, 16); }
            for (let ky = k - 1; ky >= 0; ky--) {
              for (let kx = k - 1; kx >= 0; kx--) {
                const dp = dcp + (<usize>((iy + 2 * pad - ky) * rsd + (ix0 + 2 * pad - kx) * oc) << 2);
                const ob = <usize>oc << 2;
                let wp2 = wt + <usize>(ky * k + kx) * tapb + (<usize>ch << 2);
                let t0 = z, t1 = z, u0 = z, u1 = z, v0 = z, v1 = z, s0 = z, s1 = z;
                for (let o = 0; o < oc; o++) {
                  const w0 = v128.load(wp2), w1 = v128.load(wp2, 16);
                  const q = dp + (<usize>o << 2);
                  let g = v128.load32_splat(q);
                  t0 = f32x4.add(t0, f32x4.mul(g, w0)); t1 = f32x4.add(t1, f32x4.mul(g, w1));
                  g = v128.load32_splat(q + ob);
                  u0 = f32x4.add(u0, f32x4.mul(g, w0)); u1 = f32x4.add(u1, f32x4.mul(g, w1));
                  g = v128.load32_splat(q + 2 * ob);
                  v0 = f32x4.add(v0, f32x4.mul(g, w0)); v1 = f32x4.add(v1, f32x4.mul(g, w1));
                  g = v128.load32_splat(q + 3 * ob);
                  s0 = f32x4.add(s0, f32x4.mul(g, w0)); s1 = f32x4.add(s1, f32x4.mul(g, w1));
                  wp2 += cb;
                }
                v128.store(d0, f32x4.add(v128.load(d0), t0)); v128.store(d0, f32x4.add(v128.load(d0, 16), t1), 16);
                const e1 = d0 + cb, e2 = d0 + 2 * cb, e3 = d0 + 3 * cb;
                v128.store(e1, f32x4.add(v128.load(e1), u0)); v128.store(e1, f32x4.add(v128.load(e1, 16), u1), 16);
                v128.store(e2, f32x4.add(v128.load(e2), v0)); v128.store(e2, f32x4.add(v128.load(e2, 16), v1), 16);
                v128.store(e3, f32x4.add(v128.load(e3), s0)); v128.store(e3, f32x4.add(v128.load(e3, 16), s1), 16);
              }
            }
          }
        }
        // Two pixels × 8 channels at a time (4 partial sums, 4 totals in registers); the same order per element.
        for (; ix0 + 2 <= wd; ix0 += 2) {
          const dst = dx + (<usize>(((b * h + iy) * wd + ix0) * c) << 2);
          for (let ch = 0; ch < c; ch += 8) {
            let a0 = f32x4.splat(0), a1 = a0, e0 = a0, e1 = a0; // pixel ix0: a0 a1, pixel ix0+1: e0 e1
            for (let ky = k - 1; ky >= 0; ky--) {
              for (let kx = k - 1; kx >= 0; kx--) {
                const dp = dcp + (<usize>((iy + 2 * pad - ky) * rsd + (ix0 + 2 * pad - kx) * oc) << 2);
                const dq = dp + (<usize>oc << 2);
                let wp2 = wt + <usize>(ky * k + kx) * tapb + (<usize>ch << 2);
                let t0 = f32x4.splat(0), t1 = t0, u0 = t0, u1 = t0;
                for (let o = 0; o < oc; o++) {
                  const w0 = v128.load(wp2), w1 = v128.load(wp2, 16);
                  const g = v128.load32_splat(dp + (<usize>o << 2)), q = v128.load32_splat(dq + (<usize>o << 2));
                  t0 = f32x4.add(t0, f32x4.mul(g, w0)); t1 = f32x4.add(t1, f32x4.mul(g, w1));
                  u0 = f32x4.add(u0, f32x4.mul(q, w0)); u1 = f32x4.add(u1, f32x4.mul(q, w1));
                  wp2 += cb;
                }
                a0 = f32x4.add(a0, t0); a1 = f32x4.add(a1, t1);
                e0 = f32x4.add(e0, u0); e1 = f32x4.add(e1, u1);
              }
            }
            const d0 = dst + (<usize>ch << 2);
            v128.store(d0, a0); v128.store(d0, a1, 16);
            v128.store(d0 + cb, e0); v128.store(d0 + cb, e1, 16);
          }
        }
      }
      for (let ix = ix0; ix < wd; ix++) {
        const dst = dx + (<usize>(((b * h + iy) * wd + ix) * c) << 2);
        let ch = 0;
        if (ASC_FEATURE_SIMD) {
          for (; ch + 4 <= c; ch += 4) {
            let acc = f32x4.splat(0);
            for (let ky = k - 1; ky >= 0; ky--) {
              for (let kx = k - 1; kx >= 0; kx--) {
                // map position (iy + pad − ky, ix + pad − kx), at padded (iy + 2pad − ky, ix + 2pad − kx)
                const dp = dcp + (<usize>((iy + 2 * pad - ky) * rsd + (ix + 2 * pad - kx) * oc) << 2);
                let wp2 = wt + <usize>(ky * k + kx) * tapb + (<usize>ch << 2);
                let t = f32x4.splat(0);
                for (let o = 0; o < oc; o++) {
                  t = f32x4.add(t, f32x4.mul(v128.load32_splat(dp + (<usize>o << 2)), v128.load(wp2)));
                  wp2 += <usize>c << 2;
                }
                acc = f32x4.add(acc, t);
              }
            }
            v128.store(dst + (<usize>ch << 2), acc);
          }
        }
        for (; ch < c; ch++) {
          let acc: f32 = 0;
          for (let ky = k - 1; ky >= 0; ky--) {
            for (let kx = k - 1; kx >= 0; kx--) {
              const dp = dcp + (<usize>((iy + 2 * pad - ky) * rsd + (ix + 2 * pad - kx) * oc) << 2);
              let wp2 = wt + <usize>(ky * k + kx) * tapb + (<usize>ch << 2);
              let t: f32 = 0;
              for (let o = 0; o < oc; o++) {
                t = t + load<f32>(dp + (<usize>o << 2)) * load<f32>(wp2);
                wp2 += <usize>c << 2;
              }
              acc = acc + t;
            }
          }
          store<f32>(dst + (<usize>ch << 2), acc);
        }
      }
    }
  }
  void batch;
}
