/**
 * The comparison harness: every method × fold × seed on one dataset, each run independent, run in
 * parallel child processes; writes results.json, results.md and a self-contained report.html.
 * Node only (it uses child processes and the file system).
 */
import { createRuntime } from './runtime/runtime.js';
import { MFEAT_VIEWS, type MfeatView } from './data/mfeat.js';
import type { AvmnistSplit } from './data/avmnist.js';
import type { TrainConfig } from './io/config.js';
import { loadData } from './io/data.js';
import type { EncoderConfig } from './nn/encoders.js';
import { defaultConfig, METHODS, type Method, type Result, train } from './train/methods.js';
import { renderMarkdown, renderHtml } from './report.js';

export type DatasetName = 'mfeat' | 'avmnist';

export interface CompareOptions {
  dataset: DatasetName;
  /** mfeat views to use (default fac, mor: a strong and a weak view); AV-MNIST: audio, image. */
  views: string[];
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
  /** Maximum epochs per stage (the budget); early stopping usually ends stages sooner. */
  epochs: number;
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
  epochs: number;
}

export interface RunRecord {
  method: Method;
  fold: number;
  seed: number;
  fusedAcc: number;
  fusedF1: number;
  soloAcc: Record<string, number>;
  inModelAcc: Record<string, number>;
  anchor: string | null;
  anchorReason: string | null;
  updates: Record<string, number>;
  wallMs: number;
  stages: Result['cost']['stages'];
  /** Per-epoch validation curves: stage, epoch, monitor. */
  curves: { stage: string; epoch: number; loss: number; monitor: number }[];
  /** λ trace, subsampled to at most 400 points. */
  lambda: { follower: string; step: number; lambdaCon: number; lambdaCom: number; cos: number }[];
}

export interface Summary {
  method: Method;
  runs: number;
  fusedAcc: { mean: number; std: number };
  fusedF1: { mean: number; std: number };
  soloAcc: Record<string, { mean: number; std: number }>;
  inModelAcc: Record<string, { mean: number; std: number }>;
  wallMs: { mean: number; std: number };
  anchors: Record<string, number>;
}

export interface Report {
  dataset: string;
  views: string[];
  protocol: string;
  createdAt: string;
  options: Omit<CompareOptions, 'out' | 'dataDir'>;
  runs: RunRecord[];
  summary: Summary[];
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
    return {
      method,
      runs: rs.length,
      fusedAcc: meanStd(rs.map((r) => r.fusedAcc)),
      fusedF1: meanStd(rs.map((r) => r.fusedF1)),
      soloAcc: per('soloAcc'),
      inModelAcc: per('inModelAcc'),
      wallMs: meanStd(rs.map((r) => r.wallMs)),
      anchors,
    };
  });
}

/** Encoders per modality: MLPs for mfeat views and AV-MNIST audio; an MLP or a small CNN for images. */
function encodersFor(spec: RunSpec): Record<string, EncoderConfig> {
  if (spec.dataset === 'mfeat') return Object.fromEntries(spec.views.map((v) => [v, { type: 'mlp', hidden: [64] } as EncoderConfig]));
  return {
    audio: { type: 'mlp', hidden: [128, 64] },
    image: spec.imageEncoder === 'cnn' ? { type: 'cnn', input: [28, 28, 1], channels: [8, 16], kernel: 3, dense: 64 } : { type: 'mlp', hidden: [128, 64] },
  };
}

function dataOf(spec: RunSpec): TrainConfig['data'] {
  return spec.dataset === 'avmnist' ? { kind: 'avmnist', split: spec.split, fold: spec.fold, dir: spec.dataDir } : { kind: 'mfeat', views: spec.views as MfeatView[], fold: spec.fold, dir: spec.dataDir };
}

/** One run, in this process. */
export async function runOne(spec: RunSpec): Promise<RunRecord> {
  const rt = await createRuntime({ threads: 1 });
  try {
    const data = await loadData(rt, dataOf(spec), spec.seed, { cacheDir: spec.cacheDir });
    const cfg = defaultConfig(encodersFor(spec), spec.seed);
    for (const s of [cfg.solo, cfg.guided, cfg.joint, cfg.fusionHead]) s.epochs = spec.epochs;
    const t0 = Date.now();
    const { result } = await train(rt, spec.method, data, cfg);
    const every = Math.max(1, Math.ceil(result.lambdaTrace.length / 400));
    return {
      method: spec.method,
      fold: spec.fold,
      seed: spec.seed,
      fusedAcc: result.fused.acc,
      fusedF1: result.fused.f1,
      soloAcc: result.soloAcc,
      inModelAcc: result.inModelAcc,
      anchor: result.anchor?.name ?? null,
      anchorReason: result.anchor?.reason ?? null,
      updates: result.cost.updates,
      wallMs: Date.now() - t0,
      stages: result.cost.stages,
      curves: result.history.map((h) => ({ stage: h.stage, epoch: h.epoch, loss: h.loss, monitor: h.monitor })),
      lambda: result.lambdaTrace.filter((_, i) => i % every === 0),
    };
  } finally {
    rt.dispose();
  }
}

export function checkCompareOptions(o: CompareOptions): void {
  if (o.dataset !== 'mfeat' && o.dataset !== 'avmnist') throw new Error(`--dataset must be "avmnist" or "mfeat", got "${o.dataset}"`);
  if (o.dataset === 'mfeat') {
    for (const v of o.views) if (!MFEAT_VIEWS.includes(v as MfeatView)) throw new Error(`--views: mfeat has no view "${v}" (views: ${MFEAT_VIEWS.join(', ')})`);
    if (o.views.length < 2) throw new Error('--views: name at least two views');
  } else {
    if (o.split !== 'A' && o.split !== 'B' && o.split !== 'C') throw new Error(`--split must be A, B or C, got "${o.split}"`);
    const max = o.split === 'B' ? 5 : 0;
    for (const f of o.folds) if (!(Number.isInteger(f) && f >= 0 && f <= max)) throw new Error(`--folds: split ${o.split} has folds 0${max ? `-${max}` : ''}, got ${f}`);
  }
  if (o.folds.length === 0) throw new Error('--folds: no fold given');
  for (const m of o.methods) if (!METHODS.includes(m)) throw new Error(`--methods: unknown method "${m}" (methods: ${METHODS.join(', ')})`);
  for (const [k, v] of [['seeds', o.seeds], ['jobs', o.jobs], ['epochs', o.epochs]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new Error(`--${k} must be a whole number >= 1, got ${v}`);
  }
}

/**
 * Run the whole comparison. `spawn(spec)` runs one spec somewhere (a child process in the CLI);
 * runs are dispatched `jobs` at a time, in a fixed order, and collected in that order.
 */
export async function compare(o: CompareOptions, spawn: (spec: RunSpec) => Promise<RunRecord>, progress?: (done: number, total: number, r: RunRecord) => void): Promise<Report> {
  checkCompareOptions(o);
  const specs: RunSpec[] = [];
  for (const fold of o.folds)
    for (let seed = 0; seed < o.seeds; seed++)
      for (const method of o.methods) specs.push({ dataset: o.dataset, views: o.views, split: o.split, imageEncoder: o.imageEncoder, cacheDir: o.cacheDir, method, fold, seed, dataDir: o.dataDir, epochs: o.epochs });
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
  return {
    dataset: o.dataset === 'avmnist' ? `AV-MNIST split ${o.split}` : 'mfeat',
    views: o.views,
    protocol:
      o.dataset === 'avmnist'
        ? `AV-MNIST: FSDD v1.0.10 recordings paired with MNIST images by digit in file-name order (data-protocol.md). Audio: log-mel (256-point FFT, hop 80, 40 mels) resampled to 32 frames, computed in WebAssembly, standardised with the fit part's statistics; image: 28×28 in [0, 1], ${o.imageEncoder === 'cnn' ? 'CNN conv8-pool-conv16-pool-dense64' : 'MLP 784-128-64'}. ` +
          (o.split === 'B'
            ? 'Split B: leave one speaker out; validation = all recordings of the next speaker (speaker-disjoint, mirrors the test condition). '
            : `Split ${o.split}: recordings 5-49 train, 0-4 test; validation a stratified 10% of train${o.split === 'C' ? '; images reconstructed from the top principal components of MNIST-train explaining < 25% of its variance' : ''}. `) +
          'Test used only for the final figures.'
        : 'mfeat (UCI Multiple Features, multi-view): per fold a stratified 25% test split (seed 1000 + fold); validation = a stratified 10% of the rest; features standardised with training statistics; test used only for the final figures.',
    createdAt: new Date().toISOString(),
    options,
    runs: results,
    summary: summarise(results, o.methods),
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
