/** Float64 twins of optimisers (assembly/optim.ts); conventions in ./index.ts. */
import type { Vec } from './math.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** The smallest normal f32: optimiser state below it is flushed to 0 (see assembly/optim.ts). */
const F32_MIN_NORMAL = 2 ** -126;
const flush = (x: number, min: number) => (Math.abs(x) < min ? 0 : x);

/**
 * One SGD step over p, g, v (n): g' = g + wd·p; v = momentum·v + g', flushed to 0 below
 * F32_MIN_NORMAL / lr (0 < lr < 1; else F32_MIN_NORMAL); p −= lr·(nesterov ? g' + momentum·v : v).
 */
export function sgdStep(p: Vec, g: Vec, v: Vec, o: SgdOptions): { p: Float64Array; v: Float64Array } {
  const mu = o.momentum ?? 0,
    wd = o.weightDecay ?? 0;
  const vmin = o.lr > 0 && o.lr < 1 ? F32_MIN_NORMAL / o.lr : F32_MIN_NORMAL;
  const np = new Float64Array(p.length),
    nv = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const gg = g[i] + wd * p[i];
    nv[i] = flush(mu * v[i] + gg, vmin);
    np[i] = p[i] - o.lr * (o.nesterov ? gg + mu * nv[i] : nv[i]);
  }
  return { p: np, v: nv };
}

export interface AdamWOptions {
  lr: number;
  step: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** One AdamW step t over p, g, m, v (n): m, v moments (flushed to 0 below F32_MIN_NORMAL); p −= lr·((m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps) + wd·p). */
export function adamwStep(p: Vec, g: Vec, m: Vec, v: Vec, o: AdamWOptions): { p: Float64Array; m: Float64Array; v: Float64Array } {
  const b1 = o.beta1 ?? 0.9,
    b2 = o.beta2 ?? 0.999,
    eps = o.eps ?? 1e-8,
    wd = o.weightDecay ?? 0;
  const bc1 = 1 - b1 ** o.step,
    bc2 = 1 - b2 ** o.step;
  const np = new Float64Array(p.length),
    nm = new Float64Array(p.length),
    nv = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    nm[i] = flush(b1 * m[i] + (1 - b1) * g[i], F32_MIN_NORMAL);
    nv[i] = flush(b2 * v[i] + (1 - b2) * g[i] * g[i], F32_MIN_NORMAL);
    np[i] = p[i] - o.lr * (nm[i] / bc1 / (Math.sqrt(nv[i] / bc2) + eps) + wd * p[i]);
  }
  return { p: np, m: nm, v: nv };
}
