/**
 * `udi train`, `udi eval` and `udi predict`: one config file in, a checkpoint folder out, and the
 * checkpoint used anywhere. A checkpoint folder holds model.safetensors, config.json (the resolved
 * config) and result.json.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { applyStandardize } from './data/dataset.js';
import { loadManifest } from './data/manifest.js';
import { createRuntime } from './runtime/runtime.js';
import { loadModel, preprocessOf, saveModel, writeFileAtomic } from './io/checkpoint.js';
import { parseTrainConfig, type TrainConfig, toMethodConfig } from './io/config.js';
import { loadData } from './io/data.js';
import { progressCallbacks, type ProgressMode } from './progress.js';
import { predict, type Method, train, type TrainState } from './train/methods.js';
import { decodeState, encodeState } from './io/state.js';
import { argmaxRows, scores } from './train/metrics.js';

export class UserError extends Error {}

export interface CommonFlags {
  threads?: string;
  json?: boolean;
  quiet?: boolean;
  cache?: string;
}

const threadsOf = (t?: string) => (t === undefined || t === 'auto' ? 'auto' : Number(t));

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new UserError(`${file} does not exist`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
}

function mode(f: CommonFlags): ProgressMode {
  return f.quiet ? 'quiet' : f.json || !process.stderr.isTTY ? 'json' : 'tty';
}

/** Train from a config into `out`; with `resume`, continue the run saved in `out` instead. */
export async function trainCommand(configFile: string | undefined, out: string, f: CommonFlags & { resume?: boolean }): Promise<void> {
  let config: TrainConfig;
  let resume: TrainState | undefined;
  const statePath = join(out, 'state.safetensors');
  if (f.resume) {
    config = parseTrainConfig(await readJson(join(out, 'config.json')), join(out, 'config.json'));
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(statePath));
    } catch {
      throw new UserError(`${statePath} does not exist: nothing to resume (a run writes it after its first epoch)`);
    }
    resume = decodeState(bytes, statePath).state;
  } else {
    if (!configFile) throw new UserError('udi train needs --config FILE.json (or --resume DIR)');
    config = parseTrainConfig(await readJson(configFile), configFile);
    await writeFileAtomic(join(out, 'config.json'), JSON.stringify(config, null, 2));
  }
  const rt = await createRuntime({ threads: threadsOf(f.threads) });
  const ac = new AbortController();
  const onSigint = () => ac.abort(new UserError(`training was interrupted; continue it with: udi train --resume ${out}`));
  process.once('SIGINT', onSigint);
  try {
    const splits = await loadData(rt, config.data, config.seed, { cacheDir: f.cache });
    const names = Object.keys(splits.train.modalities);
    const cfg = toMethodConfig(config, names);
    const m = mode(f);
    const write = (s: string) => (m === 'json' && f.json ? process.stdout.write(s) : process.stderr.write(s));
    if (m !== 'quiet') process.stderr.write(`udi train: ${config.method} on ${splits.description}; ${rt.info.build}, ${rt.info.threads} thread(s)${resume ? `; resuming after ${resume.done.length} stage(s)` : ''}\n`);
    const budget = (stage: string) => (stage.startsWith('solo') ? cfg.solo : stage.startsWith('guided') ? cfg.guided : stage === 'fusion-head' ? cfg.fusionHead : cfg.joint).epochs;
    const configText = JSON.stringify(config);
    const { result, model } = await train(rt, config.method as Method, splits, cfg, {
      callbacks: progressCallbacks(m, write, budget),
      signal: ac.signal,
      resume,
      onState: (s) => writeFileAtomic(statePath, encodeState(s, configText)),
    });
    await saveModel(model, join(out, 'model.safetensors'), { anchor: result.anchor?.name, preprocess: splits.stats });
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
    process.stdout.write(JSON.stringify(summary) + '\n');
  } finally {
    process.off('SIGINT', onSigint);
    rt.dispose();
  }
}

async function checkpointFiles(ckpt: string): Promise<{ model: string; config: string }> {
  let dir = ckpt;
  try {
    if (!(await stat(ckpt)).isDirectory()) dir = join(ckpt, '..');
  } catch {
    throw new UserError(`checkpoint ${ckpt} does not exist`);
  }
  return { model: (await stat(ckpt)).isDirectory() ? join(dir, 'model.safetensors') : ckpt, config: join(dir, 'config.json') };
}

/** Evaluate a checkpoint on the test split (else validation) of the data it was trained on. */
export async function evalCommand(ckpt: string, f: CommonFlags): Promise<void> {
  const files = await checkpointFiles(ckpt);
  const config: TrainConfig = parseTrainConfig(await readJson(files.config), files.config);
  const rt = await createRuntime({ threads: threadsOf(f.threads) });
  try {
    const { model } = await loadModel(rt, files.model);
    const splits = await loadData(rt, config.data, config.seed, { cacheDir: f.cache });
    const ds = splits.test ?? splits.val;
    if (!ds) throw new UserError(`${files.config}: the data has no test or validation part to evaluate on`);
    const probs = predict(model, ds);
    const s = scores(probs, ds.labels, model.net.classes);
    process.stdout.write(JSON.stringify({ split: splits.test ? 'test' : 'validation', rows: ds.size, acc: s.acc, f1: s.f1 }) + '\n');
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
    const unknown = Object.keys(raw.modalities).filter((m) => !description.modalities.some((s) => s.name === m));
    if (unknown.length) throw new UserError(`${input}: the model has no modality ${unknown.map((m) => `"${m}"`).join(', ')} (it has ${description.modalities.map((s) => s.name).join(', ')})`);
    for (const s of description.modalities) {
      const m = raw.modalities[s.name];
      if (m && m.dim !== s.dim) throw new UserError(`${input}: modality "${s.name}" has ${m.dim} features, the model expects ${s.dim}`);
    }
    const ds = applyStandardize(raw, preprocessOf(description));
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
