/**
 * The training layer's last numeric JavaScript loops, each one small function shaped exactly like the
 * kernel that replaces it (same arguments, same float64 arithmetic: values read from f32, sums in
 * f64 in index order, one rounding per f32 store). The f64 kernel family (assembly/f64.ts, branch
 * `kern`) reproduces them bit for bit; once it is merged, each call becomes `K.<name>(...)` with the
 * arena argument dropped, and this file goes.
 */
import type { Arena, F32, I32 } from '../runtime/arena.js';

// kernel: rowNormalize
/** h (n,d) = f / (sqrt(Σ_j f²) + 1e-12) per row (DI-MML). h may be f itself. */
export function rowNormalize(arena: Arena, h: F32, f: F32, n: number, d: number): void {
  const fv = arena.viewF32(f),
    hv = arena.viewF32(h);
  for (let i = 0; i < n; i++) {
    const r = rowNorm(fv, i, d);
    for (let j = 0; j < d; j++) hv[i * d + j] = fv[i * d + j] / r;
  }
}

// kernel: rowNormalizeBackward
/** df (n,d) += (dh − h·(h·dh)) / (sqrt(Σ_j f²) + 1e-12) per row, h = rowNormalize(f) (DI-MML). df overlaps nothing. */
export function rowNormalizeBackward(arena: Arena, df: F32, dh: F32, h: F32, f: F32, n: number, d: number): void {
  const dv = arena.viewF32(df),
    gv = arena.viewF32(dh),
    hv = arena.viewF32(h),
    fv = arena.viewF32(f);
  for (let i = 0; i < n; i++) {
    let dot = 0;
    for (let j = 0; j < d; j++) dot += hv[i * d + j] * gv[i * d + j];
    const r = rowNorm(fv, i, d);
    for (let j = 0; j < d; j++) dv[i * d + j] += (gv[i * d + j] - hv[i * d + j] * dot) / r;
  }
}

/** |row i of f| + 1e-12, the sum of squares in f64 in order. */
function rowNorm(f: Float32Array, i: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += f[i * d + j] * f[i * d + j];
  return Math.sqrt(s) + 1e-12;
}

// kernel: sampleStd
/** sqrt(Σ(x − mean)² / (n − 1)) in f64, 0 when n < 2 (OGM-GE's per-tensor statistic). */
export function sampleStd(arena: Arena, x: F32): number {
  const v = arena.viewF32(x);
  let sum = 0;
  for (let k = 0; k < v.length; k++) sum += v[k];
  const mean = sum / v.length;
  let ss = 0;
  for (let k = 0; k < v.length; k++) ss += (v[k] - mean) * (v[k] - mean);
  return v.length > 1 ? Math.sqrt(ss / (v.length - 1)) : 0;
}

// kernel: labelProbSum
/** Σ_r p[r, labels[r]] in f64, p (rows,cols) probabilities (OGM-GE's score). */
export function labelProbSum(arena: Arena, p: F32, labels: I32, rows: number, cols: number): number {
  const pv = arena.viewF32(p),
    y = arena.viewI32(labels);
  let s = 0;
  for (let r = 0; r < rows; r++) s += pv[r * cols + y[r]];
  return s;
}

// kernel: biasAddScaled
/** out (rows,cols) += bias (cols) / divisor, the division and the sum in f64, rounded once (the joint head's block logits: bias / M). */
export function biasAddScaled(arena: Arena, out: F32, bias: F32, rows: number, cols: number, divisor: number): void {
  const b = arena.viewF32(bias),
    o = arena.viewF32(out);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) o[r * cols + c] += b[c] / divisor;
}
