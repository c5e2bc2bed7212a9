/**
 * Deterministic elementary functions for the TypeScript side (learning-rate schedules, gradient
 * controllers). JavaScript's Math.exp/cos/tanh are not specified bit-exactly across engines; these
 * use only + − × ÷ and comparisons, which are IEEE-754 exact everywhere, and the same algorithms as
 * assembly/math.ts.
 */
const LOG2E = 1.4426950408889634;
const LN2_HI = 6.9314718036912382e-1;
const LN2_LO = 1.9082149292705877e-10;

function pow2(n: number): number {
  // 2^n for whole n in [-1074, 1023], exactly, without Math.pow.
  let r = 1;
  let b = n >= 0 ? 2 : 0.5;
  let e = Math.abs(n);
  while (e > 0) {
    if (e & 1) r *= b;
    b *= b;
    e >>= 1;
  }
  return r;
}

/** 2^n for n in [-1074, 1023] (POW2[n + 1074]), computed once by pow2: the same exact values, without its loop per call. */
const POW2 = Float64Array.from({ length: 2098 }, (_, i) => pow2(i - 1074));

/**
 * e^x. The Horner steps are written out (a loop over an array of coefficients made every call 3×
 * slower: calibrated fusion fits temperatures with ~200,000 calls per fit) and the powers of two
 * come from POW2; the same operations in the same order as before, so the same bits.
 */
export function dexp(x: number): number {
  if (Number.isNaN(x)) return x;
  if (x > 709) return Infinity;
  if (x < -745) return 0;
  const n = Math.round(x * LOG2E); // Math.round is exact
  const r = x - n * LN2_HI - n * LN2_LO;
  let p = 1 / 479001600;
  p = p * r + 1 / 39916800;
  p = p * r + 1 / 3628800;
  p = p * r + 1 / 362880;
  p = p * r + 1 / 40320;
  p = p * r + 1 / 5040;
  p = p * r + 1 / 720;
  p = p * r + 1 / 120;
  p = p * r + 1 / 24;
  p = p * r + 1 / 6;
  p = p * r + 0.5;
  p = p * r + 1;
  p = p * r + 1;
  return n < -1000 ? p * POW2[n + 1000 + 1074] * POW2[-1000 + 1074] : p * POW2[n + 1074];
}

export function dtanh(x: number): number {
  if (x > 20) return 1;
  if (x < -20) return -1;
  if (x > -1e-5 && x < 1e-5) return x;
  const e = dexp(2 * x);
  return (e - 1) / (e + 1);
}

/** cos(x) for x in [0, π] (what the cosine schedule needs), by symmetry and a Taylor series. */
export function dcosHalfTurn(x: number): number {
  if (!(x >= 0 && x <= Math.PI + 1e-12)) throw new RangeError(`dcosHalfTurn: x must be in [0, π], got ${x}`);
  // cos(x) = -cos(π - x): evaluate on [0, π/2].
  const flip = x > Math.PI / 2;
  const y = flip ? Math.PI - x : x;
  const y2 = y * y;
  let p = 0;
  // Σ (-1)^k y^(2k)/(2k)!, k = 0..12 (error < 1e-17 on [0, π/2])
  let term = 1;
  for (let k = 0; k <= 12; k++) {
    p += term;
    term *= -y2 / ((2 * k + 1) * (2 * k + 2));
  }
  return flip ? -p : p;
}

/** Natural logarithm for x > 0 (same algorithm as assembly/math.ts logd). */
export function dlog(x: number): number {
  if (!(x > 0)) return x === 0 ? -Infinity : NaN;
  if (x === Infinity) return x;
  let e = 0;
  let m = x;
  // Bring m into [1, 2) by exact scaling with powers of two.
  while (m >= 2) {
    m *= 0.5;
    e++;
  }
  while (m < 1) {
    m *= 2;
    e--;
  }
  if (m > Math.SQRT2) {
    m *= 0.5;
    e++;
  }
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let p = 1 / 19;
  p = p * s2 + 1 / 17;
  p = p * s2 + 1 / 15;
  p = p * s2 + 1 / 13;
  p = p * s2 + 1 / 11;
  p = p * s2 + 1 / 9;
  p = p * s2 + 1 / 7;
  p = p * s2 + 1 / 5;
  p = p * s2 + 1 / 3;
  p = p * s2 + 1;
  return e * 0.6931471805599453 + 2 * s * p;
}
