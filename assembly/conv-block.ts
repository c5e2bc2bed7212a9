// Part of the conv family (ops/conv.ts, reference/conv.ts, test/cases/conv.ts); the unfused
// im2col/col2im/max-pool kernels are in assembly/conv.ts, this block's backward kernels in
// assembly/conv-block-backward.ts.
import { copy } from './conv';

// A convolution block: k×k 'same' convolution + bias + ReLU + 2×2 max-pool, fused ----------------
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
@inline export function padSample(xp: usize, x: usize, b: i32, h: i32, w: i32, c: i32, pad: i32): void {
  const wp = w + 2 * pad;
  memory.fill(xp, 0, <usize>((h + 2 * pad) * wp * c) << 2);
  const row = w * c;
  for (let iy = 0; iy < h; iy++) {
    copy(xp + (<usize>(((iy + pad) * wp + pad) * c) << 2), x + (<usize>((b * h + iy) * row) << 2), row);
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

/** Floats of one zero-padded sample (h+2·pad, w+2·pad, c), rounded up to 4: the forward's scratch, and where the weights kernel's dconv starts. */
// @ts-ignore: decorator
@inline export function padFloats(h: i32, wd: i32, c: i32, pad: i32): i32 {
  return ((h + 2 * pad) * (wd + 2 * pad) * c + 3) & ~3;
}
