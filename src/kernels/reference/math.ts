/** Shared helpers of the float64 twins (as assembly/math.ts is for the kernels). */

/** Any array of numbers: Float32Array, Float64Array, number[]. */
export type Vec = ArrayLike<number>;

/** max_j x[off + j] for j in [0, cols). */
export function rowMax(x: Vec, off: number, cols: number): number {
  let mx = -Infinity;
  for (let j = 0; j < cols; j++) mx = Math.max(mx, x[off + j]);
  return mx;
}

/** log Σ_j exp(x[off + j] − mx): log Σ exp(x) minus mx, kept apart from mx so huge logits do not absorb it. */
export function logSumExpShifted(x: Vec, off: number, cols: number, mx: number): number {
  let s = 0;
  for (let j = 0; j < cols; j++) s += Math.exp(x[off + j] - mx);
  return Math.log(s);
}
