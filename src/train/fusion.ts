/**
 * Late fusion of per-modality probabilities: mean, entropy-weighted mean, weights fitted on
 * validation, or a mean of temperature-calibrated probabilities (one temperature per modality fitted
 * on validation NLL). Any subset of modalities may be present. Deterministic arithmetic.
 */
import { UdiError } from '../errors.js';
import { dexp, dlog } from '../util/detmath.js';
import { argmaxRows, accuracy } from './metrics.js';

export type FusionKind = 'mean' | 'entropy' | 'validation' | 'calibrated' | 'head';

/** Weighted mean of probabilities; `weights[m]` defaults to 1. Missing modalities are skipped. */
export function fuseMean(probs: Record<string, Float32Array>, n: number, classes: number, weights?: Record<string, number>): Float32Array {
  const out = new Float32Array(n * classes);
  const names = Object.keys(probs);
  if (names.length === 0) throw new UdiError('BAD_OPTIONS', 'fusion needs at least one modality');
  const w = names.map((m) => weights?.[m] ?? 1);
  const total = w.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new UdiError('BAD_OPTIONS', `fusion weights of ${names.join(', ')} sum to ${total}; they must be finite, >= 0 and not all 0 (a model's fusionWeights: retrain it or fix the checkpoint)`);
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

/** Smallest probability taken inside a log when re-tempering (float32 softmax rows may hold 0). */
export const P_MIN = 1e-30;

/**
 * Temperature scaling of probability rows: softmax(log max(p, 1e-30) / T). For p = softmax(z) this is
 * softmax(z / T) wherever no probability is below 1e-30; float32 rows of a confident model can
 * underflow to 0, and such classes count as log-probability −69. Fitting (fitTemperature) and
 * prediction use this same formula, so the calibration is consistent. T > 1 softens, T < 1 sharpens.
 */
export function temperatureScale(p: Float32Array, n: number, classes: number, T: number): Float32Array {
  const out = new Float32Array(n * classes);
  const row = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      row[c] = dlog(Math.max(p[i * classes + c], P_MIN)) / T;
      if (row[c] > max) max = row[c];
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += row[c] = dexp(row[c] - max);
    for (let c = 0; c < classes; c++) out[i * classes + c] = row[c] / sum;
  }
  return out;
}

/** Row-wise log of probabilities clamped at 1e-30 (float64). */
function logProbs(p: Float32Array): Float64Array {
  const out = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = dlog(Math.max(p[i], P_MIN));
  return out;
}

/** Mean negative log-likelihood of the labels under softmax(logp / T); `row` holds one row's logp / T. */
function temperedNll(logp: Float64Array, labels: Int32Array, classes: number, T: number, row: Float64Array): number {
  const n = labels.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, (row[c] = logp[i * classes + c] / T));
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += dexp(row[c] - max);
    total += max + dlog(sum) - row[labels[i]];
  }
  return total / Math.max(1, n);
}

/**
 * The temperature minimising validation NLL (temperature scaling, Guo et al. 2017, "On calibration
 * of modern neural networks"), by golden-section search on log T over [1/20, 20]; 40 iterations fix
 * log T to 1e-8. NLL of softmax(z/T) is convex in 1/T, so it has one minimum along log T.
 */
export function fitTemperature(p: Float32Array, labels: Int32Array, classes: number): number {
  const logp = logProbs(p);
  const row = new Float64Array(classes);
  const f = (logT: number) => temperedNll(logp, labels, classes, dexp(logT), row);
  const g = (Math.sqrt(5) - 1) / 2;
  let a = -dlog(20),
    b = dlog(20);
  let x1 = b - g * (b - a),
    x2 = a + g * (b - a);
  let f1 = f(x1),
    f2 = f(x2);
  for (let it = 0; it < 40; it++) {
    if (f1 <= f2) {
      b = x2;
      x2 = x1;
      f2 = f1;
      x1 = b - g * (b - a);
      f1 = f(x1);
    } else {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + g * (b - a);
      f2 = f(x2);
    }
  }
  return dexp((a + b) / 2);
}

/** Mean of the modalities' temperature-scaled probabilities (a missing temperature counts as 1). */
export function fuseCalibrated(probs: Record<string, Float32Array>, n: number, classes: number, temperatures: Record<string, number>): Float32Array {
  const scaled = Object.fromEntries(Object.entries(probs).map(([m, p]) => [m, (temperatures[m] ?? 1) === 1 ? p : temperatureScale(p, n, classes, temperatures[m])]));
  return fuseMean(scaled, n, classes);
}

/** Late fusion of own-head probabilities as a trained model does it (mean for 'head' when modalities are missing). */
export function fuseProbs(probs: Record<string, Float32Array>, n: number, C: number, m: { fusion: FusionKind | 'joint'; fusionWeights?: Record<string, number>; fusionTemperatures?: Record<string, number> }): Float32Array {
  if (m.fusion === 'entropy') return fuseEntropy(probs, n, C);
  if (m.fusion === 'calibrated') return fuseCalibrated(probs, n, C, m.fusionTemperatures ?? {});
  return fuseMean(probs, n, C, m.fusion === 'validation' ? m.fusionWeights : undefined);
}
