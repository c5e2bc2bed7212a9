/**
 * `udi train`, `udi eval` and `udi predict`: one config file in, a checkpoint folder out, and the
 * checkpoint used anywhere. A checkpoint folder holds model.safetensors, config.json (the resolved
 * config) and result.json.
 */
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { applyStandardize, type Dataset, DataError, stratifiedSplit } from './data/dataset.js';
import { loadManifest } from './data/manifest.js';
import { createRuntime } from './runtime/node.js';
import { type ModelDescription, preprocessOf } from './io/checkpoint.js';
import { loadModel, removeStaleTemporaries, saveModel, writeFileAtomic } from './io/checkpoint-file.js';
import { type TrainConfig, toMethodConfig } from './io/config.js';
import { loadTrainConfig } from './io/config-file.js';
import { defaultCacheDir, loadData, type Splits } from './io/data.js';
import { fileError } from './io/files.js';
import { progressCallbacks, type ProgressMode } from './progress.js';
import { predict, type Method, train, type TrainState } from './train/methods.js';
import { checkResumeConfig, checkResumeState, checkStateFitsNet, encodeState, loadState, type SavedState } from './io/state.js';
import { argmaxRows, scores } from './train/metrics.js';
import { formatEvalSummary, formatTrainSummary, summaryOut } from './cli-text.js';
import { type ErrorCode, UserError } from './errors.js';

/** The files `udi train` writes into its output folder (written atomically). */
const RUN_FILES = ['config.json', 'state.safetensors', 'model.safetensors', 'result.json'];

export { UserError };

export interface CommonFlags {
  threads?: string;
  /** AV-MNIST and mfeat: the data folder, instead of the config's data.dir. */
  data?: string;
  json?: boolean;
  quiet?: boolean;
  cache?: string;
}

const threadsOf = (t?: string) => (t === undefined || t === 'auto' ? 'auto' : Number(t));

/**
 * The data a config names. A file that is missing or unreadable is reported with the config that
 * named it and the folder its relative paths resolve against.
 */
async function loadConfigData(rt: Awaited<ReturnType<typeof createRuntime>>, config: TrainConfig, configFile: string, cache?: string): Promise<Splits> {
  try {
    return await loadData(rt, config.data, config, { cacheDir: cache });
  } catch (e) {
    const code = (e as DataError).code;
    if (config.data.kind === 'manifest' && ['MISSING_FILE', 'NOT_A_FILE', 'FILE_PERMISSION', 'FILE_TOO_LARGE', 'FILE_READ'].includes(code)) {
      throw new DataError(code, `${configFile}: data: ${(e as Error).message} (relative paths in a config resolve against the config's folder, ${dirname(resolve(configFile))})`);
    }
    throw e;
  }
}

/** The config with `--data DIR` as its data folder (AV-MNIST and mfeat; a manifest config names its files). */
function withDataDir(config: TrainConfig, dir: string | undefined, configFile: string): TrainConfig {
  if (dir === undefined) return config;
  if (config.data.kind === 'manifest') throw new UserError(`--data: ${configFile} reads a manifest (data.train names its files); --data sets the folder of AV-MNIST or mfeat`);
  return { ...config, data: { ...config.data, dir: resolve(dir) } };
}

/**
 * Load the data, saying first when AV-MNIST may build its features (the first run reads 3,000
 * recordings and computes their features in WebAssembly before anything else prints).
 */
async function loadNoting<T>(config: TrainConfig, cache: string | undefined, quiet: boolean | undefined, load: () => Promise<T>): Promise<T> {
  if (config.data.kind !== 'avmnist' || quiet) return load();
  const t = Date.now();
  process.stderr.write(`AV-MNIST: reading FSDD and MNIST; a first run builds the audio features (about 15-20 s) and caches them in ${cache ?? defaultCacheDir()}\n`);
  const out = await load();
  process.stderr.write(`AV-MNIST: ready in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
  return out;
}

function mode(f: CommonFlags): ProgressMode {
  return f.quiet ? 'quiet' : f.json || !process.stderr.isTTY ? 'json' : 'tty';
}

/** Train from a config into `out`; with `resume`, continue the run saved in `out` instead. */
export async function trainCommand(configFile: string | undefined, out: string, f: CommonFlags & { resume?: boolean }): Promise<void> {
  let config: TrainConfig;
  let resume: TrainState | undefined;
  const statePath = join(out, 'state.safetensors');
  const configPath = f.resume ? join(out, 'config.json') : configFile;
  if (f.resume) {
    config = await loadTrainConfig(configPath!);
    // A process killed during a write leaves its temporary file: remove those of dead processes.
    await removeStaleTemporaries(out, RUN_FILES);
    let loaded: SavedState;
    try {
      loaded = await loadState(statePath);
    } catch (e) {
      if ((e as DataError).code === 'MISSING_FILE') throw new DataError('MISSING_FILE', `${statePath} does not exist: nothing to resume (a run writes it after its first epoch)`);
      throw e;
    }
    // The state must continue the run it was saved by: the same config, field by field.
    await checkResumeConfig(loaded, config, { file: statePath, configFile: configPath! });
    resume = loaded.state;
  } else {
    if (!configFile) throw new UserError('udi train needs --config FILE.json (or --resume DIR)');
    config = withDataDir(await loadTrainConfig(configFile), f.data, configFile);
    await removeStaleTemporaries(out, RUN_FILES);
    // Paths in the copy are absolute (resolved against the config's folder), so the run folder works from anywhere.
    await writeFileAtomic(join(out, 'config.json'), JSON.stringify(config, null, 2));
  }
  const rt = await createRuntime({ threads: threadsOf(f.threads) });
  const ac = new AbortController();
  const onSigint = () => ac.abort(new UserError(`training was interrupted; continue it with: udi train --resume ${out}`, 'INTERRUPTED'));
  process.once('SIGINT', onSigint);
  try {
    const splits = await loadNoting(config, f.cache, f.quiet, () => loadConfigData(rt, config, configPath!, f.cache));
    const names = Object.keys(splits.train.modalities);
    const cfg = toMethodConfig(config, names);
    // The rows the trainer trains on: the training part, less the validation part it carves when none is given.
    const trainRows = splits.val ? splits.train.size : stratifiedSplit(splits.train.labels, cfg.validationFraction, cfg.seed).fit.length;
    if (resume) checkResumeState(resume, { file: statePath, configFile: configPath, method: config.method, cfg, names });
    const m = mode(f);
    const write = (s: string) => (m === 'json' && f.json ? process.stdout.write(s) : process.stderr.write(s));
    if (m !== 'quiet') process.stderr.write(`udi train: ${config.method} on ${splits.description}; ${rt.info.build}, ${rt.info.threads} thread(s)${resume ? `; resuming after ${resume.done.length} stage(s)` : ''}\n`);
    const configText = JSON.stringify(config);
    const callbacks = progressCallbacks(m, write);
    const saved = resume;
    if (saved) {
      const begin = callbacks.onTrainBegin;
      callbacks.onTrainBegin = (net, plan) => {
        checkStateFitsNet(saved, net, { file: statePath, trainRows });
        begin?.call(callbacks, net, plan);
      };
    }
    let trained: Awaited<ReturnType<typeof train>>;
    try {
      trained = await train(rt, config.method as Method, splits, cfg, {
        callbacks,
        signal: ac.signal,
        resume,
        onState: (s) => writeFileAtomic(statePath, encodeState(s, configText)),
        // The model records the standardisation its splits were given, so its checkpoint carries it.
        preprocess: splits.stats,
      });
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'RESUME_MISMATCH' && !(e instanceof DataError)) throw new DataError(code, `${statePath}: ${(e as Error).message}; resume with the config the run started with (${configPath}), or start afresh with udi train --config`);
      if (code === 'CLASS_ABSENT' && config.data.kind === 'manifest') throw new DataError(code, `${config.data.train} (the training data of ${configPath}): ${(e as Error).message}`);
      throw e;
    }
    const { result, model } = trained;
    await saveModel(model, join(out, 'model.safetensors'), { anchor: result.anchor?.name });
    await writeFileAtomic(join(out, 'result.json'), JSON.stringify(result, null, 2));
    const summary = {
      checkpoint: join(out, 'model.safetensors'),
      evaluatedOn: result.evaluatedOn,
      fusedAcc: result.fused.acc,
      fusedF1: result.fused.f1,
      soloAcc: result.soloAcc,
      inModelAcc: result.inModelAcc,
      anchor: result.anchor?.name,
      updates: result.cost.updates,
      wallMs: result.cost.wallMs,
    };
    process.stdout.write(summaryOut(f.json, summary, () => formatTrainSummary(summary)));
  } finally {
    process.off('SIGINT', onSigint);
    rt.dispose();
  }
}

/** The files of a checkpoint given as a run folder or as its model file: the model, and the run's config beside it. */
export async function checkpointFiles(ckpt: string): Promise<{ isDir: boolean; model: string; config: string }> {
  let isDir: boolean;
  try {
    isDir = (await stat(ckpt)).isDirectory();
  } catch (e) {
    throw fileError(e, ckpt, { what: 'checkpoint' });
  }
  const dir = isDir ? ckpt : dirname(ckpt);
  return { isDir, model: isDir ? join(dir, 'model.safetensors') : ckpt, config: join(dir, 'config.json') };
}

/**
 * Check that a dataset can be given to a checkpoint's model: its modalities are the model's with
 * the same widths, at least one fused modality is present (all of them for a joint head), the fusion
 * weights of those present do not sum to 0, and every label is one of the model's classes.
 */
function checkInputFits(d: ModelDescription, ds: Dataset, where: { input: string; labels?: string; checkpoint: string }): void {
  const fail = (msg: string, code: ErrorCode = 'PREDICT_MODALITIES') => new DataError(code, `${where.input}: ${msg}`);
  const have = Object.keys(ds.modalities);
  const unknown = have.filter((m) => !d.modalities.some((s) => s.name === m));
  if (unknown.length) throw fail(`the model has no modality ${unknown.map((m) => `"${m}"`).join(', ')} (it has ${d.modalities.map((s) => s.name).join(', ')})`);
  for (const s of d.modalities) {
    const m = ds.modalities[s.name];
    if (m && m.dim !== s.dim) throw fail(`modality "${s.name}" has ${m.dim} features, the model expects ${s.dim}`, 'BAD_SHAPE');
  }
  const present = d.fused.filter((m) => have.includes(m));
  if (present.length === 0) throw fail(`none of the modalities the model predicts from (${d.fused.join(', ')}) is in the input (it has ${have.join(', ')})`);
  if (d.fusion === 'joint' && present.length !== d.fused.length) throw fail(`a ${d.method} model fuses in its joint head and needs every modality (${d.fused.join(', ')}); missing ${d.fused.filter((m) => !present.includes(m)).join(', ')}`);
  if (d.fusion === 'validation' && !(present.reduce((a, m) => a + (d.fusionWeights?.[m] ?? 0), 0) > 0)) {
    throw fail(`the checkpoint ${where.checkpoint} gives weight 0 to ${present.join(', ')} (its fusion weights: ${JSON.stringify(d.fusionWeights)}); give the input the other modalities too`);
  }
  const bad = ds.labels.findIndex((y) => y >= d.classes);
  if (bad >= 0) throw new DataError('BAD_LABEL', `${where.labels ?? where.input}: the label of row ${bad} is ${ds.labels[bad]}, but the model has ${d.classes} classes (0-${d.classes - 1}); the labels must be the ones the model was trained with`);
}

/** Standardised inputs must stay finite (float32): a value far outside the training data may not. */
function checkFinite(ds: Dataset, where: string): void {
  for (const [name, m] of Object.entries(ds.modalities)) {
    const i = m.data.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) throw new DataError('NON_FINITE', `${where}: modality "${name}" row ${Math.floor(i / m.dim)} column ${i % m.dim} becomes ${m.data[i]} after the checkpoint's standardisation ((x − mean) / std): the value is far outside the range of the training data`);
  }
}

/** Evaluate a checkpoint on the test split (else validation) of the data it was trained on. */
export async function evalCommand(ckpt: string, f: CommonFlags): Promise<void> {
  const files = await checkpointFiles(ckpt);
  // Relative paths in the checkpoint's config.json resolve against the checkpoint's folder.
  const config = withDataDir(await loadTrainConfig(files.config), f.data, files.config);
  const rt = await createRuntime({ threads: threadsOf(f.threads) });
  try {
    const { model, description } = await loadModel(rt, files.model);
    const splits = await loadNoting(config, f.cache, f.quiet, () => loadConfigData(rt, config, files.config, f.cache));
    const ds = splits.test ?? splits.val;
    if (!ds) throw new UserError(`${files.config}: the data has no test or validation part to evaluate on`, 'NO_EVAL_DATA');
    checkInputFits(description, ds, { input: `the ${splits.test ? 'test' : 'validation'} data of ${files.config}`, checkpoint: files.model });
    const probs = predict(model, ds);
    const s = scores(probs, ds.labels, model.net.classes);
    const r = { split: splits.test ? 'test' : 'validation', rows: ds.size, acc: s.acc, f1: s.f1 };
    process.stdout.write(summaryOut(f.json, r, () => formatEvalSummary(r, ckpt)));
  } finally {
    rt.dispose();
  }
}

/** Predict every row of a manifest (labels optional) with any subset of the model's modalities. */
export async function predictCommand(ckpt: string, input: string, format: string, f: CommonFlags): Promise<void> {
  if (format !== 'csv' && format !== 'json') throw new UserError(`--format must be csv or json, got "${format}"`);
  const files = await checkpointFiles(ckpt);
  const rt = await createRuntime({ threads: threadsOf(f.threads) });
  try {
    const { model, description } = await loadModel(rt, files.model);
    const raw = await loadManifest(input, { labelsOptional: true });
    checkInputFits(description, raw, { input: raw.files.manifest, labels: raw.files.labels, checkpoint: files.model });
    const ds = applyStandardize(raw, preprocessOf(description));
    checkFinite(ds, raw.files.manifest);
    const C = model.net.classes;
    const probs = predict(model, ds);
    const pred = argmaxRows(probs, ds.size, C);
    if (format === 'json') for (let i = 0; i < ds.size; i++) process.stdout.write(JSON.stringify({ row: i, class: pred[i], probs: Array.from(probs.subarray(i * C, (i + 1) * C)) }) + '\n');
    else {
      process.stdout.write(['row', 'class', ...Array.from({ length: C }, (_, c) => `p${c}`)].join(',') + '\n');
      for (let i = 0; i < ds.size; i++) process.stdout.write([i, pred[i], ...Array.from(probs.subarray(i * C, (i + 1) * C), (p) => p.toPrecision(6))].join(',') + '\n');
    }
    if (raw.labelled) process.stderr.write(`accuracy on the given labels: ${(100 * scores(probs, ds.labels, C).acc).toFixed(2)}% (${ds.size} rows)\n`);
  } finally {
    rt.dispose();
  }
}
