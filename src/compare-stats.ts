/**
 * The statistics of a comparison: per-method summaries (mean ± std over runs), per-fold means, and
 * paired differences against reference methods with a seeded percentile-bootstrap interval.
 * Pure functions over run records; src/compare.ts runs the experiments and calls these.
 */
import type { RunRecord } from './compare.js';
import type { Method } from './train/methods.js';
import { Rng } from './util/rng.js';

/** The methods that paired differences are taken against when they were run (`--reference`). */
const DEFAULT_REFERENCES: readonly Method[] = ['ensemble', 'unimodal'];

/** Paired bootstrap: resamples, seed and level (recorded in results.json). */
export const BOOTSTRAP = { resamples: 10_000, seed: 0, confidence: 0.95 } as const;

/** Two accuracies closer than this are a tie. */
const TIE = 1e-9;

export interface Summary {
  method: Method;
  runs: number;
  fusedAcc: { mean: number; std: number };
  fusedF1: { mean: number; std: number };
  valFusedAcc: { mean: number; std: number };
  soloAcc: Record<string, { mean: number; std: number }>;
  inModelAcc: Record<string, { mean: number; std: number }>;
  wallMs: { mean: number; std: number };
  anchors: Record<string, number>;
  /** UDI: how many followers' guided stages were kept, out of how many (the rest: the gate kept the solo weights). */
  guidedKept?: { kept: number; of: number };
}

export interface PerFold {
  method: Method;
  fold: number;
  runs: number;
  fusedAcc: number;
}

export interface Paired {
  method: Method;
  reference: Method;
  /** Runs paired by (fold, seed). */
  n: number;
  /** Mean of method − reference fused accuracy, in points. */
  meanDiff: number;
  /** 95% percentile bootstrap interval of the mean difference, in points. */
  ci95: [number, number];
  wins: number;
  ties: number;
  losses: number;
}

/**
 * Percentile bootstrap of the mean of paired differences: `resamples` times, draw n of the
 * differences with replacement (seeded: the same inputs always give the same interval) and take the
 * mean; the interval is the (1 − confidence)/2 and (1 + confidence)/2 quantiles of those means
 * (linear interpolation between order statistics), clamped to [min, max] of the differences (which
 * every resampled mean lies in; the clamp only removes rounding).
 */
export function bootstrapMeanCI(diffs: ArrayLike<number>, opts: { resamples?: number; seed?: number; confidence?: number } = {}): { n: number; mean: number; lo: number; hi: number } {
  const n = diffs.length;
  const { resamples = BOOTSTRAP.resamples, seed = BOOTSTRAP.seed, confidence = BOOTSTRAP.confidence } = opts;
  if (n === 0) throw new RangeError('bootstrapMeanCI: no differences');
  if (!(Number.isInteger(resamples) && resamples >= 1)) throw new RangeError(`bootstrapMeanCI: resamples must be a whole number >= 1, got ${resamples}`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`bootstrapMeanCI: confidence must be in (0, 1), got ${confidence}`);
  let min = Infinity,
    max = -Infinity,
    sum = 0;
  for (let i = 0; i < n; i++) {
    const d = diffs[i];
    if (!Number.isFinite(d)) throw new RangeError(`bootstrapMeanCI: difference ${i} is ${d}`);
    sum += d;
    if (d < min) min = d;
    if (d > max) max = d;
  }
  const clamp = (x: number) => Math.min(max, Math.max(min, x));
  const means = new Float64Array(resamples);
  const rng = new Rng(seed, 11);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += diffs[rng.below(n)];
    means[b] = s / n;
  }
  means.sort();
  const q = (p: number) => {
    const h = (resamples - 1) * p,
      k = Math.floor(h);
    return k + 1 < resamples ? means[k] + (h - k) * (means[k + 1] - means[k]) : means[k];
  };
  return { n, mean: clamp(sum / n), lo: clamp(q((1 - confidence) / 2)), hi: clamp(q((1 + confidence) / 2)) };
}

/** The references actually used: the given ones, else those of DEFAULT_REFERENCES that were run. */
export function referencesOf(methods: readonly Method[], given?: readonly Method[]): Method[] {
  return given ? [...given] : DEFAULT_REFERENCES.filter((m) => methods.includes(m));
}

/**
 * Every method against every reference: fused accuracy differences over the runs paired by
 * (fold, seed). A pair of two references appears once, the earlier-listed one as the method
 * (by default: ensemble − unimodal).
 */
export function pairedDifferences(runs: RunRecord[], methods: readonly Method[], references: readonly Method[]): Paired[] {
  const out: Paired[] = [];
  const key = (r: RunRecord) => `${r.fold}:${r.seed}`;
  references.forEach((ref, j) => {
    const byKey = new Map(runs.filter((r) => r.method === ref).map((r) => [key(r), r]));
    for (const method of methods) {
      if (method === ref) continue;
      const i = references.indexOf(method);
      if (i > j) continue; // listed as (method = that reference, reference = this one) instead
      const acc: number[] = [];
      let wins = 0,
        ties = 0,
        losses = 0;
      for (const r of runs) {
        if (r.method !== method) continue;
        const b = byKey.get(key(r));
        if (!b) continue;
        const d = r.fusedAcc - b.fusedAcc;
        if (Math.abs(d) <= TIE) ties++;
        else if (d > 0) wins++;
        else losses++;
        acc.push(100 * d);
      }
      if (acc.length === 0) continue;
      const ci = bootstrapMeanCI(acc);
      out.push({ method, reference: ref, n: ci.n, meanDiff: ci.mean, ci95: [ci.lo, ci.hi], wins, ties, losses });
    }
  });
  return out;
}

/** Mean fused accuracy over the seeds of each fold, per method (folds in ascending order). */
export function perFold(runs: RunRecord[], methods: readonly Method[]): PerFold[] {
  const folds = [...new Set(runs.map((r) => r.fold))].sort((a, b) => a - b);
  return methods.flatMap((method) =>
    folds.flatMap((fold) => {
      const rs = runs.filter((r) => r.method === method && r.fold === fold);
      return rs.length ? [{ method, fold, runs: rs.length, fusedAcc: rs.reduce((a, r) => a + r.fusedAcc, 0) / rs.length }] : [];
    }),
  );
}

const meanStd = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
};

export function summarise(runs: RunRecord[], methods: Method[]): Summary[] {
  return methods.map((method) => {
    const rs = runs.filter((r) => r.method === method);
    const mods = [...new Set(rs.flatMap((r) => Object.keys(r.inModelAcc)))];
    const per = (key: 'soloAcc' | 'inModelAcc') =>
      Object.fromEntries(mods.filter((m) => rs.some((r) => r[key][m] !== undefined)).map((m) => [m, meanStd(rs.filter((r) => r[key][m] !== undefined).map((r) => r[key][m]))]));
    const anchors: Record<string, number> = {};
    for (const r of rs) if (r.anchor) anchors[r.anchor] = (anchors[r.anchor] ?? 0) + 1;
    const guided = rs.flatMap((r) => r.guided ?? []);
    return {
      method,
      runs: rs.length,
      fusedAcc: meanStd(rs.map((r) => r.fusedAcc)),
      fusedF1: meanStd(rs.map((r) => r.fusedF1)),
      valFusedAcc: meanStd(rs.map((r) => r.valFusedAcc)),
      soloAcc: per('soloAcc'),
      inModelAcc: per('inModelAcc'),
      wallMs: meanStd(rs.map((r) => r.wallMs)),
      anchors,
      ...(guided.length ? { guidedKept: { kept: guided.filter((g) => g.kept === 'guided').length, of: guided.length } } : {}),
    };
  });
}
