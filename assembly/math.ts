// Deterministic transcendental functions for the kernels.
//
// Everything here is plain IEEE-754 arithmetic (add, mul, div, sqrt, nearest) in f64, so the result
// is the same bit pattern on every engine and every build. We do not use AssemblyScript's
// `Mathf.exp/log`: with the default shrink level they read lookup tables from a static data
// segment, and the threads build must have no data section (runtime.md).
//
// Accuracy: |relative error| < 1e-13 in f64 before the final rounding, so the f32 results are the
// correctly rounded value except in rare half-way cases.

const LOG2E: f64 = 1.4426950408889634;
const LN2_HI: f64 = 6.93147180369123816490e-01;
const LN2_LO: f64 = 1.90821492927058770002e-10;
const LN2: f64 = 0.6931471805599453;
const SQRT2: f64 = 1.4142135623730951;

/** e^x for x in f64, accurate to ~1e-14 relative on the range that matters for f32 results. */
// @ts-ignore: decorator
@inline export function expd(x: f64): f64 {
  if (x > 709.0) return Infinity;
  if (x < -745.0) return 0.0;
  if (x != x) return x;
  const n = nearest<f64>(x * LOG2E);
  const r = x - n * LN2_HI - n * LN2_LO; // |r| <= 0.347
  // Taylor series to degree 12 (truncation error < 2e-16 relative on |r| <= 0.347), Horner form.
  let p: f64 = 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // Scale by 2^n in two steps so that n down to -1074 stays representable.
  const ni = <i64>n;
  if (ni < -1000) {
    return p * reinterpret<f64>((ni + 1000 + 1023) << 52) * reinterpret<f64>(<i64>(1023 - 1000) << 52);
  }
  return p * reinterpret<f64>((ni + 1023) << 52);
}

/** Natural logarithm for x > 0 (returns -Infinity for 0, NaN for x < 0 or NaN). */
// @ts-ignore: decorator
@inline export function logd(x: f64): f64 {
  if (!(x > 0.0)) return x == 0.0 ? -Infinity : NaN;
  if (x == Infinity) return x;
  let bits = reinterpret<u64>(x);
  let e = <i64>((bits >> 52) & 0x7ff);
  if (e == 0) { // subnormal: normalise first
    x *= 18014398509481984.0; // 2^54
    bits = reinterpret<u64>(x);
    e = <i64>((bits >> 52) & 0x7ff) - 54;
  }
  e -= 1023;
  let m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000); // [1, 2)
  if (m > SQRT2) { m *= 0.5; e += 1; }
  // log(m) = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716; series to s^19.
  const s = (m - 1.0) / (m + 1.0);
  const s2 = s * s;
  let p: f64 = 1.0 / 19.0;
  p = p * s2 + 1.0 / 17.0;
  p = p * s2 + 1.0 / 15.0;
  p = p * s2 + 1.0 / 13.0;
  p = p * s2 + 1.0 / 11.0;
  p = p * s2 + 1.0 / 9.0;
  p = p * s2 + 1.0 / 7.0;
  p = p * s2 + 1.0 / 5.0;
  p = p * s2 + 1.0 / 3.0;
  p = p * s2 + 1.0;
  return <f64>e * LN2 + 2.0 * s * p;
}

/** tanh via e^(2x); exact limits for large |x|. */
// @ts-ignore: decorator
@inline export function tanhd(x: f64): f64 {
  if (x > 20.0) return 1.0;
  if (x < -20.0) return -1.0;
  if (x > -1e-5 && x < 1e-5) return x; // avoids cancellation near 0; error < 1e-15
  const e = expd(2.0 * x);
  return (e - 1.0) / (e + 1.0);
}

/** b^n for an integer n >= 0 by repeated squaring (deterministic, unlike engine pow). */
// @ts-ignore: decorator
@inline export function powi(b: f64, n: i32): f64 {
  let r: f64 = 1.0;
  let x = b;
  let e = n;
  while (e > 0) {
    if (e & 1) r *= x;
    x *= x;
    e >>= 1;
  }
  return r;
}

const PI: f64 = 3.141592653589793;

/** cos(x) for x in [-2π, 2π], by symmetry to [0, π/2] and a Taylor series (error < 1e-16). */
// @ts-ignore: decorator
@inline export function cosd(x: f64): f64 {
  let y = x < 0 ? -x : x; // even
  if (y > PI) y = 2.0 * PI - y; // cos(2π − y) = cos(y)
  let sign: f64 = 1.0;
  if (y > PI / 2.0) {
    y = PI - y;
    sign = -1.0;
  }
  const y2 = y * y;
  let p: f64 = 0;
  let term: f64 = 1;
  for (let k = 0; k <= 12; k++) {
    p += term;
    term *= -y2 / (<f64>(2 * k + 1) * <f64>(2 * k + 2));
  }
  return sign * p;
}
