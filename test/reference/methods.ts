/**
 * Float64 references of one training step of every method: the loss parts, the gradients of the
 * parameters the method trains, and the method's gradient rule (UDI's controller, OGM-GE's
 * modulation, MMPareto's combination), written from shared/notes/udi-method.md and the papers:
 *
 *   UDI        udi-method.md §4-5 (Wang et al., arXiv 2509.02281 + this project's [ours] choices)
 *   OGM-GE     Peng et al., CVPR 2022, eq. (10) and its reference code's per-tensor noise
 *   MMPareto   Wei & Hu, ICML 2024, Alg. 1 and its reference code's rescaling (see paretoRescale)
 *   UMT        Du et al., ICML 2023: joint CE + MSE between each encoder's features and its teacher's
 *   DI-MML     Fan et al., ACM MM 2024, as src/train/methods/di-mml.ts's header simplifies it (see dimmlObjective)
 *
 * Conventions the notes leave open, written down here (each checked against the engine by the tests):
 *   - xcorr standardisation: population variance over the batch, eps = 1e-5 inside the sqrt (losses.ts);
 *   - the JS clamp is torch.clamp-like: log(max(p, eps)), zero derivative where it binds (losses.ts);
 *   - CE in the guided stage is at T = 1; only the JS term sees the temperature, on both sides;
 *   - the controller's g_con, g_com are over the follower's encoder AND head parameters, flattened;
 *   - OGM-GE's score uses each modality's block of the joint head with bias/2 (the reference code's
 *     out_v = v·W_vᵀ + b/2), noise std = sample std (n − 1, torch's default) + 1e-8, every tensor of the
 *     dominant encoder modulated (the notes; the reference code skips biases / non-conv tensors);
 *   - DI-MML's "stronger" modality is the one with the lower CE on the batch;
 *   - UMT's MSE is the mean over rows and feature dimensions (nn.MSELoss's default).
 *
 * Each method is an Objective (named scalar parts of one forward pass over the whole batch) plus a
 * rule turning the parts' gradients into the step's gradient. Gradients come from ./autodiff.ts and
 * are checked against central differences by `finiteDifference`.
 */
import type { Dataset } from '../../src/data/dataset.js';
import { add, backward, concatCols, detach, matmul, mul, oneHot, rows, scalar, scale, softmax, sum as sumOf, type V } from './autodiff.js';
import { crossEntropy, dense, encode, Graph, infoNCE, input, jsConsistency, mse, type Params, type Shapes, xcorrRedundancy } from './losses.js';

export type Objective = (G: Graph) => Record<string, V>;

export interface RefStep {
  losses: Record<string, number>;
  /** Gradients of the parameters the stage trains (full names). */
  grads: Params;
  lambda?: { lambdaCon: number; lambdaCom: number; cos: number };
}

/** Names of the parameters in the given groups, in declaration order. */
export function paramsOf(shapes: Shapes, groups: readonly string[]): string[] {
  return Object.keys(shapes).filter((n) => groups.includes(n.slice(0, n.indexOf('.'))));
}

const weighted = (parts: Record<string, V>, w: Record<string, number>): V => {
  let total: V | null = null;
  for (const [k, c] of Object.entries(w)) {
    if (c === 0) continue;
    if (!parts[k]) throw new Error(`reference: no loss part ${k}`);
    const t = scale(parts[k], c);
    total = total ? add(total, t) : t;
  }
  return total ?? scalar(0);
};

/** Values of every part, and the gradient of Σ w·part with respect to `wrt`. */
export function evaluate(obj: Objective, P: Params, S: Shapes, w: Record<string, number> = {}, wrt: readonly string[] = []): { values: Record<string, number>; grads: Params } {
  const G = new Graph(P, S);
  const parts = obj(G);
  const values = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v.item]));
  const grads: Params = {};
  if (wrt.length) {
    backward(weighted(parts, w));
    for (const n of wrt) grads[n] = G.grad(n);
  }
  return { values, grads };
}

/** Central difference of Σ w·part with respect to element k of parameter `name`. */
export function finiteDifference(obj: Objective, P: Params, S: Shapes, w: Record<string, number>, name: string, k: number, h = 1e-6): number {
  const at = (x: number) => {
    const p = { ...P, [name]: P[name].slice() };
    p[name][k] = x;
    const parts = obj(new Graph(p, S));
    return Object.entries(w).reduce((s, [key, c]) => s + c * parts[key].item, 0);
  };
  const x0 = P[name][k];
  return (at(x0 + h) - at(x0 - h)) / (2 * h);
}

const flat = (g: Params, names: readonly string[]): Float64Array => {
  const out = new Float64Array(names.reduce((s, n) => s + g[n].length, 0));
  let o = 0;
  for (const n of names) {
    out.set(g[n], o);
    o += g[n].length;
  }
  return out;
};
export const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

// ---- pure rules ------------------------------------------------------------------------------------

/** α in [0, 1] minimising ||α·a + (1 − α)·b||² (the two-task min-norm point): clip(((b − a)·b) / ||a − b||², 0, 1). */
export function minNormAlpha(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (b[i] - a[i]) * b[i];
    den += (a[i] - b[i]) * (a[i] - b[i]);
  }
  if (den === 0) return 0.5; // a = b: every α gives the same point
  return Math.min(1, Math.max(0, num / den));
}

/** UDI's gradient-alignment rule (udi-method.md §5): ½/½ when cos(g_con, g_com) >= 0, else the min-norm weights. */
export function alignmentLambda(gCon: ArrayLike<number>, gCom: ArrayLike<number>): { lambdaCon: number; lambdaCom: number; cos: number } {
  const cos = dot(gCon, gCom) / Math.sqrt(dot(gCon, gCon) * dot(gCom, gCom));
  if (cos >= 0) return { lambdaCon: 0.5, lambdaCom: 0.5, cos };
  const alpha = minNormAlpha(gCon, gCom);
  return { lambdaCon: alpha, lambdaCom: 1 - alpha, cos };
}

/** OGM-GE eq. (10): k = 1 − tanh(α·ρ) when ρ > 1, else 1. */
export function ogmCoefficient(rho: number, alpha: number): number {
  return rho > 1 ? 1 - Math.tanh(alpha * rho) : 1;
}

/** MMPareto's weights (k_mm, k_uni) for one encoder: ½/½ if cos(g_mm, g_uni) > 0, else the min-norm weights. */
export function paretoWeights(gMM: ArrayLike<number>, gUni: ArrayLike<number>): { kMM: number; kUni: number; cos: number } {
  const cos = dot(gMM, gUni) / Math.sqrt(dot(gMM, gMM) * dot(gUni, gUni));
  if (cos > 0) return { kMM: 0.5, kUni: 0.5, cos };
  const kMM = minNormAlpha(gMM, gUni);
  return { kMM, kUni: 1 - kMM, cos };
}

/**
 * MMPareto's final gradient for one parameter tensor (the reference code's rescaling, as the engine's
 * comment describes it): g = 2·k_mm·g_mm + 2·k_uni·g_uni, then multiplied by max(1, ||g_mm + g_uni|| / ||g||)
 * (so its norm is at least that of the plain sum) and by γ = 1.5.
 */
export function paretoRescale(gMM: ArrayLike<number>, gUni: ArrayLike<number>, kMM: number, kUni: number, gamma = 1.5): Float64Array {
  const g = Float64Array.from(gMM, (x, i) => 2 * kMM * x + 2 * kUni * gUni[i]);
  const plain = Math.sqrt(Array.from(gMM).reduce((s, x, i) => s + (x + gUni[i]) ** 2, 0));
  const norm = Math.sqrt(dot(g, g));
  const f = norm > 0 && plain / norm > 1 ? plain / norm : 1;
  return g.map((x) => x * f * gamma);
}

// ---- objectives ------------------------------------------------------------------------------------

export const soloObjective =
  (ds: Dataset, m: string): Objective =>
  (G) => ({ ce: crossEntropy(dense(G, `head:${m}`, 'fc', encode(G, m, input(ds, m))), ds.labels) });

export interface GuidedOptions {
  anchor: string;
  follower: string;
  temperature: number;
  eps: number;
}
/** UDI's three parts for the follower: ce (its own head, T = 1), con (JS at T), com (xcorr to the anchor's features). */
export const guidedObjective =
  (ds: Dataset, o: GuidedOptions): Objective =>
  (G) => {
    const fa = detach(encode(G, o.anchor, input(ds, o.anchor)));
    const pa = detach(softmax(scale(dense(G, `head:${o.anchor}`, 'fc', fa), 1 / o.temperature)));
    const fm = encode(G, o.follower, input(ds, o.follower));
    const zm = dense(G, `head:${o.follower}`, 'fc', fm);
    return { ce: crossEntropy(zm, ds.labels), con: jsConsistency(pa, zm, o.temperature, o.eps), com: xcorrRedundancy(fm, fa) };
  };

/** Joint logits over the concatenated features, and each modality's features. */
function jointForward(G: Graph, ds: Dataset, names: readonly string[], frozen = false): { z: V; f: Record<string, V> } {
  const f = Object.fromEntries(names.map((m) => [m, frozen ? detach(encode(G, m, input(ds, m))) : encode(G, m, input(ds, m))]));
  return { z: dense(G, 'head:joint', 'fc', concatCols(names.map((m) => f[m]))), f };
}

/** joint: CE of the joint head; with uni, plus each modality's own-head CE (ce_<m>). */
export const jointObjective =
  (ds: Dataset, names: readonly string[], uni: boolean): Objective =>
  (G) => {
    const { z, f } = jointForward(G, ds, names);
    const parts: Record<string, V> = { joint: crossEntropy(z, ds.labels) };
    if (uni) for (const m of names) parts[`ce_${m}`] = crossEntropy(dense(G, `head:${m}`, 'fc', f[m]), ds.labels);
    return parts;
  };

/** UMT: joint CE + kd_<m> = MSE(features of m, teacher features of m). */
export const umtObjective =
  (ds: Dataset, names: readonly string[], teachers: Record<string, V>): Objective =>
  (G) => {
    const { z, f } = jointForward(G, ds, names);
    const parts: Record<string, V> = { joint: crossEntropy(z, ds.labels) };
    for (const m of names) parts[`kd_${m}`] = mse(f[m], teachers[m]);
    return parts;
  };

/** DI-MML (simplified): ce_<m> through the shared head; con = Σ over the weaker modalities of InfoNCE towards the strongest (lowest CE). */
export const dimmlObjective =
  (ds: Dataset, names: readonly string[], tau: number): Objective =>
  (G) => {
    const f = Object.fromEntries(names.map((m) => [m, encode(G, m, input(ds, m))]));
    const parts: Record<string, V> = {};
    for (const m of names) parts[`ce_${m}`] = crossEntropy(dense(G, 'head:shared', 'fc', f[m]), ds.labels);
    const strong = [...names].sort((a, b) => parts[`ce_${a}`].item - parts[`ce_${b}`].item)[0];
    const terms = names.filter((m) => m !== strong).map((m) => infoNCE(f[m], f[strong], tau));
    parts.con = terms.length === 1 ? terms[0] : sumOf(concatCols(terms));
    return parts;
  };

/** The fusion head: CE of head:joint over the frozen encoders' concatenated features. */
export const fusionHeadObjective =
  (ds: Dataset, names: readonly string[]): Objective =>
  (G) => ({ loss: crossEntropy(jointForward(G, ds, names, true).z, ds.labels) });

// ---- steps ---------------------------------------------------------------------------------------

export interface GuidedStepOptions extends GuidedOptions {
  keepCE: boolean;
  controller: 'gradient-alignment' | 'fixed';
  lambdaCom: number;
}

/** One UDI guided step: λ from the rule, then the gradient of keepCE·ce + λcon·con + λcom·com. */
export function refGuided(P: Params, S: Shapes, ds: Dataset, o: GuidedStepOptions): RefStep & { gCon: Float64Array; gCom: Float64Array; weights: Record<string, number> } {
  const obj = guidedObjective(ds, o);
  const wrt = paramsOf(S, [`enc:${o.follower}`, `head:${o.follower}`]);
  const gCon = flat(evaluate(obj, P, S, { con: 1 }, wrt).grads, wrt);
  const gCom = flat(evaluate(obj, P, S, { com: 1 }, wrt).grads, wrt);
  const lambda = o.controller === 'fixed' ? { lambdaCon: 1, lambdaCom: o.lambdaCom, cos: Number.NaN } : alignmentLambda(gCon, gCom);
  const weights = { ce: o.keepCE ? 1 : 0, con: lambda.lambdaCon, com: lambda.lambdaCom };
  const { values, grads } = evaluate(obj, P, S, weights, wrt);
  const loss = weights.ce * values.ce + weights.con * values.con + weights.com * values.com;
  return { losses: { loss, ...values }, grads, lambda, gCon, gCom, weights };
}

/** Plain steps: the gradient of Σ w·part over the given groups; `loss` = Σ w·part. */
export function refPlain(obj: Objective, P: Params, S: Shapes, w: Record<string, number>, groups: readonly string[]): RefStep {
  const { values, grads } = evaluate(obj, P, S, w, paramsOf(S, groups));
  const loss = Object.entries(w).reduce((s, [k, c]) => s + c * values[k], 0);
  return { losses: { loss, ...values }, grads };
}

/**
 * OGM-GE's deterministic part for two modalities: the joint CE gradient, each modality's score
 * s_m = Σ_i softmax(f_m W_m + b/2)_i[y_i] (its block of the joint head with half the bias, as the
 * reference code), ρ_m = s_m / s_other and the coefficient of eq. (10).
 */
export function refOgm(P: Params, S: Shapes, ds: Dataset, names: readonly string[], alpha: number): RefStep & { score: Record<string, number>; rho: Record<string, number>; coeff: Record<string, number> } {
  if (names.length !== 2) throw new Error('refOgm: two modalities');
  const base = refPlain(jointObjective(ds, names, false), P, S, { joint: 1 }, [...names.map((m) => `enc:${m}`), 'head:joint']);
  const G = new Graph(P, S);
  const W = G.p('head:joint.fc.weight'),
    half = scale(G.p('head:joint.fc.bias'), 0.5);
  const y = oneHot(ds.labels, ds.classes);
  const score: Record<string, number> = {};
  let off = 0;
  for (const m of names) {
    const f = encode(G, m, input(ds, m));
    score[m] = sumOf(mul(softmax(add(matmul(f, rows(W, off, f.c)), half)), y)).item;
    off += f.c;
  }
  const rho = { [names[0]]: score[names[0]] / score[names[1]], [names[1]]: score[names[1]] / score[names[0]] };
  const coeff = Object.fromEntries(names.map((m) => [m, ogmCoefficient(rho[m], alpha)]));
  return { ...base, losses: { ...base.losses, ...Object.fromEntries(names.map((m) => [`rho_${m}`, rho[m]])) }, score, rho, coeff };
}

/** MMPareto: per encoder, g_mm (joint CE) and g_uni (own CE) combined by paretoWeights, per tensor by paretoRescale; heads plain. */
export function refMMPareto(P: Params, S: Shapes, ds: Dataset, names: readonly string[]): RefStep & { k: Record<string, { kMM: number; kUni: number; cos: number }> } {
  const obj = jointObjective(ds, names, true);
  const w = Object.fromEntries([['joint', 1], ...names.map((m) => [`ce_${m}`, 1])]);
  const plain = refPlain(obj, P, S, w, [...names.flatMap((m) => [`enc:${m}`, `head:${m}`]), 'head:joint']);
  const k: Record<string, { kMM: number; kUni: number; cos: number }> = {};
  for (const m of names) {
    const enc = paramsOf(S, [`enc:${m}`]);
    const gMM = evaluate(obj, P, S, { joint: 1 }, enc).grads;
    const gUni = evaluate(obj, P, S, { [`ce_${m}`]: 1 }, enc).grads;
    k[m] = paretoWeights(flat(gMM, enc), flat(gUni, enc));
    for (const n of enc) plain.grads[n] = paretoRescale(gMM[n], gUni[n], k[m].kMM, k[m].kUni);
    plain.losses[`cos_${m}`] = k[m].cos;
  }
  return { ...plain, k };
}

/** UMT teachers: each modality's features under the teacher parameters (constants). */
export function teacherFeatures(prior: Params, S: Shapes, ds: Dataset, names: readonly string[]): Record<string, V> {
  const G = new Graph(prior, S);
  return Object.fromEntries(names.map((m) => [m, detach(encode(G, m, input(ds, m)))]));
}
