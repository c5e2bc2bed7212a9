/**
 * A dataset is a record of modalities (each a row-major Float32Array of n × dim values) plus labels.
 * Everything is validated when the dataset is made, so training never sees a NaN, a ragged
 * modality or a label outside [0, classes).
 */
import { Rng } from '../util/rng.js';

export interface Modality {
  /** n × dim values, row-major. */
  readonly data: Float32Array;
  readonly dim: number;
}

export interface Dataset {
  readonly modalities: Readonly<Record<string, Modality>>;
  readonly labels: Int32Array;
  readonly classes: number;
  readonly size: number;
}

import { DataError, UdiError } from '../errors.js';
export { DataError };

/** Make and validate a dataset. `modalities[name]` is n × dim values (flat with `dims[name]`, or rows). */
export function makeDataset(modalities: Record<string, Float32Array | number[][] | { data: Float32Array; dim: number }>, labels: ArrayLike<number>, classes?: number): Dataset {
  const names = Object.keys(modalities);
  if (names.length === 0) throw new DataError('EMPTY_DATASET', 'a dataset needs at least one modality');
  const n = labels.length;
  if (n === 0) throw new DataError('EMPTY_DATASET', 'the dataset has no rows (labels is empty)');
  const lab = new Int32Array(n);
  let maxLabel = -1;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0) throw new DataError('BAD_LABEL', `label in row ${i} is ${y}; labels must be whole numbers >= 0`);
    lab[i] = y;
    if (y > maxLabel) maxLabel = y;
  }
  const k = classes ?? maxLabel + 1;
  if (!Number.isInteger(k) || k < 2) throw new DataError('BAD_LABEL', `a classifier needs at least 2 classes, got ${k}`);
  if (maxLabel >= k) throw new DataError('BAD_LABEL', `label ${maxLabel} is outside [0, ${k}) (classes = ${k})`);
  const out: Record<string, Modality> = {};
  for (const name of names) {
    if (name === '' || name === '__proto__' || name === 'constructor' || name === 'prototype') throw new DataError('BAD_MODALITY_NAME', `modality name ${JSON.stringify(name)} is ${name === '' ? 'empty' : 'reserved'}; name the modality otherwise`);
    const src = modalities[name];
    let data: Float32Array;
    let dim: number;
    if (Array.isArray(src)) {
      if (src.length !== n) throw new DataError('ROW_COUNT', `modality "${name}" has ${src.length} rows but there are ${n} labels`);
      dim = src[0]?.length ?? 0;
      data = new Float32Array(n * dim);
      src.forEach((row, i) => {
        if (row.length !== dim) throw new DataError('RAGGED', `modality "${name}" row ${i} has ${row.length} values, expected ${dim}`);
        data.set(row, i * dim);
      });
    } else if (src instanceof Float32Array) {
      if (src.length % n !== 0) throw new DataError('ROW_COUNT', `modality "${name}" has ${src.length} values, not a multiple of the ${n} rows`);
      data = src;
      dim = src.length / n;
    } else {
      data = src.data;
      dim = src.dim;
      if (data.length !== n * dim) throw new DataError('ROW_COUNT', `modality "${name}" has ${data.length} values, expected ${n} rows × ${dim} = ${n * dim}`);
    }
    if (dim < 1) throw new DataError('BAD_SHAPE', `modality "${name}" has no features`);
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new DataError('NON_FINITE', `modality "${name}" row ${Math.floor(i / dim)} column ${i % dim} is ${data[i]}`);
    }
    out[name] = { data, dim };
  }
  return { modalities: out, labels: lab, classes: k, size: n };
}

/** The rows `idx` of a dataset (copied), optionally only some modalities. */
export function subset(ds: Dataset, idx: ArrayLike<number>, modalities?: readonly string[]): Dataset {
  const names = modalities ?? Object.keys(ds.modalities);
  const mods: Record<string, Modality> = {};
  for (const name of names) {
    const m = ds.modalities[name];
    if (!m) throw new DataError('UNKNOWN_MODALITY', `no modality "${name}" (have ${Object.keys(ds.modalities).join(', ')})`);
    const data = new Float32Array(idx.length * m.dim);
    for (let i = 0; i < idx.length; i++) data.set(m.data.subarray(idx[i] * m.dim, (idx[i] + 1) * m.dim), i * m.dim);
    mods[name] = { data, dim: m.dim };
  }
  const labels = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) labels[i] = ds.labels[idx[i]];
  return { modalities: mods, labels, classes: ds.classes, size: idx.length };
}

/**
 * The validation part train() carves when the data has none: a stratified `fraction` of `ds`
 * (`seed`), and the rest to train on (only the `names` modalities, if given). One function, so every
 * caller that carves in advance (loading, `udi compare`) gets exactly the rows train() would.
 */
export function carveValidation(ds: Dataset, fraction: number, seed: number, names?: readonly string[]): { train: Dataset; val: Dataset } {
  const { fit, val } = stratifiedSplit(ds.labels, fraction, seed);
  return { train: subset(ds, fit, names), val: subset(ds, val, names) };
}

/** A seeded split keeping each class's proportion: `fraction` of every class goes to the second part. */
export function stratifiedSplit(labels: Int32Array, fraction: number, seed: number): { fit: Int32Array; val: Int32Array } {
  if (!(fraction > 0 && fraction < 1)) throw new UdiError('BAD_OPTIONS', `stratifiedSplit: fraction must be in (0, 1), got ${fraction}`);
  const rng = new Rng(seed, 7);
  const byClass = new Map<number, number[]>();
  labels.forEach((y, i) => (byClass.get(y) ?? byClass.set(y, []).get(y)!).push(i));
  const fit: number[] = [],
    val: number[] = [];
  for (const y of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = rng.shuffle(byClass.get(y)!);
    const nv = Math.max(1, Math.round(rows.length * fraction));
    rows.forEach((r, i) => (i < nv ? val : fit).push(r));
  }
  return { fit: Int32Array.from(fit.sort((a, b) => a - b)), val: Int32Array.from(val.sort((a, b) => a - b)) };
}

/** Per-modality, per-feature mean and standard deviation. */
export type Standardization = Record<string, { mean: Float64Array; std: Float64Array }>;

/** Per-feature mean and std of every row of `ds` (give it the training part only); apply with `applyStandardize`. */
export function fitStandardize(ds: Dataset): Standardization {
  const out: Record<string, { mean: Float64Array; std: Float64Array }> = {};
  for (const [name, m] of Object.entries(ds.modalities)) {
    const mean = new Float64Array(m.dim),
      sq = new Float64Array(m.dim);
    for (let i = 0; i < ds.size; i++) for (let j = 0; j < m.dim; j++) mean[j] += m.data[i * m.dim + j];
    for (let j = 0; j < m.dim; j++) mean[j] /= ds.size;
    for (let i = 0; i < ds.size; i++)
      for (let j = 0; j < m.dim; j++) {
        const d = m.data[i * m.dim + j] - mean[j];
        sq[j] += d * d;
      }
    const std = sq.map((s) => {
      const v = Math.sqrt(s / ds.size);
      return v > 1e-8 ? v : 1;
    });
    out[name] = { mean, std };
  }
  return out;
}

/** Standardise the modalities that have statistics; the others are kept as they are. */
export function applyStandardize(ds: Dataset, stats: Standardization): Dataset {
  const mods: Record<string, Modality> = {};
  for (const [name, m] of Object.entries(ds.modalities)) {
    const s = stats[name];
    if (!s) {
      mods[name] = m;
      continue;
    }
    if (s.mean.length !== m.dim) throw new DataError('BAD_SHAPE', `modality "${name}" has ${m.dim} features, its standardisation statistics ${s.mean.length}`);
    const data = new Float32Array(m.data.length);
    for (let i = 0; i < ds.size; i++) for (let j = 0; j < m.dim; j++) data[i * m.dim + j] = (m.data[i * m.dim + j] - s.mean[j]) / s.std[j];
    mods[name] = { data, dim: m.dim };
  }
  return { ...ds, modalities: mods };
}
