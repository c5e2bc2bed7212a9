// Flat-vector ops over whole buffers (parameters, gradients, moments).
//
// Reductions use four interleaved f32 partial sums, lane l taking elements i with i % 4 == l, combined
// as (s0 + s1) + (s2 + s3), then the tail (n % 4 elements) added in order. The scalar build does the
// same, so both builds give bit-identical results.
//
// Aliasing ("may be" = the very same buffer):
//   dot, sumsq: write nothing.  scale, fill: one buffer.
//   axpy: y may be x (element-wise: y = (1 + a)·y).
//   copy: dst may be src (a no-op). A partial overlap is rejected: memory.copy alone would handle
//                     it, but split over the pool one thread would overwrite source elements
//                     another thread has yet to read.
//   gather_rows: out must not overlap src (a row may be read after it is overwritten) nor idx.

// @ts-ignore: decorator
@inline function lanes(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Σ x[i]·y[i]; x, y are (n). */
export function dot(x: usize, y: usize, n: i32): f32 {
  const n4 = n & ~3;
  let s: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    let acc = f32x4.splat(0);
    for (let i = 0; i < n4; i += 4) {
      const o = <usize>i << 2;
      acc = f32x4.add(acc, f32x4.mul(v128.load(x + o), v128.load(y + o)));
    }
    s = lanes(acc);
  } else {
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (let i = 0; i < n4; i += 4) {
      const o = <usize>i << 2;
      s0 += load<f32>(x + o) * load<f32>(y + o);
      s1 += load<f32>(x + o, 4) * load<f32>(y + o, 4);
      s2 += load<f32>(x + o, 8) * load<f32>(y + o, 8);
      s3 += load<f32>(x + o, 12) * load<f32>(y + o, 12);
    }
    s = (s0 + s1) + (s2 + s3);
  }
  for (let i = n4; i < n; i++) s += load<f32>(x + (<usize>i << 2)) * load<f32>(y + (<usize>i << 2));
  return s;
}

/** Σ x[i]²; x is (n). */
export function sumsq(x: usize, n: i32): f32 {
  return dot(x, x, n);
}

/** y += a·x; x, y are (n). */
export function axpy(y: usize, x: usize, n: i32, a: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const av = f32x4.splat(a);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(av, v128.load(x + o))));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) + a * load<f32>(x + o));
  }
}

/** x *= a; x is (n). */
export function scale(x: usize, n: i32, a: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const av = f32x4.splat(a);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(x + o, f32x4.mul(v128.load(x + o), av));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) * a);
  }
}

/** x[i] = v; x is (n). */
export function fill(x: usize, n: i32, v: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vv = f32x4.splat(v);
    for (; i + 4 <= n; i += 4) v128.store(x + (<usize>i << 2), vv);
  }
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), v);
}

/** dst = src; both (n), may not overlap partially. */
export function copy(dst: usize, src: usize, n: i32): void {
  if (n > 0) memory.copy(dst, src, <usize>n << 2);
}

/** out (n, dim) = rows idx[i] of src (rows, dim), for i in [r0, r1) only; idx is (n) i32, checked by the caller. */
export function gather_rows(out: usize, src: usize, idx: usize, n: i32, dim: i32, r0: i32, r1: i32): void {
  const bytes = <usize>dim << 2;
  for (let i = max(r0, 0); i < min(r1, n); i++) {
    memory.copy(out + <usize>i * bytes, src + <usize>load<i32>(idx + (<usize>i << 2)) * bytes, bytes);
  }
}
