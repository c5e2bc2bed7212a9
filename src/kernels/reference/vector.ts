/** Float64 twins of flat vectors (assembly/vector.ts); conventions in ./index.ts. */
import type { Vec } from './math.js';

/** Σ x[i]·y[i]; x, y are (n). */
export function dot(x: Vec, y: Vec): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

/** Σ x[i]²; x is (n). */
export function sumsq(x: Vec): number {
  return dot(x, x);
}

/** y + a·x; x, y are (n). */
export function axpy(y: Vec, x: Vec, a: number): Float64Array {
  return Float64Array.from(y, (v, i) => v + a * x[i]);
}

/** a·x; x is (n). */
export function scale(x: Vec, a: number): Float64Array {
  return Float64Array.from(x, (v) => v * a);
}

/** (n) copies of v. */
export function fill(n: number, v: number): Float64Array {
  return new Float64Array(n).fill(v);
}

/** A copy of x (n). */
export function copy(x: Vec): Float64Array {
  return Float64Array.from(x);
}

/** out (n, dim) = rows idx[i] of src (rows, dim). */
export function gatherRows(src: Vec, idx: ArrayLike<number>, dim: number): Float64Array {
  const out = new Float64Array(idx.length * dim);
  for (let i = 0; i < idx.length; i++) for (let j = 0; j < dim; j++) out[i * dim + j] = src[idx[i] * dim + j];
  return out;
}
