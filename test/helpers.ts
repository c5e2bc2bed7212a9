/**
 * Shared test helpers: a seeded generator for shapes and data (never Math.random), comparisons that
 * report the max error next to the tolerance, bit-exact comparisons, and central differences.
 */
import { expect } from 'vitest';
import type { Runtime } from '../src/index.js';

/** Machine epsilon of f32 (2^-23); a rounding to f32 moves a value by at most EPS32/2 relative. */
export const EPS32 = 2 ** -23;
/** Smallest normal f32, a floor for tolerances of values that may underflow. */
export const TINY = 2 ** -126;

/** mulberry32: a tiny seeded generator of numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded random shapes and data. Arrays are Float32Array, so the kernels and the float64 reference see the same numbers. */
export class Rand {
  private readonly u: () => number;
  constructor(seed: number) {
    this.u = mulberry32(seed);
  }
  next(): number {
    return this.u();
  }
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.u();
  }
  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.u() * (hi - lo + 1));
  }
  normal(): number {
    const u = 1 - this.u(),
      v = this.u();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.u() * xs.length)];
  }
  /** n values uniform in [lo, hi), rounded to f32. */
  f32(n: number, lo = -1, hi = 1): Float32Array {
    return Float32Array.from({ length: n }, () => this.uniform(lo, hi));
  }
  /** n integers in [0, bound). */
  ints(n: number, bound: number): Int32Array {
    return Int32Array.from({ length: n }, () => Math.floor(this.u() * bound));
  }
}

export const abs = (v: ArrayLike<number>): Float64Array => Float64Array.from(v, Math.abs);
export const fround = (v: ArrayLike<number>): Float32Array => Float32Array.from(v);
export const maxAbs = (v: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]));
  return m;
};
export const add = (a: ArrayLike<number>, b: ArrayLike<number>): Float64Array => Float64Array.from(a, (v, i) => v + b[i]);

/** Per-element tolerance f·EPS32·|ref_i| + g·EPS32·max|ref| (+ TINY): f for roundings of each element, g for errors relative to the whole output. */
export function tolRel(ref: ArrayLike<number>, f: number, g = 0): Float64Array {
  const m = maxAbs(ref);
  return Float64Array.from(ref, (v) => EPS32 * (f * Math.abs(v) + g * m) + TINY);
}

/** Tolerance for an output accumulated as d0 + term: f·EPS32·(|d0_i| + |term_i|) + g·EPS32·max|term| (+ TINY). */
export function tolAcc(ref: ArrayLike<number>, d0: ArrayLike<number>, f: number, g = 0): Float64Array {
  const term = Float64Array.from(ref, (v, i) => v - d0[i]);
  const m = maxAbs(term);
  return Float64Array.from(ref, (_, i) => EPS32 * (f * (Math.abs(d0[i]) + Math.abs(term[i])) + g * m) + TINY);
}

export interface Comparison {
  /** Largest |got − ref|. */
  maxErr: number;
  /** The tolerance at the element with the largest |got − ref|. */
  tolAtMaxErr: number;
  /** Largest |got − ref| / tol over elements (0 when exact; Infinity for NaN or an error where tol is 0). */
  worst: number;
  /** Index of the worst element, and its values. */
  at: number;
  got: number;
  ref: number;
  tol: number;
}

/** Element-wise |got − ref| against a tolerance (a number, or one per element). */
export function compare(got: ArrayLike<number> | number, ref: ArrayLike<number> | number, tol: ArrayLike<number> | number): Comparison {
  const g = typeof got === 'number' ? [got] : got;
  const r = typeof ref === 'number' ? [ref] : ref;
  if (g.length !== r.length) throw new Error(`compare: got ${g.length} elements, reference has ${r.length}`);
  const t = (i: number) => (typeof tol === 'number' ? tol : tol[i]);
  const c: Comparison = { maxErr: 0, tolAtMaxErr: g.length ? t(0) : 0, worst: 0, at: -1, got: NaN, ref: NaN, tol: NaN };
  for (let i = 0; i < g.length; i++) {
    const err = Math.abs(g[i] - r[i]);
    const ratio = Number.isNaN(err) ? Infinity : err === 0 ? 0 : t(i) > 0 ? err / t(i) : Infinity;
    if (err > c.maxErr || Number.isNaN(err)) {
      c.maxErr = Number.isNaN(err) ? Infinity : err;
      c.tolAtMaxErr = t(i);
    }
    if (ratio > c.worst || c.at < 0) Object.assign(c, { worst: ratio, at: i, got: g[i], ref: r[i], tol: t(i) });
  }
  return c;
}

export const fmt = (v: number) => (v === 0 || !Number.isFinite(v) ? String(v) : v.toExponential(2));

export function describeComparison(label: string, c: Comparison): string {
  return `${label}: max |err| ${fmt(c.maxErr)} (tol there ${fmt(c.tolAtMaxErr)}); worst err/tol ${fmt(c.worst)} at [${c.at}] got ${c.got} ref ${c.ref} tol ${fmt(c.tol)}`;
}

/** Assert |got − ref| <= tol element-wise; the message names the max error and the tolerance. */
export function expectClose(label: string, got: ArrayLike<number> | number, ref: ArrayLike<number> | number, tol: ArrayLike<number> | number): Comparison {
  const c = compare(got, ref, tol);
  expect(c.worst <= 1, describeComparison(label, c)).toBe(true);
  return c;
}

/** Index of the first element whose bit patterns differ, or -1. */
export function firstBitDifference(a: Float32Array | Int32Array | number, b: Float32Array | Int32Array | number): number {
  const bits = (v: Float32Array | Int32Array | number) => (typeof v === 'number' ? new Uint32Array(Float32Array.of(v).buffer) : new Uint32Array(v.buffer, v.byteOffset, v.length));
  const x = bits(a),
    y = bits(b);
  if (x.length !== y.length) return 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** Assert two results have identical bytes. */
export function expectBitwise(label: string, a: Float32Array | Int32Array | number, b: Float32Array | Int32Array | number): void {
  const i = firstBitDifference(a, b);
  const show = (v: Float32Array | Int32Array | number) => (typeof v === 'number' ? v : `${v[i]} (of ${v.length})`);
  expect(i, `${label}: not bit-identical, first difference at [${i}]: ${show(a)} vs ${show(b)}`).toBe(-1);
}

/** Run `fn` and free everything it allocated in the runtime's arena. */
export function scoped<T>(rt: Runtime, fn: () => T): T {
  const mark = rt.arena.mark();
  try {
    return fn();
  } finally {
    rt.arena.release(mark);
  }
}

/** Central differences (f(x + h) − f(x − h)) / 2h of a scalar function, for every element of x. */
export function numericalGradient(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-5): Float64Array {
  const x = Float64Array.from(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + h;
    const fp = f(x);
    x[i] = v - h;
    const fm = f(x);
    x[i] = v;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** Σ g ⊙ y: turns an array-valued forward into the scalar whose gradient a backward computes for upstream gradient g. */
export const weightedSum = (g: ArrayLike<number>, y: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += g[i] * y[i];
  return s;
};
