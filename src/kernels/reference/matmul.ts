/** Float64 twins of matmul (assembly/matmul.ts); conventions in ./index.ts. */
import type { MatmulLayout } from '../ops.js';
import type { Vec } from './math.js';

/** Floats of matmul scratch per thread: MC·KC packed A + KC·NC packed B + one 4×8 edge tile. */
export const MATMUL_SCRATCH_FLOATS = 64 * 256 + 256 * 512 + 32;

const elemA = (a: Vec, layout: MatmulLayout, i: number, p: number, m: number, k: number) => (layout === 'tn' ? a[p * m + i] : a[i * k + p]);
const elemB = (b: Vec, layout: MatmulLayout, p: number, j: number, n: number, k: number) => (layout === 'nt' ? b[j * k + p] : b[p * n + j]);

/** C (m,n) = c0 (m,n; or 0) + bias (n; or 0) + op(A)·op(B); 'nn': A (m,k), B (k,n); 'nt': B is (n,k); 'tn': A is (k,m). */
export function matmul(a: Vec, b: Vec, m: number, n: number, k: number, layout: MatmulLayout = 'nn', bias: Vec | null = null, c0: Vec | null = null): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = (c0 ? c0[i * n + j] : 0) + (bias ? bias[j] : 0);
      for (let p = 0; p < k; p++) s += elemA(a, layout, i, p, m, k) * elemB(b, layout, p, j, n, k);
      c[i * n + j] = s;
    }
  }
  return c;
}

/** dA (A's layout), dB (B's layout), dbias (n) of Σ dC ⊙ matmul(A, B, ...); dC is (m,n). */
export function matmulBackward(dc: Vec, a: Vec, b: Vec, m: number, n: number, k: number, layout: MatmulLayout = 'nn'): { da: Float64Array; db: Float64Array; dbias: Float64Array } {
  const da = new Float64Array(m * k),
    db = new Float64Array(k * n),
    dbias = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += dc[i * n + j] * elemB(b, layout, p, j, n, k);
      da[layout === 'tn' ? p * m + i : i * k + p] = s;
    }
  }
  for (let p = 0; p < k; p++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += elemA(a, layout, i, p, m, k) * dc[i * n + j];
      db[layout === 'nt' ? j * k + p : p * n + j] = s;
    }
  }
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) dbias[j] += dc[i * n + j];
  return { da, db, dbias };
}

/**
 * dx (rows,in), dw (in,out), dbias (out) of Σ dy ⊙ (x·w + bias), x (rows,in), w (in,out), dy (rows,out):
 * the twin of linearBackward (which adds dw and dbias into its buffers and writes dx).
 */
export function linearBackward(dy: Vec, x: Vec, w: Vec, rows: number, inFeatures: number, outFeatures: number): { dx: Float64Array; dw: Float64Array; dbias: Float64Array } {
  const g = matmulBackward(dy, x, w, rows, outFeatures, inFeatures, 'nn');
  return { dx: g.da, dw: g.db, dbias: g.dbias };
}
