/**
 * Principal components of a data matrix, deterministic: the covariance is accumulated with the WASM
 * matmul (Xᵀ·X over row chunks), then the leading eigenvectors come from power iteration with
 * deflation in plain f64 arithmetic (no engine-dependent Math calls), started from seeded vectors.
 */
import type { Runtime } from '../runtime/runtime.js';
import { Rng } from '../util/rng.js';

export interface Pca {
  mean: Float64Array;
  /** k × dim, row-major, unit length. */
  components: Float64Array;
  /** Variance along each component, and the total variance. */
  variances: number[];
  total: number;
}

/** Covariance (dim × dim) of n rows of `x`·scale (row-major), in f64. */
export function covariance(rt: Runtime, x: ArrayLike<number>, n: number, dim: number, scale = 1, chunk = 4096): { mean: Float64Array; cov: Float64Array } {
  const { arena, kernels: K } = rt;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += x[i * dim + j] * scale;
  for (let j = 0; j < dim; j++) mean[j] /= n;
  const cov = new Float64Array(dim * dim);
  const mark = arena.mark();
  try {
    const rows = Math.min(chunk, n);
    const xc = arena.f32(rows * dim);
    const part = arena.f32(dim * dim);
    for (let start = 0; start < n; start += rows) {
      const r = Math.min(rows, n - start);
      const v = arena.viewF32(xc);
      for (let i = 0; i < r; i++) for (let j = 0; j < dim; j++) v[i * dim + j] = x[(start + i) * dim + j] * scale - mean[j];
      const xr = { ...xc, length: r * dim };
      K.matmul(part, xr, xr, { m: dim, n: dim, k: r, layout: 'tn' });
      const p = arena.viewF32(part);
      for (let i = 0; i < dim * dim; i++) cov[i] += p[i];
    }
  } finally {
    arena.release(mark);
  }
  for (let i = 0; i < dim * dim; i++) cov[i] /= n;
  return { mean, cov };
}

/**
 * The top principal components of a covariance matrix, by power iteration with deflation: at most
 * `k`, and no more once `enough(variances)` holds. Each iteration stops when the eigenvalue estimate
 * changes by less than 1e-12 relative (or after `iterations`).
 */
export function topComponents(cov: Float64Array, dim: number, k: number, iterations = 500, seed = 0, enough: (variances: number[]) => boolean = () => false): { components: Float64Array; variances: number[] } {
  const a = Float64Array.from(cov);
  const comps = new Float64Array(k * dim);
  const variances: number[] = [];
  const rng = new Rng(seed, 13);
  const y = new Float64Array(dim);
  for (let c = 0; c < k; c++) {
    let v = Float64Array.from({ length: dim }, () => rng.next() / 2 ** 32 - 0.5);
    let lambda = 0;
    if (enough(variances)) break;
    for (let it = 0; it < iterations; it++) {
      for (let i = 0; i < dim; i++) {
        let s = 0;
        for (let j = 0; j < dim; j++) s += a[i * dim + j] * v[j];
        y[i] = s;
      }
      let norm = 0;
      for (let i = 0; i < dim; i++) norm += y[i] * y[i];
      norm = Math.sqrt(norm);
      if (norm === 0) break;
      const converged = Math.abs(norm - lambda) <= 1e-12 * norm;
      lambda = norm;
      v = Float64Array.from(y, (t) => t / norm);
      if (converged) break;
    }
    // Fix the sign (largest-magnitude entry positive) so the result does not depend on the start.
    let big = 0;
    for (let i = 1; i < dim; i++) if (Math.abs(v[i]) > Math.abs(v[big])) big = i;
    if (v[big] < 0) v = v.map((t) => -t);
    comps.set(v, c * dim);
    variances.push(lambda);
    for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) a[i * dim + j] -= lambda * v[i] * v[j];
  }
  return { components: comps.subarray(0, variances.length * dim), variances };
}

/** Project rows onto the components and reconstruct: mean + Σ_c ((x − mean)·v_c) v_c. */
export function reconstruct(x: ArrayLike<number>, n: number, dim: number, mean: Float64Array, comps: Float64Array, k: number): Float32Array {
  const out = new Float32Array(n * dim);
  const coef = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += (x[i * dim + j] - mean[j]) * comps[c * dim + j];
      coef[c] = s;
    }
    for (let j = 0; j < dim; j++) {
      let s = mean[j];
      for (let c = 0; c < k; c++) s += coef[c] * comps[c * dim + j];
      out[i * dim + j] = s;
    }
  }
  return out;
}
