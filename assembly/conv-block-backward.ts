// The backward kernels of the fused convolution block; its contract (geometry, codes, bits, threads,
// aliasing) is the header of assembly/conv-block.ts.
import { padFloats, padSample } from './conv-block';

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
