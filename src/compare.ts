/**
 * The comparison harness: every method × fold × seed on one dataset, each run independent, run in
 * parallel child processes; writes results.json, results.md and a self-contained report.html.
 * Node only (it uses child processes and the file system).
 */
import { z } from 'zod';
import { createRuntime } from './runtime/node.js';
import { MFEAT_VIEWS, type MfeatView } from './data/mfeat.js';
import type { AvmnistSplit } from './data/avmnist.js';
import type { Dataset } from './data/dataset.js';
import { trainingParts } from './train/run.js';
import { readJsonInput } from './io/files.js';
import { ConfigError, DataSchema, issueLines, type TrainConfig, TrainConfigSchema, toMethodConfig } from './io/config.js';
import { resolveDataPaths } from './io/config-file.js';
import { loadData, loadManifestParts, type ManifestParts, repeatedSplit, type Splits } from './io/data.js';
import type { EncoderConfig } from './nn/encoders.js';
import { scores } from './train/metrics.js';
import { defaultConfig, METHODS, type MethodConfig, type Method, predict, type Result, train } from './train/methods.js';
import { Rng } from './util/rng.js';
import { renderMarkdown, renderHtml } from './report.js';
import type { CompareSettings } from './compare-config.js';
import { BOOTSTRAP, type Paired, type PerFold, pairedDifferences, perFold, referencesOf, type Summary, summarise } from './compare-stats.js';
import { DataError, UdiError } from './errors.js';

export type DatasetName = 'mfeat' | 'avmnist' | 'manifest';

/** A user's manifest data for `udi compare` (paths as given, or resolved against the config's folder). */
export interface ManifestData {
  /** Manifest (or folder with manifest.json) of the labelled rows that the splits are carved from. */
  train: string;
  /** Own validation set (default: a stratified part of the rest, seeded by the run's seed). */
  val?: string;
  /** Own test set: then there is a single fold, 0. */
  test?: string;
  /** How many seeded stratified test splits `folds: all` means (fold f: seed 1000 + f). */
  splits: number;
  /** Fraction of every class that each fold holds out for test. */
  testFraction: number;
  standardize: boolean;
}

/** Training settings applied to every run of a comparison (a compare config's fields shared with `udi train`). */

export interface CompareOptions {
  dataset: DatasetName;
  /** mfeat views to use (default fac, mor: a strong and a weak view); AV-MNIST: audio, image; manifest: the modalities to use (empty: all). */
  views: string[];
  /** The user's data (dataset "manifest"). */
  manifest?: ManifestData;
  /** Encoders, stage budgets and method options for every run (from `--config`); default: the built-in comparison budget. */
  settings?: CompareSettings;
  /** Paired differences of every method against each of these (default: those of ensemble, unimodal that were run). */
  references?: Method[];
  /** AV-MNIST split (A or B). */
  split: AvmnistSplit;
  /** Image encoder for AV-MNIST: an MLP (fast, the default budget) or a small CNN. */
  imageEncoder: 'mlp' | 'cnn';
  methods: Method[];
  seeds: number;
  /** The folds to run (mfeat: random test splits 0..; AV-MNIST B: held-out speaker 0-5; A: 0). */
  folds: number[];
  /** The folder holding the dataset folders (mfeat/, fsdd/, mnist/). */
  dataDir: string;
  /** Where built AV-MNIST features are cached. */
  cacheDir?: string;
  out?: string;
  jobs: number;
  /**
   * Maximum epochs of every stage (the budget; early stopping usually ends stages sooner). Without
   * settings it defaults to 30; with settings it overrides their stage budgets when given.
   */
  epochs?: number;
}

export interface RunSpec {
  dataset: DatasetName;
  views: string[];
  split: AvmnistSplit;
  imageEncoder: 'mlp' | 'cnn';
  cacheDir?: string;
  method: Method;
  fold: number;
  seed: number;
  dataDir: string;
  epochs?: number;
  manifest?: ManifestData;
  settings?: CompareSettings;
  /** Identifies one comparison: a process running several of its specs loads the manifest data once. */
  token?: string;
}

export interface RunRecord {
  method: Method;
  fold: number;
  seed: number;
  fusedAcc: number;
  fusedF1: number;
  /** Fused accuracy of the final model on the validation split (what model selection may look at; never test). */
  valFusedAcc: number;
  soloAcc: Record<string, number>;
  inModelAcc: Record<string, number>;
  anchor: string | null;
  anchorReason: string | null;
  /** UDI: per follower, whether the guided weights were kept or (the gate) the solo ones. */
  guided: Result['guided'] | null;
  updates: Record<string, number>;
  wallMs: number;
  stages: Result['cost']['stages'];
  /** Per-epoch validation curves: stage, epoch, monitor. */
  curves: { stage: string; epoch: number; loss: number; monitor: number }[];
  /** λ trace, subsampled to at most 400 points. */
  lambda: { follower: string; step: number; lambdaCon: number; lambdaCom: number; cos: number }[];
}

export interface Report {
  dataset: string;
  views: string[];
  protocol: string;
  createdAt: string;
  options: Omit<CompareOptions, 'out' | 'dataDir'>;
  runs: RunRecord[];
  summary: Summary[];
  /** Mean fused test accuracy over the seeds of each fold, per method. */
  perFold: PerFold[];
  /** Paired differences of fused accuracy (points) against each reference, over runs paired by (fold, seed). */
  paired: Paired[];
  pairedBootstrap: { resamples: number; seed: number; confidence: number; unit: string };
}

/** Encoders per modality: MLPs for mfeat views and AV-MNIST audio; an MLP or a small CNN for images; MLP 128-64 for a manifest's modalities (as `udi train`). */
function encodersFor(spec: Pick<RunSpec, 'dataset' | 'views' | 'imageEncoder'>): Record<string, EncoderConfig> {
  if (spec.dataset === 'mfeat') return Object.fromEntries(spec.views.map((v) => [v, { type: 'mlp', hidden: [64] } as EncoderConfig]));
  if (spec.dataset === 'manifest') return Object.fromEntries(spec.views.map((v) => [v, { type: 'mlp', hidden: [128, 64] } as EncoderConfig]));
  return {
    audio: { type: 'mlp', hidden: [128, 64] },
    image: spec.imageEncoder === 'cnn' ? { type: 'cnn', input: [28, 28, 1], channels: [8, 16], kernel: 3, dense: 64 } : { type: 'mlp', hidden: [128, 64] },
  };
}

/** The encoders every run uses: the dataset's defaults, replaced by the settings' where given. */
function effectiveEncoders(spec: Pick<RunSpec, 'dataset' | 'views' | 'imageEncoder' | 'settings'>): Record<string, EncoderConfig> {
  const given = (spec.settings?.encoders ?? {}) as Record<string, EncoderConfig>;
  for (const m of Object.keys(given)) if (!spec.views.includes(m)) throw new ConfigError(`encoders.${m}: the comparison has no modality "${m}" (it uses ${spec.views.join(', ')})`);
  return { ...encodersFor(spec), ...given };
}

/** The trainer's config for one run: the built-in comparison budget, or the compare config's settings; `epochs` overrides every stage's budget. */
export function methodConfigFor(spec: RunSpec): MethodConfig {
  const encoders = effectiveEncoders(spec);
  // toMethodConfig reads only the training fields of a config (not data or method).
  const cfg = spec.settings ? toMethodConfig({ ...spec.settings, encoders, seed: spec.seed } as TrainConfig, spec.views) : defaultConfig(encoders, spec.seed);
  const epochs = spec.epochs ?? (spec.settings ? undefined : 30);
  if (epochs !== undefined) for (const k of ['solo', 'guided', 'joint', 'fusionHead'] as const) cfg[k] = { ...cfg[k], epochs };
  return cfg;
}

function dataOf(spec: RunSpec): TrainConfig['data'] {
  return spec.dataset === 'avmnist' ? { kind: 'avmnist', split: spec.split, fold: spec.fold, dir: spec.dataDir } : { kind: 'mfeat', views: spec.views as MfeatView[], fold: spec.fold, dir: spec.dataDir };
}

let manifestMemo: { key: string; parts: Promise<ManifestParts> } | undefined;

/** A manifest's datasets; a process running several specs of one comparison (same token) loads them once. */
function manifestParts(m: ManifestData, token?: string): Promise<ManifestParts> {
  const key = JSON.stringify([m.train, m.val ?? null, m.test ?? null, token ?? null]);
  if (token && manifestMemo?.key === key) return manifestMemo.parts;
  const parts = loadManifestParts(m);
  manifestMemo = token ? { key, parts } : undefined;
  return parts;
}

async function splitsFor(rt: Awaited<ReturnType<typeof createRuntime>>, spec: RunSpec, cfg: MethodConfig): Promise<Splits> {
  if (spec.dataset === 'manifest') {
    const m = spec.manifest!;
    return repeatedSplit(await manifestParts(m, spec.token), {
      fold: spec.fold,
      seed: spec.seed,
      testFraction: m.testFraction,
      validationFraction: cfg.validationFraction,
      standardize: m.standardize,
      modalities: spec.views,
      description: `manifest ${m.train}`,
    });
  }
  return loadData(rt, dataOf(spec), cfg, { cacheDir: spec.cacheDir });
}

/**
 * The validation split made explicit: when the data has none, carve exactly the split train() would
 * carve itself (stratified, validationFraction, the run's seed), so the run is unchanged and its final
 * model can be scored on it.
 */
function withValidation(data: Splits, cfg: MethodConfig): Splits & { val: Dataset } {
  return { ...data, ...trainingParts(data, cfg, Object.keys(cfg.encoders)) };
}

/** One run, in this process. */
export async function runOne(spec: RunSpec): Promise<RunRecord> {
  const rt = await createRuntime({ threads: 1 });
  try {
    const cfg = methodConfigFor(spec);
    const data = withValidation(await splitsFor(rt, spec, cfg), cfg);
    const t0 = Date.now();
    const { result, model } = await train(rt, spec.method, data, cfg, { preprocess: data.stats });
    const wallMs = Date.now() - t0;
    const valFusedAcc = scores(predict(model, data.val), data.val.labels, model.net.classes).acc;
    const every = Math.max(1, Math.ceil(result.lambdaTrace.length / 400));
    return {
      method: spec.method,
      fold: spec.fold,
      seed: spec.seed,
      fusedAcc: result.fused.acc,
      fusedF1: result.fused.f1,
      valFusedAcc,
      soloAcc: result.soloAcc,
      inModelAcc: result.inModelAcc,
      anchor: result.anchor?.name ?? null,
      anchorReason: result.anchor?.reason ?? null,
      guided: result.guided ?? null,
      updates: result.cost.updates,
      wallMs,
      stages: result.cost.stages,
      curves: result.history.map((h) => ({ stage: h.stage, epoch: h.epoch, loss: h.loss, monitor: h.monitor })),
      lambda: result.lambdaTrace.filter((_, i) => i % every === 0),
    };
  } finally {
    rt.dispose();
  }
}

/** The folds `all` means: AV-MNIST B 0-5, A and C 0; mfeat 0; a manifest 0..splits-1 (0 with a separate test set). */
export function allFolds(o: Pick<CompareOptions, 'dataset' | 'split' | 'manifest'>): number[] {
  if (o.dataset === 'avmnist') return o.split === 'B' ? [0, 1, 2, 3, 4, 5] : [0];
  if (o.dataset === 'manifest') return o.manifest?.test ? [0] : Array.from({ length: o.manifest?.splits ?? 5 }, (_, i) => i);
  return [0];
}

export function checkCompareOptions(o: CompareOptions): void {
  if (o.dataset !== 'mfeat' && o.dataset !== 'avmnist' && o.dataset !== 'manifest') throw new UdiError('BAD_OPTIONS', `--dataset must be "avmnist", "mfeat" or "manifest", got "${o.dataset}"`);
  if (o.dataset === 'mfeat') {
    for (const v of o.views) if (!MFEAT_VIEWS.includes(v as MfeatView)) throw new UdiError('BAD_OPTIONS', `--views: mfeat has no view "${v}" (views: ${MFEAT_VIEWS.join(', ')})`);
    if (o.views.length < 2) throw new UdiError('BAD_OPTIONS', '--views: name at least two views');
  } else if (o.dataset === 'avmnist') {
    if (o.split !== 'A' && o.split !== 'B' && o.split !== 'C') throw new UdiError('BAD_OPTIONS', `--split must be A, B or C, got "${o.split}"`);
    const max = o.split === 'B' ? 5 : 0;
    for (const f of o.folds) if (!(Number.isInteger(f) && f >= 0 && f <= max)) throw new UdiError('BAD_OPTIONS', `--folds: split ${o.split} has folds 0${max ? `-${max}` : ''}, got ${f}`);
  } else {
    const m = o.manifest;
    if (!m || !m.train) throw new UdiError('BAD_OPTIONS', '--dataset manifest needs the manifest: --data PATH (or data.train in the config)');
    if (!(Number.isInteger(m.splits) && m.splits >= 1)) throw new UdiError('BAD_OPTIONS', `data.splits must be a whole number >= 1, got ${m.splits}`);
    if (!(m.testFraction > 0 && m.testFraction < 1)) throw new UdiError('BAD_OPTIONS', `--test-fraction must be in (0, 1), got ${m.testFraction}`);
    for (const f of o.folds) if (!(Number.isInteger(f) && f >= 0)) throw new UdiError('BAD_OPTIONS', `--folds: folds are whole numbers >= 0, got ${f}`);
    if (m.test && o.folds.some((f) => f !== 0)) throw new UdiError('BAD_OPTIONS', `--folds: with a separate test set there is one fold, 0; got ${o.folds.join(',')}`);
  }
  if (o.folds.length === 0) throw new UdiError('BAD_OPTIONS', '--folds: no fold given');
  if (new Set(o.folds).size !== o.folds.length) throw new UdiError('BAD_OPTIONS', `--folds: a fold is listed twice (${o.folds.join(',')})`);
  if (o.methods.length === 0) throw new UdiError('BAD_OPTIONS', '--methods: no method given');
  for (const m of o.methods) if (!METHODS.includes(m)) throw new UdiError('BAD_OPTIONS', `--methods: unknown method "${m}" (methods: ${METHODS.join(', ')})`);
  if (new Set(o.methods).size !== o.methods.length) throw new UdiError('BAD_OPTIONS', `--methods: a method is listed twice (${o.methods.join(',')})`);
  for (const r of o.references ?? []) if (!o.methods.includes(r)) throw new UdiError('BAD_OPTIONS', `--reference: "${r}" is not among the methods run (${o.methods.join(', ')})`);
  for (const [k, v] of [['seeds', o.seeds], ['jobs', o.jobs], ['epochs', o.epochs ?? 1]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new UdiError('BAD_OPTIONS', `--${k} must be a whole number >= 1, got ${v}`);
  }
}

/**
 * For a manifest: load it (also checks every value), pick the modalities (`views`, default all) and
 * check that every fold leaves each class rows to fit on. Fills `o.views`.
 */
async function prepareManifest(o: CompareOptions, token: string): Promise<void> {
  const m = o.manifest!;
  const parts = await manifestParts(m, token);
  const have = Object.keys(parts.train.modalities);
  if (o.views.length === 0) o.views = have;
  for (const v of o.views) if (!have.includes(v)) throw new DataError('UNKNOWN_MODALITY', `--views: ${m.train} has no modality "${v}" (it has ${have.join(', ')})`);
  for (const [what, ds] of [['val', parts.val], ['test', parts.test]] as const) {
    if (!ds) continue;
    for (const v of o.views) {
      if (!ds.modalities[v]) throw new DataError('UNKNOWN_MODALITY', `${m[what]}: no modality "${v}", which ${m.train} has`);
      if (ds.modalities[v].dim !== parts.train.modalities[v].dim) throw new DataError('BAD_SHAPE', `${m[what]}: modality "${v}" has ${ds.modalities[v].dim} features, ${m.train} has ${parts.train.modalities[v].dim}`);
    }
  }
  // Each stratified split holds out max(1, round(count × fraction)) rows of every class, whatever the seed.
  const vf = o.settings?.validationFraction ?? defaultConfig({}).validationFraction;
  const counts = new Map<number, number>();
  for (const y of parts.train.labels) counts.set(y, (counts.get(y) ?? 0) + 1);
  for (const [y, c] of [...counts].sort((a, b) => a[0] - b[0])) {
    const t = m.test ? 0 : Math.max(1, Math.round(c * m.testFraction));
    const v = m.val || c - t < 1 ? 0 : Math.max(1, Math.round((c - t) * vf));
    if (c - t - v < 1)
      throw new DataError(
        'CLASS_ABSENT',
        `${m.train}: class ${y} has ${c} row(s); ${m.test ? '' : `the test split (testFraction ${m.testFraction}) holds out ${t}`}${!m.test && !m.val ? ' and ' : ''}${m.val ? '' : `validation (validationFraction ${vf}) ${Math.min(v, c - t)}`}, leaving none to train on (each split takes at least one row of every class)`,
      );
  }
}

function describeEncoder(e: EncoderConfig, dim?: number): string {
  if (e.type === 'mlp') return `MLP ${dim ? `${dim}-` : ''}${e.hidden.join('-')}`;
  return `CNN ${e.channels.map((c) => `conv${c}-pool`).join('-')}-dense${e.dense}`;
}

function protocolOf(o: CompareOptions, encoders: Record<string, EncoderConfig>, vf: number): string {
  const pc = +(100 * vf).toFixed(2);
  if (o.dataset === 'avmnist')
    return (
      `AV-MNIST: FSDD v1.0.10 recordings paired with MNIST images by digit in file-name order. Audio: log-mel (256-point FFT, hop 80, 40 mels) resampled to 32 frames, computed in WebAssembly, standardised with the fit part's statistics, ${describeEncoder(encoders.audio)}; image: 28×28 in [0, 1], ${describeEncoder(encoders.image, 784)}. ` +
      (o.split === 'B'
        ? 'Split B: leave one speaker out; validation = all recordings of the next speaker (speaker-disjoint, mirrors the test condition). '
        : `Split ${o.split}: recordings 5-49 train, 0-4 test; validation a stratified ${pc}% of train${o.split === 'C' ? '; images reconstructed from the top principal components of MNIST-train explaining < 25% of its variance' : ''}. `) +
      'Test used only for the final figures.'
    );
  const enc = `Encoders: ${Object.entries(encoders)
    .map(([m, e]) => `${m} ${describeEncoder(e)}`)
    .join('; ')}.`;
  if (o.dataset === 'mfeat') return `mfeat (UCI Multiple Features, multi-view): per fold a stratified 25% test split (seed 1000 + fold); validation = a stratified ${pc}% of the rest; features standardised with the fit part's statistics only (never validation or test); test used only for the final figures. ${enc}`;
  const m = o.manifest!;
  return (
    `User data, manifest ${m.train}: ` +
    (m.test ? `a separate test set (${m.test}), one fold; ` : `per fold a stratified ${+(100 * m.testFraction).toFixed(2)}% test split of the rows (seed 1000 + fold); `) +
    (m.val ? `a separate validation set (${m.val}); ` : `validation = a stratified ${pc}% of the rest (seed = the run's seed); `) +
    (m.standardize ? "features standardised with the fit part's statistics only (never validation or test); " : 'features not standardised; ') +
    `test used only for the final figures. ${enc}`
  );
}

/**
 * Run the whole comparison. `spawn(spec)` runs one spec somewhere (a child process in the CLI);
 * runs are dispatched `jobs` at a time, in a fixed order, and collected in that order.
 * `onStart` is called once the options are checked (and a manifest's modalities known), before any run.
 */
export async function compare(o: CompareOptions, spawn: (spec: RunSpec) => Promise<RunRecord>, progress?: (done: number, total: number, r: RunRecord) => void, onStart?: (o: CompareOptions, total: number) => void): Promise<Report> {
  checkCompareOptions(o);
  const token = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  if (o.dataset === 'manifest') await prepareManifest(o, token);
  const specs: RunSpec[] = [];
  for (const fold of o.folds)
    for (let seed = 0; seed < o.seeds; seed++)
      for (const method of o.methods)
        specs.push({ dataset: o.dataset, views: o.views, split: o.split, imageEncoder: o.imageEncoder, cacheDir: o.cacheDir, method, fold, seed, dataDir: o.dataDir, epochs: o.epochs, manifest: o.manifest, settings: o.settings, token });
  const cfg0 = methodConfigFor(specs[0]); // config errors (e.g. an encoder for a missing modality) before any run
  onStart?.(o, specs.length);
  const results: RunRecord[] = new Array(specs.length);
  let next = 0,
    done = 0;
  const worker = async () => {
    while (next < specs.length) {
      const i = next++;
      results[i] = await spawn(specs[i]);
      progress?.(++done, specs.length, results[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.jobs, specs.length) }, worker));
  const { out: _out, dataDir: _dir, cacheDir: _cache, ...options } = o;
  const references = referencesOf(o.methods, o.references);
  return {
    dataset: o.dataset === 'avmnist' ? `AV-MNIST split ${o.split}` : o.dataset === 'mfeat' ? 'mfeat' : `manifest ${o.manifest!.train}`,
    views: o.views,
    protocol: protocolOf(o, cfg0.encoders, cfg0.validationFraction),
    createdAt: new Date().toISOString(),
    options,
    runs: results,
    summary: summarise(results, o.methods),
    perFold: perFold(results, o.methods),
    paired: pairedDifferences(results, o.methods, references),
    pairedBootstrap: { ...BOOTSTRAP, unit: 'the n (fold, seed) pairs, drawn jointly with replacement (not folds as clusters)' },
  };
}

export async function writeReport(report: Report, dir: string): Promise<string[]> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  await fs.mkdir(dir, { recursive: true });
  const files: [string, string][] = [
    ['results.json', JSON.stringify(report, null, 2)],
    ['results.md', renderMarkdown(report)],
    ['report.html', renderHtml(report)],
  ];
  const written: string[] = [];
  for (const [name, text] of files) {
    const target = path.join(dir, name);
    const tmp = `${target}.tmp-${process.pid}`;
    await fs.writeFile(tmp, text);
    await fs.rename(tmp, target); // atomic: a reader never sees half a file
    written.push(target);
  }
  return written;
}
