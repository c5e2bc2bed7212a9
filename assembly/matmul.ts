// Matrix multiply in the three layouts backpropagation needs.
//
//   matmul_nn: C (m,n) = A (m,k)  · B (k,n)
//   matmul_nt: C (m,n) = A (m,k)  · Bᵀ, B is (n,k)
//   matmul_tn: C (m,n) = Aᵀ · B (k,n), A is (k,m)
//
// Semantics: C = (accumulate ? C : 0) + bias (if bias != 0, a row vector of n) + A·B, and every
// element adds its k products in order k = 0..k-1, each as a separate f32 multiply then add. (Without
// accumulate, the SIMD build starts the first depth block from the bias or 0 in registers rather
// than writing C and reading it back: the same values.)
// Both builds and every row partition perform exactly that sequence per element, so the scalar and
// SIMD builds and any thread count give bit-identical C.
//
// Threads: a call computes only the block rows [r0, r1) x columns [c0, c1) of C. Callers split the
// rows (each thread then packs all of B) or, when m < n, the columns (each thread packs only its
// columns of B, and all of A). `scratch` is private to the calling thread and holds
// matmul_scratch_floats() floats (packed panels of A and B, and one edge tile).
//
// Aliasing (matmul_nn, matmul_nt, matmul_tn): C must not overlap A, B or bias. C is written tile
// by tile (the scalar build: element by element, depth by depth) while A, B and bias are still read
// for later tiles, later depth blocks and, split over threads, by the other threads. scratch must
// overlap nothing. The wrapper (Kernels.matmul) rejects any overlap.
//
// SIMD build: GotoBLAS-style packing (B in 8-column strips of NC columns, A in 4-row tiles of MC
// rows, depth blocked by KC) and a 4x8 register-blocked f32x4 micro-kernel (8 accumulators). When a
// call has at most MC rows (a batch of 64 through a layer), a row-major B is read in place instead:
// its packing would be used by only m/4 tiles and cost about 5% of the call.

const KC: i32 = 256; // depth of one packed block
const MC: i32 = 64; // rows of A packed at once (multiple of 4)
const NC: i32 = 512; // columns of B packed at once (multiple of 8)

/** Size of the per-thread scratch buffer, in floats (independent of the shapes). */
export function matmul_scratch_floats(): i32 {
  return MC * KC + KC * NC + 32;
}

/** C block [r0,r1) x [c0,c1) := (accumulate ? C : 0) + bias. */
// @ts-ignore: decorator
@inline function initBlock(c: usize, bias: usize, n: i32, accumulate: i32, r0: i32, r1: i32, c0: i32, c1: i32): void {
  if (accumulate != 0 && bias == 0) return;
  const bytes = <usize>(c1 - c0) << 2;
  for (let i = r0; i < r1; i++) {
    const row = c + ((<usize>i * <usize>n + <usize>c0) << 2);
    if (accumulate == 0) {
      if (bias == 0) memory.fill(row, 0, bytes);
      else memory.copy(row, bias + (<usize>c0 << 2), bytes);
    } else {
      for (let j = 0; j < c1 - c0; j++) {
        const p = row + (<usize>j << 2);
        store<f32>(p, load<f32>(p) + load<f32>(bias + (<usize>(c0 + j) << 2)));
      }
    }
  }
}

// @ts-ignore: decorator
@inline function elemA(a: usize, i: i32, kk: i32, m: i32, k: i32, ta: bool): f32 {
  return ta ? load<f32>(a + ((<usize>kk * <usize>m + <usize>i) << 2)) : load<f32>(a + ((<usize>i * <usize>k + <usize>kk) << 2));
}

// @ts-ignore: decorator
@inline function elemB(b: usize, kk: i32, j: i32, n: i32, k: i32, tb: bool): f32 {
  return tb ? load<f32>(b + ((<usize>j * <usize>k + <usize>kk) << 2)) : load<f32>(b + ((<usize>kk * <usize>n + <usize>j) << 2));
}

/** Pack B[k0..k0+kc, j0..j0+nc) into 8-column strips: strip s, depth kk, lane jj at bp + ((s*kc + kk)*8 + jj)*4. */
// @ts-ignore: decorator
@inline function packB(bp: usize, b: usize, k0: i32, kc: i32, j0: i32, nc: i32, n: i32, k: i32, tb: bool): void {
  for (let j = 0; j < nc; j += 8) {
    const strip = bp + ((<usize>(j >> 3) * <usize>kc * 8) << 2);
    if (!tb && j + 8 <= nc) {
      for (let kk = 0; kk < kc; kk++) {
        const src = b + ((<usize>(k0 + kk) * <usize>n + <usize>(j0 + j)) << 2);
        const dst = strip + (<usize>kk << 5);
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
      }
    } else {
      for (let kk = 0; kk < kc; kk++) {
        const dst = strip + (<usize>kk << 5);
        for (let jj = 0; jj < 8; jj++) {
          const col = j + jj;
          store<f32>(dst + (<usize>jj << 2), col < nc ? elemB(b, k0 + kk, j0 + col, n, k, tb) : 0);
        }
      }
    }
  }
}

/** Pack rows [i0, i0+mc) x depth [k0, k0+kc) of A into 4-row tiles: tile t, depth kk, row r at ap + ((t*kc + kk)*4 + r)*4. */
// @ts-ignore: decorator
@inline function packA(ap: usize, a: usize, i0: i32, mc: i32, k0: i32, kc: i32, m: i32, k: i32, ta: bool): void {
  for (let i = 0; i < mc; i += 4) {
    const tile = ap + ((<usize>(i >> 2) * <usize>kc * 4) << 2);
    if (ta && i + 4 <= mc) {
      for (let kk = 0; kk < kc; kk++) {
        v128.store(tile + (<usize>kk << 4), v128.load(a + ((<usize>(k0 + kk) * <usize>m + <usize>(i0 + i)) << 2)));
      }
    } else if (!ta && i + 4 <= mc) {
      // 4 rows of A, 4 depths at a time: a 4x4 transpose with shuffles.
      const rs = <usize>k << 2;
      const src = a + ((<usize>(i0 + i) * <usize>k + <usize>k0) << 2);
      let kk = 0;
      for (; kk + 4 <= kc; kk += 4) {
        const p = src + (<usize>kk << 2);
        const r0 = v128.load(p), r1 = v128.load(p + rs), r2 = v128.load(p + 2 * rs), r3 = v128.load(p + 3 * rs);
        const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5); // a0 b0 a1 b1
        const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5); // c0 d0 c1 d1
        const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7); // a2 b2 a3 b3
        const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7); // c2 d2 c3 d3
        const dst = tile + (<usize>kk << 4);
        v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
        v128.store(dst, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16);
        v128.store(dst, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32);
        v128.store(dst, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48);
      }
      for (; kk < kc; kk++) {
        const p = src + (<usize>kk << 2);
        const dst = tile + (<usize>kk << 4);
        store<f32>(dst, load<f32>(p)); store<f32>(dst, load<f32>(p + rs), 4);
        store<f32>(dst, load<f32>(p + 2 * rs), 8); store<f32>(dst, load<f32>(p + 3 * rs), 12);
      }
    } else {
      for (let r = 0; r < 4; r++) {
        const row = i0 + i + r;
        const valid = i + r < mc;
        for (let kk = 0; kk < kc; kk++) {
          store<f32>(tile + ((<usize>kk << 4) + (<usize>r << 2)), valid ? elemA(a, row, k0 + kk, m, k, ta) : 0);
        }
      }
    }
  }
}

/**
 * C tile (4 rows of stride cs bytes, 8 columns) += packed A tile · packed B strip, depth kc.
 * With `fresh`, C's old values are not read: every row starts from the 8 values at `init` (the bias)
 * or, if init is 0, from zeros (what C would have been set to first).
 */
// @ts-ignore: decorator
@inline function kernel4x8(c: usize, cs: usize, ap: usize, bp: usize, bs: usize, kc: i32, fresh: bool, init: usize): void {
  let c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128;
  if (fresh) {
    const lo = init != 0 ? v128.load(init) : f32x4.splat(0), hi = init != 0 ? v128.load(init, 16) : f32x4.splat(0);
    c00 = lo; c10 = lo; c20 = lo; c30 = lo;
    c01 = hi; c11 = hi; c21 = hi; c31 = hi;
  } else {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(c + cs); c11 = v128.load(c + cs, 16);
    c20 = v128.load(c + 2 * cs); c21 = v128.load(c + 2 * cs, 16);
    c30 = v128.load(c + 3 * cs); c31 = v128.load(c + 3 * cs, 16);
  }
  const end = ap + (<usize>kc << 4);
  while (ap < end) {
    const b0 = v128.load(bp), b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = f32x4.add(c00, f32x4.mul(a, b0)); c01 = f32x4.add(c01, f32x4.mul(a, b1));
    a = v128.load32_splat(ap, 4);
    c10 = f32x4.add(c10, f32x4.mul(a, b0)); c11 = f32x4.add(c11, f32x4.mul(a, b1));
    a = v128.load32_splat(ap, 8);
    c20 = f32x4.add(c20, f32x4.mul(a, b0)); c21 = f32x4.add(c21, f32x4.mul(a, b1));
    a = v128.load32_splat(ap, 12);
    c30 = f32x4.add(c30, f32x4.mul(a, b0)); c31 = f32x4.add(c31, f32x4.mul(a, b1));
    ap += 16; bp += bs;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c + cs, c10); v128.store(c + cs, c11, 16);
  v128.store(c + 2 * cs, c20); v128.store(c + 2 * cs, c21, 16);
  v128.store(c + 3 * cs, c30); v128.store(c + 3 * cs, c31, 16);
}

// @ts-ignore: decorator
@inline function gemm(c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32, accumulate: i32, scratch: usize, r0: i32, r1: i32, c0: i32, c1: i32, ta: bool, tb: bool): void {
  if (r1 <= r0 || c1 <= c0) return;
  // SIMD, k > 0, not accumulating: C is not set first; the first depth block starts from the bias or 0.
  const fresh = ASC_FEATURE_SIMD && k > 0 && accumulate == 0;
  if (!fresh) initBlock(c, bias, n, accumulate, r0, r1, c0, c1);
  if (k <= 0) return;
  if (ASC_FEATURE_SIMD) {
    const ap = scratch;
    const bp = scratch + (<usize>(MC * KC) << 2);
    const tmp = bp + (<usize>(KC * NC) << 2); // 4x8 edge tile, row stride 32 bytes
    const cs = <usize>n << 2;
    for (let j0 = c0; j0 < c1; j0 += NC) {
      const nc = min(NC, c1 - j0);
      for (let k0 = 0; k0 < k; k0 += KC) {
        const kc = min(KC, k - k0);
        const first = fresh && k0 == 0;
        // One block of rows of A (a small m): read full strips of a row-major B in place, as packing
        // them would cost about as much as using them; pack only a partial last strip.
        const direct = !tb && r1 - r0 <= MC;
        if (!direct) packB(bp, b, k0, kc, j0, nc, n, k, tb);
        else if ((nc & 7) != 0) packB(bp + ((<usize>(nc >> 3) * <usize>kc * 8) << 2), b, k0, kc, j0 + (nc & ~7), nc & 7, n, k, tb);
        for (let i0 = r0; i0 < r1; i0 += MC) {
          const mc = min(MC, r1 - i0);
          packA(ap, a, i0, mc, k0, kc, m, k, ta);
          for (let j = 0; j < nc; j += 8) {
            const nj = min(8, nc - j);
            const inPlace = direct && nj == 8;
            const strip = inPlace ? b + ((<usize>k0 * <usize>n + <usize>(j0 + j)) << 2) : bp + ((<usize>(j >> 3) * <usize>kc * 8) << 2);
            const bs: usize = inPlace ? <usize>n << 2 : 32;
            for (let i = 0; i < mc; i += 4) {
              const tile = ap + ((<usize>(i >> 2) * <usize>kc * 4) << 2);
              const ctile = c + ((<usize>(i0 + i) * <usize>n + <usize>(j0 + j)) << 2);
              const mi = min(4, mc - i);
              if (mi == 4 && nj == 8) {
                kernel4x8(ctile, cs, tile, strip, bs, kc, first, bias != 0 ? bias + (<usize>(j0 + j) << 2) : 0);
              } else {
                // Edge tile: run the same micro-kernel on a copy, so every valid element gets the same arithmetic.
                for (let r = 0; r < 4; r++) {
                  for (let jj = 0; jj < 8; jj++) {
                    let v: f32 = 0;
                    if (r < mi && jj < nj) v = !first ? load<f32>(ctile + <usize>r * cs + (<usize>jj << 2)) : bias != 0 ? load<f32>(bias + (<usize>(j0 + j + jj) << 2)) : 0;
                    store<f32>(tmp + (<usize>(r * 8 + jj) << 2), v);
                  }
                }
                kernel4x8(tmp, 32, tile, strip, bs, kc, false, 0);
                for (let r = 0; r < mi; r++) {
                  for (let jj = 0; jj < nj; jj++) {
                    store<f32>(ctile + <usize>r * cs + (<usize>jj << 2), load<f32>(tmp + (<usize>(r * 8 + jj) << 2)));
                  }
                }
              }
            }
          }
        }
      }
    }
  } else {
    for (let i = r0; i < r1; i++) {
      const row = c + ((<usize>i * <usize>n) << 2);
      for (let kk = 0; kk < k; kk++) {
        const av = elemA(a, i, kk, m, k, ta);
        for (let j = c0; j < c1; j++) {
          const p = row + (<usize>j << 2);
          store<f32>(p, load<f32>(p) + av * elemB(b, kk, j, n, k, tb));
        }
      }
    }
  }
}

export function matmul_nn(c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32, accumulate: i32, scratch: usize, r0: i32, r1: i32, c0: i32, c1: i32): void {
  gemm(c, a, b, bias, m, n, k, accumulate, scratch, r0, r1, c0, c1, false, false);
}

export function matmul_nt(c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32, accumulate: i32, scratch: usize, r0: i32, r1: i32, c0: i32, c1: i32): void {
  gemm(c, a, b, bias, m, n, k, accumulate, scratch, r0, r1, c0, c1, false, true);
}

export function matmul_tn(c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32, accumulate: i32, scratch: usize, r0: i32, r1: i32, c0: i32, c1: i32): void {
  gemm(c, a, b, bias, m, n, k, accumulate, scratch, r0, r1, c0, c1, true, false);
}
