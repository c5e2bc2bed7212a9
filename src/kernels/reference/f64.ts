/**
 * Float64 twins of the f64 family (assembly/f64.ts); conventions in ./index.ts. These twins compute
 * exactly what the kernels do (f64, sums in order): pass f32 inputs and compare after Math.fround.
 */
import type { Vec } from './math.js';

const norm = (f: Vec, i: number, d: number) => {
  let s = 0;
  for (let j = 0; j < d; j++) s += f[i * d + j] * f[i * d + j];
  return Math.sqrt(s) + 1e-12;
};

/** h (n,d) = f / (sqrt(Σ_j f²) + 1e-12) per row. */
export function rowNormalize(f: Vec, n: number, d: number): Float64Array {
  const h = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const r = norm(f, i, d);
    for (let j = 0; j < d; j++) h[i * d + j] = f[i * d + j] / r;
  }
  return h;
}

/** df (n,d) = (dh − h·(h·dh)) / (|f| + 1e-12) per row, h the forward's output as given (the kernel adds df into its buffer). */
export function rowNormalizeBackward(dh: Vec, h: Vec, f: Vec, n: number, d: number): Float64Array {
  const df = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let dot = 0;
    for (let j = 0; j < d; j++) dot += h[i * d + j] * dh[i * d + j];
    const r = norm(f, i, d);
    for (let j = 0; j < d; j++) df[i * d + j] = (dh[i * d + j] - h[i * d + j] * dot) / r;
  }
  return df;
}

/** sqrt(Σ (x − mean)² / (n − 1)), 0 for n < 2. */
export function sampleStd(x: Vec): number {
  const n = x.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[i];
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
  return n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
}

/** Σ_r p[r·cols + labels[r]]. */
export function labelProbSum(p: Vec, labels: ArrayLike<number>, rows: number, cols: number): number {
  let s = 0;
  for (let r = 0; r < rows; r++) s += p[r * cols + labels[r]];
  return s;
}

/** out (rows,cols) + bias (cols) / divisor (the kernel adds into out and rounds once). */
export function biasAddScaled(out: Vec, bias: Vec, rows: number, cols: number, divisor: number): Float64Array {
  return Float64Array.from({ length: rows * cols }, (_, i) => out[i] + bias[i % cols] / divisor);
}
