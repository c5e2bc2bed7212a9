/**
 * Late fusion of per-modality probabilities (no new parameters): mean, entropy-weighted mean, or
 * weights fitted on validation. Any subset of modalities may be present. Deterministic arithmetic.
 */
import { dexp, dlog } from '../util/detmath.js';
import { argmaxRows, accuracy } from './metrics.js';

export type FusionKind = 'mean' | 'entropy' | 'validation' | 'head';

/** Weighted mean of probabilities; `weights[m]` defaults to 1. Missing modalities are skipped. */
export function fuseMean(probs: Record<string, Float32Array>, n: number, classes: number, weights?: Record<string, number>): Float32Array {
  const out = new Float32Array(n * classes);
  const names = Object.keys(probs);
  if (names.length === 0) throw new Error('fusion needs at least one modality');
  const w = names.map((m) => weights?.[m] ?? 1);
  const total = w.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new Error(`fusion weights of ${names.join(', ')} sum to ${total}`);
  for (let i = 0; i < n * classes; i++) {
    let s = 0;
    names.forEach((m, k) => (s += w[k] * probs[m][i]));
    out[i] = s / total;
  }
  return out;
}

/** Per sample, weight each modality by softmax(−entropy) across modalities (confident ones count more). */
export function fuseEntropy(probs: Record<string, Float32Array>, n: number, classes: number): Float32Array {
  const names = Object.keys(probs);
  const out = new Float32Array(n * classes);
  const h = new Float64Array(names.length);
  for (let i = 0; i < n; i++) {
    names.forEach((m, k) => {
      let e = 0;
      for (let c = 0; c < classes; c++) {
        const p = probs[m][i * classes + c];
        if (p > 0) e -= p * dlog(p);
      }
      h[k] = e;
    });
    const hmin = Math.min(...h);
    const w = Array.from(h, (e) => dexp(hmin - e));
    const total = w.reduce((a, b) => a + b, 0);
    for (let c = 0; c < classes; c++) {
      let s = 0;
      names.forEach((m, k) => (s += w[k] * probs[m][i * classes + c]));
      out[i * classes + c] = s / total;
    }
  }
  return out;
}

/**
 * Fusion weights maximising validation accuracy: a grid over the simplex (step 0.05) for up to
 * three modalities, coordinate ascent beyond. Ties go to the weights closest to uniform.
 */
export function fitFusionWeights(probs: Record<string, Float32Array>, labels: Int32Array, classes: number): Record<string, number> {
  const names = Object.keys(probs);
  const n = labels.length;
  const score = (w: number[]) => accuracy(argmaxRows(fuseMean(probs, n, classes, Object.fromEntries(names.map((m, k) => [m, w[k]]))), n, classes), labels);
  const dist = (w: number[]) => w.reduce((s, x) => s + (x - 1 / names.length) ** 2, 0);
  let best = names.map(() => 1 / names.length);
  let bestScore = score(best);
  const consider = (w: number[]) => {
    if (w.reduce((a, b) => a + b, 0) <= 0) return;
    const s = score(w);
    if (s > bestScore + 1e-12 || (Math.abs(s - bestScore) <= 1e-12 && dist(w) < dist(best))) {
      best = w;
      bestScore = s;
    }
  };
  const steps = 20;
  if (names.length <= 3) {
    for (let a = 0; a <= steps; a++) {
      if (names.length === 1) break;
      if (names.length === 2) consider([a / steps, 1 - a / steps]);
      else for (let b = 0; a + b <= steps; b++) consider([a / steps, b / steps, (steps - a - b) / steps]);
    }
  } else {
    for (let round = 0; round < 3; round++)
      for (let k = 0; k < names.length; k++)
        for (let v = 0; v <= steps; v++) {
          const w = [...best];
          w[k] = (v / steps) * 2;
          consider(w);
        }
  }
  const total = best.reduce((a, b) => a + b, 0);
  return Object.fromEntries(names.map((m, k) => [m, best[k] / total]));
}
