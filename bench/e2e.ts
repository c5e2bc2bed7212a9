/**
 * End-to-end benchmark: training steps, whole training runs and memory, udi-wasm next to
 * @tensorflow/tfjs (layers API with autograd) doing the same work, all in one process run.
 *
 *   npm run bench                         # full run (~2-5 minutes)
 *   npm run bench -- --json out.json      # also write machine-readable results
 *   npm run bench -- --quick              # CI smoke (< 60 s): few rounds, short tfjs run
 *
 * What is measured (AV-MNIST split B fold 0, seed 0; batch 64 everywhere):
 *   1. step:mlp-784-256-10      one SGD step (momentum 0.9) of an MLP 784-256-10 on the images:
 *                               udi-wasm from ParamStore + Dense + Activation + kernels (bench/steps.ts),
 *                               1 and 2 threads; tfjs-wasm tf.sequential + optimizer.minimize;
 *                               and the SIMD ceiling loop (bench/ceiling.ts) in the same rounds, so
 *                               the step's floor (its FLOPs at the ceiling) is from the same moment.
 *   2. step:<encoder>+head      one step of each default AV-MNIST encoder with a linear head, exactly
 *                               the trainer's solo-stage step (AdamW, clipping); tfjs with Adam
 *                               (lr 1e-3, eps 1e-8, no weight decay, no clipping). The CNN cannot
 *                               train on tfjs-wasm (no Conv2DBackpropFilter): its peer is the tfjs cpu
 *                               backend over a few steps, and the wasm failure is a row.
 *                               Before timing, each peer starts from udi-wasm's initial weights and
 *                               both take the first step on the same batch: losses and updated
 *                               weights are compared (row.validation).
 *   3. run:udi, run:joint       train(rt, 'udi' | 'joint') with defaultConfig and the MLP encoders of
 *                               compare.ts, fresh runtime per run, 1 and 2 threads: wall time per
 *                               stage, samples/s = Σ steps × batch / wall time.
 *   4. run:joint on tfjs-wasm   the same joint model (tf.model, two inputs, concat, linear head),
 *                               model.fit with Adam 1e-3, batch 64, the same epochs as udi-wasm's
 *                               joint run and per-epoch validation on the same validation set.
 *                               Both udi-wasm runs' "vs tfjs" are against it (tfjs has no UDI).
 *   5. memory: 1,000 MLP steps  JS heap after GC, WebAssembly memory and arena peak before/after,
 *                               JS bytes allocated per step and where (V8 sampling heap profiler).
 *   6. memory of a run and of   peak WASM memory and JS heap of the UDI run; a model built from a
 *      predicting               checkpoint (parameters copied in) predicting 10 samples.
 *   + profile: where the time of a udi-wasm step goes, for the MLP and CNN steps, 1 and 2 threads.
 *              Uninstrumented: the step, its batch copy alone, and (1 thread) the step's recorded
 *              sequence of WebAssembly calls replayed with nothing around it; JS = the rest.
 *              Instrumented (bench only: rt.kernels' methods, raw exports, pool.post and pool.join
 *              wrapped with self-time accounting): time per export (matmuls per shape), per wrapper, in layer
 *              code, in the pool's dispatch + wait (2 threads), and GC (PerformanceObserver).
 *              bench/cpuprof.ts gives V8's sampling CPU profile of the same steps.
 *
 * Timing method (as bench/kernels.ts): warm-up, then each timed batch is sized to ~--batch-ms;
 * rounds time one batch of every implementation of a group back to back in a rotating order; the
 * figure is the median over --runs rounds. A round during which other processes used more than a
 * quarter of a core (/proc/stat minus this process) is repeated, up to 3 x --runs rounds.
 * ratioVsTfjs on a udi-wasm row = tfjs time / udi-wasm time (or udi-wasm samples/s / tfjs
 * samples/s) against the tfjs row of the same name: > 1 means udi-wasm is faster.
 */
import { parseArgs } from 'node:util';
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { PerformanceObserver } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import * as tf from '@tensorflow/tfjs';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { createRuntime } from '../src/runtime/node.js';
import type { Runtime } from '../src/runtime/runtime.js';
import { Kernels } from '../src/kernels/ops.js';
import { KERNEL_NAMES } from '../src/kernels/spec.js';
import { avmnistSplit, loadAvmnist } from '../src/data/avmnist.js';
import { type Dataset, subset } from '../src/data/dataset.js';
import type { EncoderConfig } from '../src/nn/encoders.js';
import { defaultConfig, type Method, predict, type Model, train } from '../src/train/methods.js';
import { MultimodalNet } from '../src/train/net.js';
import { batchOrder, mlpStep, trainerStep, type UdiStep } from './steps.js';
import { OTHER_CPU_MAX, OtherCpu } from './meter.js';
import { orExit, positiveInt } from './args.js';
import { Ceiling } from './ceiling.js';

// ---- options -----------------------------------------------------------------------------------

const HELP = `usage: npm run bench -- [--json FILE] [--quick] [--runs N] [--batch-ms MS] [--data DIR] [--cache DIR] [--no-tfjs-cpu]
  --json FILE     write the rows, profile and memory findings plus metadata to FILE
  --quick         CI smoke (< 60 s): 3 rounds, short batches, 2 tfjs epochs, 1 tfjs-cpu CNN step
  --runs N        timed rounds per step group (median is reported; default 7)
  --batch-ms MS   target duration of one timed batch of steps (default 100; quick 25)
  --data DIR      folder holding fsdd/ and mnist/ (default ../shared/data)
  --cache DIR     AV-MNIST feature cache (default $UDI_CACHE, else ~/.cache/udi-wasm)
  --no-tfjs-cpu   skip the CNN steps on the tfjs cpu backend (seconds each)`;

const { values: opts } = parseArgs({
  options: {
    json: { type: 'string' },
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    'batch-ms': { type: 'string' },
    data: { type: 'string' },
    cache: { type: 'string' },
    'no-tfjs-cpu': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}
const quick = opts.quick!;
const RUNS = orExit(HELP, () => positiveInt('runs', opts.runs, quick ? 3 : 7, 1));
const BATCH_MS = orExit(HELP, () => positiveInt('batch-ms', opts['batch-ms'], quick ? 25 : 100, 1));
const WARM_MS = quick ? 60 : 300;
const DATA_DIR = opts.data ?? '../shared/data';
const CACHE_DIR = opts.cache ?? process.env.UDI_CACHE ?? join(os.homedir(), '.cache', 'udi-wasm');
const BATCH = 64;
const SEED = 0;
/** tfjs cpu CNN steps timed (each takes seconds), after one validation step. */
const CPU_CNN_STEPS = quick ? 1 : 3;
/** MLP steps between the two memory snapshots. */
const MEM_STEPS = 1000;
const MLP_LR = 0.01,
  MLP_MOMENTUM = 0.9;

const now = () => performance.now();
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
const MiB = (b: number) => b / 2 ** 20;

// A real GC for heap figures: --expose-gc (npm run bench passes it), else V8's flag set at run time.
let gcMethod = 'global.gc (--expose-gc)';
const gcFn: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    gcMethod = 'v8.setFlagsFromString("--expose-gc") at run time';
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  })();
const fullGc = () => {
  gcFn();
  gcFn();
};
const heapUsed = () => process.memoryUsage().heapUsed;

const meter = new OtherCpu();

// ---- rows --------------------------------------------------------------------------------------

type Impl = 'udi-wasm' | 'tfjs-wasm' | 'tfjs-cpu' | 'ceiling';
interface Row {
  name: string;
  impl: Impl;
  threads: number;
  msPerStep?: number | null;
  samplesPerSec?: number | null;
  /** udi-wasm rows: speed of udi-wasm / speed of the tfjs row of the same name (> 1: udi-wasm faster). */
  ratioVsTfjs?: number | null;
  /** Which tfjs row the ratio is against. */
  ratioPeer?: Impl;
  /** The ceiling row: GFLOP/s of the f32x4 mul+add loop on one thread, timed in the same rounds as its group. */
  gflops?: number | null;
  /** Steps with a known FLOP count: the time at the ceiling (threads x the 1-thread ceiling), and msPerStep / that. */
  floorMs?: number;
  ofFloor?: number;
  /** Rows with threads > 1: ms per step on 1 thread / on this many (same group, same rounds). */
  speedupVs1Thread?: number;
  minMs?: number;
  maxMs?: number;
  stepsPerBatch?: number;
  runs?: number;
  roundsDiscarded?: number;
  otherCpu?: number | null;
  steps?: number;
  epochs?: number;
  wallMs?: number;
  /** Runs: time spent in per-epoch validation (and early-stopping snapshots) inside a stage. */
  validationMs?: number;
  batch?: number;
  testAcc?: number;
  validation?: Validation;
  status: 'ok' | 'error' | 'skipped';
  error?: string;
  note?: string;
}
interface Validation {
  lossUdi: number;
  lossPeer: number;
  /** max |w_udi − w_peer| over every parameter after the first step from the same weights. */
  maxAbsWeightDiff: number;
  maxAbsWeight: number;
  tolerance: number;
  ok: boolean;
}
const rows: Row[] = [];
const notes: string[] = [];

// ---- timing harness ----------------------------------------------------------------------------

interface Slot {
  impl: Impl;
  threads: number;
  step: () => void;
  steps: number;
  row: Row;
}
interface Round {
  ms: number[];
  other: number | null;
}
const isClean = (r: Round) => r.other === null || r.other <= OTHER_CPU_MAX;

function warmAndSize(step: () => void): number {
  const t0 = now();
  let calls = 0;
  while (calls < 5 || now() - t0 < WARM_MS) {
    step();
    calls++;
  }
  const probe = Math.max(1, Math.min(32, Math.round(calls / 4)));
  const t = now();
  for (let i = 0; i < probe; i++) step();
  return Math.max(1, Math.round(BATCH_MS / ((now() - t) / probe)));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Pause after a contended round, so a short burst of another process can pass. */
const BACKOFF_MS = 300;

/** Rounds until RUNS were clean (or 3 x RUNS): each times one batch of every slot, rotating. */
async function runRounds(batches: (() => void)[]): Promise<Round[]> {
  const rounds: Round[] = [];
  for (let r = 0; rounds.filter(isClean).length < RUNS && r < 3 * RUNS; r++) {
    if (r > 0 && !isClean(rounds[r - 1])) await sleep(BACKOFF_MS);
    meter.start();
    const ms = new Array<number>(batches.length).fill(0);
    for (let j = 0; j < batches.length; j++) {
      const i = (j + r) % batches.length;
      const t = now();
      batches[i]();
      ms[i] = now() - t;
    }
    rounds.push({ ms, other: meter.stop() });
  }
  return rounds;
}
const usable = (rounds: Round[]) => (rounds.filter(isClean).length >= RUNS ? rounds.filter(isClean) : rounds);

/** Time every slot's step in shared rotating rounds; fills msPerStep and the spread into each slot's row. */
async function timeSlots(slots: Slot[]): Promise<void> {
  for (const s of slots) s.steps = warmAndSize(s.step);
  const rounds = await runRounds(
    slots.map((s) => () => {
      for (let i = 0; i < s.steps; i++) s.step();
    }),
  );
  const used = usable(rounds);
  const others = used.map((r) => r.other).filter((o): o is number => o !== null);
  slots.forEach((s, i) => {
    const per = used.map((r) => r.ms[i] / s.steps);
    Object.assign(s.row, {
      msPerStep: median(per),
      samplesPerSec: (BATCH * 1000) / median(per),
      minMs: Math.min(...per),
      maxMs: Math.max(...per),
      stepsPerBatch: s.steps,
      runs: used.length,
      roundsDiscarded: rounds.length - used.length,
      otherCpu: others.length ? median(others) : null,
    });
  });
}

// ---- tfjs --------------------------------------------------------------------------------------

let tfjsMeta: Record<string, unknown> = {};
async function initTfjsWasm(): Promise<void> {
  // Only the SIMD binary gets a real path, so a silent fall-back to another binary fails to load.
  const dist = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
  const missing = join(dist, 'not-the-simd-build.wasm');
  tfwasm.setWasmPaths({ 'tfjs-backend-wasm.wasm': missing, 'tfjs-backend-wasm-simd.wasm': join(dist, 'tfjs-backend-wasm-simd.wasm'), 'tfjs-backend-wasm-threaded-simd.wasm': missing });
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
  await tf.ready();
  tfjsMeta = { version: tf.version.tfjs, wasmVersion: tfwasm.version_wasm, backend: tf.getBackend(), simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'), multithread: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'), threads: tfwasm.getThreadsCount() };
}

async function useBackend(name: 'wasm' | 'cpu'): Promise<void> {
  if (tf.getBackend() === name) return;
  // The cpu backend prints an advert for tfjs-node on first use; keep the output readable.
  const warn = console.warn;
  console.warn = () => {};
  try {
    if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend("${name}") returned false`);
    await tf.ready();
    tf.tensor([0]).dispose(); // the first write prints it
  } finally {
    console.warn = warn;
  }
}

/** tfjs model with the same layers as a udi-wasm encoder + head (or the plain MLP). */
function tfModel(dim: number, enc: EncoderConfig | { type: 'plain-mlp'; hidden: number }, classes: number): tf.Sequential {
  const L = tf.layers;
  const layers: tf.layers.Layer[] = [];
  if (enc.type === 'plain-mlp') {
    layers.push(L.dense({ inputShape: [dim], units: enc.hidden, activation: 'relu' }));
  } else if (enc.type === 'mlp') {
    enc.hidden.forEach((h, i) => layers.push(L.dense({ ...(i === 0 ? { inputShape: [dim] } : {}), units: h, activation: 'relu' })));
  } else {
    enc.channels.forEach((ch, i) => {
      layers.push(L.conv2d({ ...(i === 0 ? { inputShape: enc.input } : {}), filters: ch, kernelSize: enc.kernel ?? 3, padding: 'same', activation: 'relu' }));
      layers.push(L.maxPooling2d({ poolSize: 2 }));
    });
    layers.push(L.flatten(), L.dense({ units: enc.dense, activation: 'relu' }));
  }
  layers.push(L.dense({ units: classes }));
  return tf.sequential({ layers });
}

/** Give a tfjs model udi-wasm's weights (the same tensors in the same order and layout). */
function setTfWeights(model: tf.LayersModel, ws: Float32Array[]): void {
  const cur = model.getWeights();
  if (cur.length !== ws.length) throw new Error(`tfjs model has ${cur.length} weight tensors, udi-wasm ${ws.length}`);
  const next = cur.map((w, i) => {
    if (w.size !== ws[i].length) throw new Error(`weight ${i}: tfjs ${w.shape.join('x')} vs udi-wasm ${ws[i].length} values`);
    return tf.tensor(ws[i], w.shape);
  });
  model.setWeights(next);
  next.forEach((t) => t.dispose());
}
const tfWeights = (model: tf.LayersModel) => model.getWeights().map((w) => w.dataSync() as Float32Array);

interface TfBatches {
  x: Float32Array[];
  y: Float32Array[];
}
/** The same batches as udi-wasm's (batchOrder with the same seed), gathered once into contiguous arrays. */
function tfBatches(ds: Dataset, modality: string, seed: number): TfBatches {
  const m = ds.modalities[modality];
  const out: TfBatches = { x: [], y: [] };
  for (const idx of batchOrder(ds.size, BATCH, seed)) {
    const x = new Float32Array(BATCH * m.dim);
    const y = new Float32Array(BATCH * ds.classes);
    idx.forEach((r, i) => {
      x.set(m.data.subarray(r * m.dim, (r + 1) * m.dim), i * m.dim);
      y[i * ds.classes + ds.labels[r]] = 1;
    });
    out.x.push(x);
    out.y.push(y);
  }
  return out;
}

/** One tfjs step: input tensors from the next batch, optimizer.minimize with autograd, loss read back. */
function tfStep(model: tf.LayersModel, opt: tf.Optimizer, b: TfBatches, inShape: number[], classes: number): { step: () => number; dispose: () => void } {
  let k = 0;
  return {
    step() {
      const i = k++ % b.x.length;
      const loss = tf.tidy(() => {
        const x = tf.tensor(b.x[i], [BATCH, ...inShape]);
        const y = tf.tensor2d(b.y[i], [BATCH, classes]);
        return opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
      });
      const v = loss.dataSync()[0];
      loss.dispose();
      return v;
    },
    dispose() {
      opt.dispose();
      model.dispose();
    },
  };
}

function validate(udi: UdiStep, peer: { step: () => number }, model: tf.LayersModel, tolerance: number): Validation {
  setTfWeights(model, udi.weights());
  const lossPeer = peer.step();
  const lossUdi = udi.step();
  const a = udi.weights(),
    b = tfWeights(model);
  let diff = 0,
    mx = 0;
  a.forEach((w, i) => {
    for (let j = 0; j < w.length; j++) {
      diff = Math.max(diff, Math.abs(w[j] - b[i][j]));
      mx = Math.max(mx, Math.abs(w[j]));
    }
  });
  const ok = Math.abs(lossUdi - lossPeer) <= 1e-4 * Math.max(1, Math.abs(lossUdi)) && diff <= tolerance;
  return { lossUdi, lossPeer, maxAbsWeightDiff: diff, maxAbsWeight: mx, tolerance, ok };
}

// ---- step groups -------------------------------------------------------------------------------

interface Ctx {
  split: { train: Dataset; val: Dataset; test: Dataset };
  rts: Runtime[]; // [1 thread, 2 threads]
  tfjsOk: boolean;
  ceiling: Ceiling;
}

const ENC: Record<string, EncoderConfig> = {
  audio: { type: 'mlp', hidden: [128, 64] },
  imageMlp: { type: 'mlp', hidden: [128, 64] },
  imageCnn: { type: 'cnn', input: [28, 28, 1], channels: [8, 16], kernel: 3, dense: 64 },
};
/** The encoders of compare.ts for AV-MNIST with the MLP image encoder (the default). */
const RUN_ENCODERS: Record<string, EncoderConfig> = { audio: ENC.audio, image: ENC.imageMlp };

const stageCfg = () => defaultConfig(RUN_ENCODERS, SEED).solo;
/** The trainer's stage without clipping and weight decay: AdamW is then exactly tfjs's Adam. */
const plainAdamCfg = () => {
  const c = stageCfg();
  return { ...c, clipNorm: 0, optimizer: { ...c.optimizer, weightDecay: 0 } };
};

interface Group {
  name: string;
  modality: string;
  make: (rt: Runtime) => UdiStep;
  /** The step the tfjs peer is validated against (default: make): the same maths as the peer's optimiser. */
  makeRef?: (rt: Runtime) => UdiStep;
  /** FLOPs of one step (multiply-adds x 2), when the step is mostly matmul: its floor is then timed against the ceiling. */
  flops?: number;
  tf?: { enc: EncoderConfig | { type: 'plain-mlp'; hidden: number }; opt: () => tf.Optimizer; inShape: number[]; tolerance: number; backend: 'wasm' | 'cpu' };
}

function groups(ctx: Ctx): Group[] {
  const tr = ctx.split.train;
  const adam = () => tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  return [
    {
      name: 'step:mlp-784-256-10',
      modality: 'image',
      make: (rt) => mlpStep(rt, tr, 'image', { hidden: 256, batch: BATCH, lr: MLP_LR, momentum: MLP_MOMENTUM, seed: SEED }),
      // forward x·W1 and h·W2, backward dW1 = xᵀ·dh, dW2 = hᵀ·dz, dh = dz·W2ᵀ (no dx for the input)
      flops: 2 * BATCH * (2 * 784 * 256 + 3 * 256 * 10),
      tf: { enc: { type: 'plain-mlp', hidden: 256 }, opt: () => tf.train.momentum(MLP_LR, MLP_MOMENTUM), inShape: [784], tolerance: 1e-6, backend: 'wasm' },
    },
    {
      name: 'step:audio-mlp-1280-128-64+head',
      modality: 'audio',
      make: (rt) => trainerStep(rt, tr, 'audio', ENC.audio, stageCfg(), SEED),
      // Validated with clipping and weight decay off (then AdamW is Adam). Adam's first update is
      // lr·g/(|g|+eps): where |g| is within a few orders of eps, f32 rounding differences in g move
      // it by a fraction of lr, hence a tolerance of lr/100 (clipping on: up to 4e-5 measured).
      makeRef: (rt) => trainerStep(rt, tr, 'audio', ENC.audio, plainAdamCfg(), SEED),
      tf: { enc: ENC.audio, opt: adam, inShape: [1280], tolerance: 1e-5, backend: 'wasm' },
    },
    {
      name: 'step:image-mlp-784-128-64+head',
      modality: 'image',
      make: (rt) => trainerStep(rt, tr, 'image', ENC.imageMlp, stageCfg(), SEED),
      makeRef: (rt) => trainerStep(rt, tr, 'image', ENC.imageMlp, plainAdamCfg(), SEED),
      tf: { enc: ENC.imageMlp, opt: adam, inShape: [784], tolerance: 1e-5, backend: 'wasm' },
    },
    {
      name: 'step:image-cnn-c8-c16-d64+head',
      modality: 'image',
      make: (rt) => trainerStep(rt, tr, 'image', ENC.imageCnn, stageCfg(), SEED),
      makeRef: (rt) => trainerStep(rt, tr, 'image', ENC.imageCnn, plainAdamCfg(), SEED),
      tf: { enc: ENC.imageCnn, opt: adam, inShape: [28, 28, 1], tolerance: 1e-5, backend: 'cpu' },
    },
  ];
}

/** udi-wasm 1 and 2 threads (+ tfjs-wasm where it can train the model) in shared rounds. */
async function measureGroup(ctx: Ctx, g: Group): Promise<Map<number, UdiStep>> {
  const t0 = now();
  const steps = new Map<number, UdiStep>();
  const slots: Slot[] = [];
  for (const rt of ctx.rts) {
    const s = g.make(rt);
    steps.set(rt.info.threads, s);
    const row: Row = { name: g.name, impl: 'udi-wasm', threads: rt.info.threads, batch: BATCH, status: 'ok' };
    rows.push(row);
    slots.push({ impl: 'udi-wasm', threads: rt.info.threads, step: () => void s.step(), steps: 0, row });
  }
  let tfPeer: { dispose: () => void } | null = null;
  if (g.tf && ctx.tfjsOk && g.tf.backend === 'wasm') {
    const row: Row = { name: g.name, impl: 'tfjs-wasm', threads: 1, batch: BATCH, status: 'ok' };
    rows.push(row);
    try {
      await useBackend('wasm');
      const model = tfModel(ctx.split.train.modalities[g.modality].dim, g.tf.enc, ctx.split.train.classes);
      const st = tfStep(model, g.tf.opt(), tfBatches(ctx.split.train, g.modality, SEED), g.tf.inShape, ctx.split.train.classes);
      tfPeer = st;
      // Validate against a fresh udi-wasm step (1 thread) from the same weights on the same batch.
      const ref = (g.makeRef ?? g.make)(ctx.rts[0]);
      row.validation = validate(ref, st, model, g.tf.tolerance);
      slots.push({ impl: 'tfjs-wasm', threads: 1, step: () => void st.step(), steps: 0, row });
    } catch (e) {
      row.status = 'error';
      row.error = (e as Error).message;
    }
  }
  let ceilingRow: Row | null = null;
  if (g.flops) {
    ceilingRow = { name: g.name, impl: 'ceiling', threads: 1, status: 'ok' };
    rows.push(ceilingRow);
    slots.push({ impl: 'ceiling', threads: 1, step: () => void ctx.ceiling.sample(), steps: 0, row: ceilingRow });
  }
  await timeSlots(slots);
  const udi = slots.filter((x) => x.impl === 'udi-wasm').map((x) => x.row);
  for (const r of udi) if (r.threads > 1 && udi[0].msPerStep && r.msPerStep) r.speedupVs1Thread = udi[0].msPerStep / r.msPerStep;
  if (ceilingRow && g.flops) {
    const gflops = ctx.ceiling.flopsPerSample / (ceilingRow.msPerStep! * 1e6);
    Object.assign(ceilingRow, { gflops, samplesPerSec: undefined, note: `f32x4 mul+add loop, ${gflops.toFixed(1)} GFLOP/s; one ${(g.flops / 1e6).toFixed(1)} MFLOP step at this speed: ${(g.flops / (gflops * 1e6)).toFixed(3)} ms` });
    for (const r of udi) {
      r.floorMs = g.flops / (gflops * r.threads * 1e6);
      r.ofFloor = r.msPerStep! / r.floorMs;
    }
  }
  if (g.tf && ctx.tfjsOk && g.tf.backend === 'cpu') await cnnPeers(ctx, g);
  tfPeer?.dispose();
  const brief = rows
    .filter((r) => r.name === g.name)
    .map((r) => `${r.impl}/${r.threads} ${r.status !== 'ok' ? r.status : r.impl === 'ceiling' ? r.gflops?.toFixed(1) + ' GFLOP/s' : r.msPerStep?.toFixed(2) + ' ms' + (r.ofFloor ? ` (${r.ofFloor.toFixed(2)}x floor)` : '')}`)
    .join(', ');
  console.log(`  ${g.name.padEnd(34)} ${((now() - t0) / 1000).toFixed(1).padStart(5)} s  ${brief}`);
  return steps;
}

/** The CNN on tfjs: the wasm backend's failure as a row, then a few steps on the cpu backend. */
async function cnnPeers(ctx: Ctx, g: Group): Promise<void> {
  const tr = ctx.split.train;
  const enc = g.tf!.enc;
  {
    const row: Row = { name: g.name, impl: 'tfjs-wasm', threads: 1, batch: BATCH, status: 'ok' };
    rows.push(row);
    await useBackend('wasm');
    const st = tfStep(tfModel(784, enc, tr.classes), g.tf!.opt(), tfBatches(tr, g.modality, SEED), g.tf!.inShape, tr.classes);
    try {
      row.msPerStep = median(Array.from({ length: 2 }, () => {
        const t = now();
        st.step();
        return now() - t;
      }));
    } catch (e) {
      row.status = 'error';
      row.error = (e as Error).message;
      row.msPerStep = null;
    }
    st.dispose();
  }
  const row: Row = { name: g.name, impl: 'tfjs-cpu', threads: 1, batch: BATCH, status: 'ok' };
  rows.push(row);
  if (opts['no-tfjs-cpu']) {
    row.status = 'skipped';
    return;
  }
  await useBackend('cpu');
  const model = tfModel(784, enc, tr.classes);
  const st = tfStep(model, g.tf!.opt(), tfBatches(tr, g.modality, SEED), g.tf!.inShape, tr.classes);
  try {
    const ref = (g.makeRef ?? g.make)(ctx.rts[0]);
    meter.start();
    let t = now();
    row.validation = validate(ref, st, model, g.tf!.tolerance);
    const first = now() - t;
    const per: number[] = [];
    for (let i = 0; i < CPU_CNN_STEPS; i++) {
      t = now();
      st.step();
      per.push(now() - t);
    }
    Object.assign(row, { msPerStep: median(per), samplesPerSec: (BATCH * 1000) / median(per), minMs: Math.min(...per), maxMs: Math.max(...per), stepsPerBatch: 1, runs: per.length, otherCpu: meter.stop(), note: `first step (with validation) ${first.toFixed(0)} ms; ${per.length} timed steps` });
  } catch (e) {
    row.status = 'error';
    row.error = (e as Error).message;
  }
  st.dispose();
  await useBackend('wasm');
}

// ---- profile: where a udi-wasm step's time goes ------------------------------------------------

/** Kernels methods that are not kernels (helpers), excluded from wrapping. */
const KERNEL_HELPERS = new Set(['constructor', 'buf', 'ibuf', 'check', 'rc', 'size', 'same', 'finite', 'split', 'elementwise', 'finish', 'rowsCols', 'labels', 'invT', 'eps', 'conv', 'convArgs', 'convMatmul']);

interface Acc {
  calls: number;
  self: number;
  total: number;
}

/** Wraps rt.kernels (its methods, its raw exports, its pool's run) with self-time accounting; bench only. */
class Instrument {
  readonly acc = new Map<string, Acc>();
  /** Time inside top-level instrumented calls (everything else in a step is layer code and the like). */
  topLevel = 0;
  recording: [(...a: number[]) => unknown, number[]][] | null = null;
  private stack: number[] = [];
  private undo: (() => void)[] = [];

  constructor(readonly rt: Runtime) {
    const K = rt.kernels as unknown as Record<string, unknown> & { raw: Record<string, (...a: number[]) => unknown>; pool: object | null };
    const raw = K.raw;
    const wrappedRaw: Record<string, (...a: number[]) => unknown> = {};
    for (const name of KERNEL_NAMES) {
      const f = raw[name];
      const rec = (...a: number[]) => {
        if (this.recording) this.recording.push([f, a.slice()]);
        return f(...a);
      };
      // Matmuls are told apart by shape (m×n×k).
      wrappedRaw[name] = this.wrap(name.startsWith('matmul_') ? (a) => `wasm:${name} ${a[4]}x${a[5]}x${a[6]}` : `wasm:${name}`, rec, null);
    }
    Object.defineProperty(K, 'raw', { value: wrappedRaw, writable: true, configurable: true, enumerable: true });
    this.undo.push(() => Object.defineProperty(K, 'raw', { value: raw, writable: true, configurable: true, enumerable: true }));
    for (const name of Object.getOwnPropertyNames(Kernels.prototype)) {
      const d = Object.getOwnPropertyDescriptor(Kernels.prototype, name)!;
      if (KERNEL_HELPERS.has(name) || typeof d.value !== 'function') continue;
      K[name] = this.wrap(`js:${name}`, d.value as (...a: unknown[]) => unknown, K);
      this.undo.push(() => delete K[name]);
    }
    if (K.pool) {
      const pool = K.pool as unknown as Record<'post' | 'join', (...a: unknown[]) => unknown>;
      for (const name of ['post', 'join'] as const) {
        pool[name] = this.wrap(`sync:pool.${name}`, pool[name], pool);
        this.undo.push(() => delete (pool as Partial<typeof pool>)[name]);
      }
    }
  }

  private accFor(key: string): Acc {
    let a = this.acc.get(key);
    if (!a) this.acc.set(key, (a = { calls: 0, self: 0, total: 0 }));
    return a;
  }

  private wrap<A extends unknown[]>(key: string | ((a: A) => string), f: (...a: A) => unknown, thisArg: unknown): (...a: A) => unknown {
    const fixed = typeof key === 'string' ? this.accFor(key) : null;
    const stack = this.stack;
    const self = this;
    return function (this: unknown, ...args: A) {
      stack.push(0);
      const t0 = performance.now();
      try {
        return f.apply(thisArg ?? this, args);
      } finally {
        const dt = performance.now() - t0;
        const child = stack.pop()!;
        const acc = fixed ?? self.accFor((key as (a: A) => string)(args));
        acc.calls++;
        acc.self += dt - child;
        acc.total += dt;
        if (stack.length) stack[stack.length - 1] += dt;
        else self.topLevel += dt;
      }
    };
  }

  reset(): void {
    for (const a of this.acc.values()) a.calls = a.self = a.total = 0;
    this.topLevel = 0;
  }
  uninstall(): void {
    for (const u of this.undo.reverse()) u();
  }
}

interface ProfileRow {
  step: string;
  threads: number;
  /** Uninstrumented, median over rounds, ms per step. */
  stepMs: number;
  loadMs: number;
  /** 1 thread: the recorded sequence of WebAssembly calls of one step replayed directly (no JS around it). */
  replayMs: number | null;
  /** 1 thread: stepMs − loadMs − replayMs, the JavaScript around the kernels. */
  jsMs: number | null;
  /** Instrumented run, ms per step. */
  instrumentedStepMs: number;
  wasmMs: number;
  wrapperJsMs: number;
  layerJsMs: number;
  poolSyncMs: number;
  gcMs: number;
  kernelCallsPerStep: number;
  wasmCallsPerStep: number;
  byKernel: { name: string; calls: number; ms: number; share: number }[];
  byWrapper: { name: string; calls: number; selfMs: number }[];
  /** Median cores used by other processes during the uninstrumented rounds, and during the instrumented run. */
  otherCpu: number | null;
  otherCpuInstrumented: number | null;
}

async function gcMsDuring(fn: () => void): Promise<number> {
  const entries: { startTime: number; duration: number }[] = [];
  const obs = new PerformanceObserver((list) => entries.push(...list.getEntries()));
  obs.observe({ entryTypes: ['gc'] });
  const t0 = now();
  fn();
  const t1 = now();
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 10));
  obs.disconnect();
  return entries.filter((e) => e.startTime >= t0 && e.startTime <= t1).reduce((s, e) => s + e.duration, 0);
}

async function profileStep(name: string, s: UdiStep): Promise<ProfileRow> {
  const threads = s.rt.info.threads;
  // Uninstrumented: whole step, load only, and for 1 thread the replay of its WebAssembly calls.
  let log: [(...a: number[]) => unknown, number[]][] = [];
  if (threads === 1) {
    const ins = new Instrument(s.rt);
    s.load();
    ins.recording = log;
    s.compute();
    ins.recording = null;
    ins.uninstall();
    log = log.slice();
  }
  const replay = () => {
    for (let i = 0; i < log.length; i++) log[i][0](...log[i][1]);
  };
  const slots: Slot[] = [
    { impl: 'udi-wasm', threads, step: () => void s.step(), steps: 0, row: { name: 'step', impl: 'udi-wasm', threads, status: 'ok' } },
    { impl: 'udi-wasm', threads, step: () => s.load(), steps: 0, row: { name: 'load', impl: 'udi-wasm', threads, status: 'ok' } },
  ];
  if (threads === 1) slots.push({ impl: 'udi-wasm', threads, step: replay, steps: 0, row: { name: 'replay', impl: 'udi-wasm', threads, status: 'ok' } });
  await timeSlots(slots);
  const ms = (i: number) => slots[i].row.msPerStep!;

  // Instrumented: per kernel and per wrapper, with the GC time of the same steps.
  const ins = new Instrument(s.rt);
  for (let i = 0; i < 20; i++) s.step();
  const n = Math.max(20, Math.round((quick ? 300 : 1500) / ms(0)));
  ins.reset();
  let t = 0;
  meter.start();
  const gcMs = await gcMsDuring(() => {
    const t0 = now();
    for (let i = 0; i < n; i++) s.step();
    t = now() - t0;
  });
  const otherInstr = meter.stop();
  ins.uninstall();
  const per = (x: number) => x / n;
  const entries = [...ins.acc.entries()].filter(([, a]) => a.calls > 0);
  const sum = (prefix: string, f: (a: Acc) => number) => entries.filter(([k]) => k.startsWith(prefix)).reduce((s2, [, a]) => s2 + f(a), 0);
  const wasm = sum('wasm:', (a) => a.self);
  const byKernel = entries
    .filter(([k]) => k.startsWith('wasm:'))
    .map(([k, a]) => ({ name: k.slice(5), calls: a.calls / n, ms: per(a.self), share: a.self / wasm }))
    .sort((a, b) => b.ms - a.ms);
  const byWrapper = entries
    .filter(([k]) => k.startsWith('js:'))
    .map(([k, a]) => ({ name: k.slice(3), calls: a.calls / n, selfMs: per(a.self) }))
    .sort((a, b) => b.selfMs - a.selfMs);
  return {
    step: name,
    threads,
    stepMs: ms(0),
    loadMs: ms(1),
    replayMs: threads === 1 ? ms(2) : null,
    jsMs: threads === 1 ? ms(0) - ms(1) - ms(2) : null,
    instrumentedStepMs: per(t),
    wasmMs: per(wasm),
    wrapperJsMs: per(sum('js:', (a) => a.self)),
    layerJsMs: per(t - ins.topLevel),
    poolSyncMs: per(sum('sync:', (a) => a.self)),
    gcMs: per(gcMs),
    kernelCallsPerStep: sum('js:', (a) => a.calls) / n,
    wasmCallsPerStep: sum('wasm:', (a) => a.calls) / n,
    byKernel,
    byWrapper,
    otherCpu: slots[0].row.otherCpu ?? null,
    otherCpuInstrumented: otherInstr,
  };
}

// ---- whole runs --------------------------------------------------------------------------------

interface RunMemory {
  heapBeforeBytes: number;
  heapPeakSampledBytes: number;
  heapAfterGcBytes: number;
  wasmMemoryBytes: number;
  arenaPeakBytes: number;
  arenaUsedAfterBytes: number;
  paramCount: number;
}

async function udiRun(ctx: Ctx, method: Method, threads: number): Promise<{ rows: Row[]; memory: RunMemory; params: Float32Array; model: Model; rt: Runtime }> {
  fullGc();
  const heapBefore = heapUsed();
  const rt = await createRuntime({ threads });
  let peak = heapUsed();
  let batches = 0;
  // Validation (and early-stopping snapshots) run between a stage's last batch of an epoch and onEpochEnd.
  let lastBatchEnd = 0;
  const validationMs: Record<string, number> = {};
  const cfg = defaultConfig(RUN_ENCODERS, SEED);
  meter.start();
  const t0 = now();
  const { result, model } = await train(rt, method, ctx.split, cfg, {
    callbacks: {
      onBatchEnd: () => {
        if ((++batches & 7) === 0) peak = Math.max(peak, v8.getHeapStatistics().used_heap_size);
        lastBatchEnd = now();
      },
      onEpochEnd: (_epoch, log) => {
        validationMs[log.stage] = (validationMs[log.stage] ?? 0) + (now() - lastBatchEnd);
        peak = Math.max(peak, v8.getHeapStatistics().used_heap_size);
      },
    },
  });
  const wall = now() - t0;
  const other = meter.stop();
  peak = Math.max(peak, heapUsed());
  const params = rt.arena.read(model.net.store.params);
  fullGc();
  const memory: RunMemory = {
    heapBeforeBytes: heapBefore,
    heapPeakSampledBytes: peak,
    heapAfterGcBytes: heapUsed(),
    wasmMemoryBytes: rt.memory.buffer.byteLength,
    arenaPeakBytes: rt.arena.peakBytes,
    arenaUsedAfterBytes: rt.arena.usedBytes,
    paramCount: model.net.store.size,
  };
  const out: Row[] = [];
  const samples = result.cost.stages.reduce((s, st) => s + st.steps * BATCH, 0);
  const stageWall = result.cost.stages.reduce((s, st) => s + st.wallMs, 0);
  const steps = result.cost.stages.reduce((s, st) => s + st.steps, 0);
  out.push({
    name: `run:${method}`,
    impl: 'udi-wasm',
    threads,
    samplesPerSec: (samples * 1000) / wall,
    msPerStep: wall / steps,
    steps,
    epochs: result.cost.stages.reduce((s, st) => s + st.epochs, 0),
    wallMs: wall,
    batch: BATCH,
    testAcc: result.fused.acc,
    otherCpu: other,
    status: 'ok',
    note: `stages ${stageWall.toFixed(0)} ms of ${wall.toFixed(0)} ms (rest: set-up and final evaluation; UDI also anchor choice and caching); per-epoch validation inside stages`,
  });
  for (const st of result.cost.stages) {
    const v = validationMs[st.name] ?? 0;
    out.push({
      name: `run:${method}/${st.name}`,
      impl: 'udi-wasm',
      threads,
      samplesPerSec: (st.steps * BATCH * 1000) / st.wallMs,
      msPerStep: st.wallMs / st.steps,
      steps: st.steps,
      epochs: st.epochs,
      wallMs: st.wallMs,
      validationMs: v,
      batch: BATCH,
      status: 'ok',
      note: `per-epoch validation ${v.toFixed(0)} ms (${((100 * v) / st.wallMs).toFixed(0)}%); training steps ${((st.wallMs - v) / st.steps).toFixed(2)} ms each`,
    });
  }
  return { rows: out, memory, params, model, rt };
}

/** The joint model in tfjs layers on tfjs-wasm: two MLP encoders, concatenated features, one linear head. */
async function tfjsJointRun(ctx: Ctx, epochs: number): Promise<Row> {
  await useBackend('wasm');
  const { train: tr, val, test } = ctx.split;
  const L = tf.layers;
  const inputs = ['audio', 'image'].map((m) => tf.input({ shape: [tr.modalities[m].dim], name: m }));
  const feats = inputs.map((x, i) => {
    let h: tf.SymbolicTensor = x;
    for (const units of (RUN_ENCODERS[['audio', 'image'][i]] as { hidden: number[] }).hidden) h = L.dense({ units, activation: 'relu' }).apply(h) as tf.SymbolicTensor;
    return h;
  });
  const logits = L.dense({ units: tr.classes }).apply(L.concatenate().apply(feats) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const model = tf.model({ inputs, outputs: logits });
  model.compile({ optimizer: tf.train.adam(1e-3, 0.9, 0.999, 1e-8), loss: (yt: tf.Tensor, yp: tf.Tensor) => tf.losses.softmaxCrossEntropy(yt, yp) });
  const X = (ds: Dataset) => ['audio', 'image'].map((m) => tf.tensor2d(ds.modalities[m].data, [ds.size, ds.modalities[m].dim]));
  const Y = (ds: Dataset) => tf.oneHot(tf.tensor1d(ds.labels, 'int32'), ds.classes);
  const [xt, yt, xv, yv] = [X(tr), Y(tr), X(val), Y(val)];
  meter.start();
  const t0 = now();
  await model.fit(xt, yt, { batchSize: BATCH, epochs, shuffle: true, validationData: [xv, yv], verbose: 0 });
  const wall = now() - t0;
  const other = meter.stop();
  const xs = X(test);
  const pred = model.predict(xs) as tf.Tensor;
  const arg = pred.argMax(-1).dataSync();
  let correct = 0;
  for (let i = 0; i < test.size; i++) if (arg[i] === test.labels[i]) correct++;
  const wasmHeap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.byteLength;
  tf.dispose([...xt, yt, ...xv, yv, ...xs, pred]);
  model.dispose();
  const steps = epochs * Math.ceil(tr.size / BATCH);
  return {
    name: 'run:joint',
    impl: 'tfjs-wasm',
    threads: 1,
    samplesPerSec: (steps * BATCH * 1000) / wall,
    msPerStep: wall / steps,
    steps,
    epochs,
    wallMs: wall,
    batch: BATCH,
    testAcc: correct / test.size,
    otherCpu: other,
    status: 'ok',
    note: `model.fit, Adam 1e-3 (no weight decay, clipping or early stopping), per-epoch validation loss; tfjs-wasm heap ${wasmHeap ? MiB(wasmHeap).toFixed(1) + ' MiB' : '?'}`,
  };
}

// ---- memory ------------------------------------------------------------------------------------

interface Snapshot {
  heapUsedAfterGc: number;
  wasmMemoryBytes: number;
  arenaPeakBytes: number;
  arenaUsedBytes: number;
}
const snap = (rt: Runtime): Snapshot => {
  fullGc();
  return { heapUsedAfterGc: heapUsed(), wasmMemoryBytes: rt.memory.buffer.byteLength, arenaPeakBytes: rt.arena.peakBytes, arenaUsedBytes: rt.arena.usedBytes };
};

interface AllocSite {
  fn: string;
  caller: string;
  file: string;
  bytesPerStep: number;
}

/** JS bytes allocated per step: heapUsed growth over short windows with no GC in them (median). */
async function bytesPerStepNoGc(step: () => void, steps: number, windows: number): Promise<number | null> {
  const got: number[] = [];
  for (let w = 0; w < windows && got.length < 5; w++) {
    fullGc();
    const entries: { startTime: number }[] = [];
    const obs = new PerformanceObserver((list) => entries.push(...list.getEntries()));
    obs.observe({ entryTypes: ['gc'] });
    const t0 = now();
    const h0 = heapUsed();
    for (let i = 0; i < steps; i++) step();
    const h1 = heapUsed();
    const t1 = now();
    await new Promise((r) => setTimeout(r, 5));
    obs.disconnect();
    if (!entries.some((e) => e.startTime >= t0 && e.startTime <= t1)) got.push((h1 - h0) / steps);
  }
  return got.length ? median(got) : null;
}

/** Where the JS allocations of a step come from: V8's sampling heap profiler, collected objects included. */
async function allocationSites(step: () => void, steps: number): Promise<{ bytesPerStep: number; sites: AllocSite[] }> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 64, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as { samplingInterval: number });
  for (let i = 0; i < steps; i++) step();
  const { profile } = await session.post('HeapProfiler.stopSampling');
  await session.post('HeapProfiler.disable');
  session.disconnect();
  const by = new Map<string, AllocSite>();
  let total = 0;
  type Node = { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: Node[] };
  const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'}`;
  // Function names and files (line numbers are of tsx's transformed code, so they are left out).
  const file = (n: Node) => (n.callFrame.url ? n.callFrame.url.replace(/^.*\/(src|bench|node_modules)\//, '$1/') : '(built-in)');
  const walk = (n: Node, parent: Node | null) => {
    if (n.selfSize > 0) {
      const key = `${label(n)}|${parent ? label(parent) : ''}|${file(n)}`;
      const s = by.get(key) ?? { fn: label(n), caller: parent ? label(parent) : '', file: file(n), bytesPerStep: 0 };
      s.bytesPerStep += n.selfSize / steps;
      by.set(key, s);
      total += n.selfSize;
    }
    for (const c of n.children) walk(c, n);
  };
  walk(profile.head as unknown as Node, null);
  return { bytesPerStep: total / steps, sites: [...by.values()].sort((a, b) => b.bytesPerStep - a.bytesPerStep).slice(0, 15) };
}

interface FlatResult {
  step: string;
  threads: number;
  steps: number;
  before: Snapshot;
  after: Snapshot;
  /** After as many steps again: growth that continues linearly is a leak, a one-off step is not. */
  after2: Snapshot;
  heapGrowthBytes: number;
  heapGrowth2Bytes: number;
  wasmGrowthBytes: number;
  flat: boolean;
  bytesPerStepNoGc: number | null;
  sampled: { bytesPerStep: number; sites: AllocSite[] };
}

async function memoryFlat(label: string, s: UdiStep, steps: number): Promise<FlatResult> {
  // Warm-up: the first ~2,000 steps retain ~100 KB of JIT code and type feedback, then the heap is flat
  // (measured: 120656, 2464, 0, 0, 168, 0, 0, 0 bytes over eight blocks of 2,000 steps).
  for (let i = 0; i < 2000; i++) s.step();
  const before = snap(s.rt);
  for (let i = 0; i < steps; i++) s.step();
  const after = snap(s.rt);
  for (let i = 0; i < steps; i++) s.step();
  const after2 = snap(s.rt);
  const perStep = await bytesPerStepNoGc(() => void s.step(), 50, 20);
  const sampled = await allocationSites(() => void s.step(), quick ? 100 : 300);
  const heapGrowth = after.heapUsedAfterGc - before.heapUsedAfterGc;
  const heapGrowth2 = after2.heapUsedAfterGc - after.heapUsedAfterGc;
  const wasmGrowth = after2.wasmMemoryBytes - before.wasmMemoryBytes + (after2.arenaPeakBytes - before.arenaPeakBytes);
  // "flat": no WASM growth at all, and the retained JS heap grew by less than 16 bytes per step over the second block.
  return { step: label, threads: s.rt.info.threads, steps, before, after, after2, heapGrowthBytes: heapGrowth, heapGrowth2Bytes: heapGrowth2, wasmGrowthBytes: wasmGrowth, flat: wasmGrowth === 0 && heapGrowth2 < 16 * steps, bytesPerStepNoGc: perStep, sampled };
}

interface PredictMemory {
  encoders: string;
  maxBatch: number;
  samples: number;
  wasmMemoryBytes: number;
  arenaPeakBytes: number;
  paramCount: number;
  /** Bytes of parameters alone, and of the four flat buffers the store allocates (params, grads, two moments). */
  paramBytes: number;
  paramStoreBytes: number;
  heapDeltaBytes: number;
  matchesTrainedModel: boolean | null;
}

/** A model built from a "checkpoint" (parameters copied in from JS) predicting `samples` test rows. */
async function predictMemory(ctx: Ctx, encoders: Record<string, EncoderConfig>, label: string, maxBatch: number, ckpt: Float32Array | null, reference: Float32Array | null, samples = 10): Promise<PredictMemory> {
  const ds10 = subset(ctx.split.test, Array.from({ length: samples }, (_, i) => i));
  fullGc();
  const m0 = process.memoryUsage();
  const rt = await createRuntime({ threads: 1 });
  const names = Object.keys(encoders);
  const net = new MultimodalNet(
    rt,
    names.map((name) => ({ name, dim: ctx.split.train.modalities[name].dim, encoder: encoders[name] })),
    ctx.split.train.classes,
    maxBatch,
    SEED,
  );
  if (ckpt) rt.arena.viewF32(net.store.params).set(ckpt);
  const model: Model = { net, method: 'udi', modalities: names, fusion: 'mean' };
  const probs = predict(model, ds10);
  fullGc();
  const m1 = process.memoryUsage();
  let matches: boolean | null = null;
  if (reference) matches = reference.length === probs.length && reference.every((v, i) => v === probs[i]);
  const out: PredictMemory = {
    encoders: label,
    maxBatch,
    samples,
    wasmMemoryBytes: rt.memory.buffer.byteLength,
    arenaPeakBytes: rt.arena.peakBytes,
    paramCount: net.store.size,
    paramBytes: 4 * net.store.size,
    paramStoreBytes: 16 * net.store.size,
    heapDeltaBytes: m1.heapUsed - m0.heapUsed,
    matchesTrainedModel: matches,
  };
  void model;
  rt.dispose();
  return out;
}

// ---- output ------------------------------------------------------------------------------------

const fmt = (v: number | null | undefined, d: number) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));

function printTable(rs: Row[]): void {
  const head = ['name', 'impl', 'thr', 'ms/step', 'samples/s', 'range ms', 'vs tfjs', 'vs floor', 'vs 1 thr', 'rounds', 'others', 'check'];
  const lines: string[][] = [head];
  let last = '';
  for (const r of rs) {
    const group = r.name.split('/')[0];
    if (group !== last && lines.length > 1) lines.push([]);
    last = group;
    const bad = r.status !== 'ok' ? (r.status === 'skipped' ? 'skipped' : `✗ ${r.error ?? r.status}`) : null;
    lines.push([
      r.name,
      r.impl,
      String(r.threads),
      bad ?? fmt(r.msPerStep, 2),
      bad ? '' : fmt(r.samplesPerSec, 0),
      bad || r.minMs === undefined ? '' : `${fmt(r.minMs, 2)}-${fmt(r.maxMs, 2)}`,
      bad || r.ratioVsTfjs == null ? '' : `${r.ratioVsTfjs.toFixed(2)}x${r.ratioPeer === 'tfjs-cpu' ? ' (cpu)' : ''}`,
      bad || r.ofFloor == null ? '' : `${r.ofFloor.toFixed(2)}x`,
      bad || r.speedupVs1Thread == null ? '' : `${r.speedupVs1Thread.toFixed(2)}x`,
      bad || r.runs === undefined ? '' : `${r.runs}${r.roundsDiscarded ? ` (+${r.roundsDiscarded})` : ''}`,
      bad || r.otherCpu == null ? '' : `${r.otherCpu.toFixed(2)}${r.otherCpu > OTHER_CPU_MAX ? ' !' : ''}`,
      r.gflops != null ? `${r.gflops.toFixed(1)} GFLOP/s` : r.validation ? (r.validation.ok ? `ok (Δw ${r.validation.maxAbsWeightDiff.toExponential(0)})` : `MISMATCH Δloss ${Math.abs(r.validation.lossUdi - r.validation.lossPeer).toExponential(1)} Δw ${r.validation.maxAbsWeightDiff.toExponential(1)}`) : r.testAcc !== undefined ? `acc ${r.testAcc.toFixed(3)}` : '',
    ]);
  }
  const failed = (l: string[]) => (l[3] ?? '').startsWith('✗') || l[3] === 'skipped';
  const widths = head.map((_, i) => Math.max(...lines.filter((l) => l.length && !failed(l)).map((l) => (l[i] ?? '').length)));
  for (const l of lines) {
    if (l.length === 0) console.log('');
    else if (failed(l)) console.log([l[0].padEnd(widths[0]), l[1].padEnd(widths[1]), l[2].padStart(widths[2]), l[3].length > 110 ? l[3].slice(0, 107) + '...' : l[3]].join('  '));
    else console.log(l.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  }
}

function printProfile(p: ProfileRow): void {
  const pct = (x: number) => `${((100 * x) / p.stepMs).toFixed(0)}%`;
  const busy = (o: number | null) => (o === null ? '?' : `${o.toFixed(2)}${o > OTHER_CPU_MAX ? ' !' : ''}`);
  console.log(`  ${p.step}, ${p.threads} thread${p.threads > 1 ? 's' : ''}: step ${p.stepMs.toFixed(3)} ms (uninstrumented); other processes ${busy(p.otherCpu)} / ${busy(p.otherCpuInstrumented)} cores`);
  if (p.replayMs !== null && p.jsMs !== null) {
    console.log(`    = WebAssembly kernels ${p.replayMs.toFixed(3)} ms (${pct(p.replayMs)}; the step's ${p.wasmCallsPerStep.toFixed(0)} calls replayed alone) + batch copy ${p.loadMs.toFixed(3)} (${pct(p.loadMs)}) + JS around the kernels ${p.jsMs.toFixed(3)} (${pct(p.jsMs)})`);
  } else console.log(`    batch copy ${p.loadMs.toFixed(3)} ms (${pct(p.loadMs)})`);
  console.log(
    `    instrumented (${p.instrumentedStepMs.toFixed(3)} ms/step): wasm ${p.wasmMs.toFixed(3)}, kernel wrappers ${p.wrapperJsMs.toFixed(3)} (${p.kernelCallsPerStep.toFixed(0)} calls), layers+load ${p.layerJsMs.toFixed(3)}` +
      (p.threads > 1 ? `, pool dispatch+wait ${p.poolSyncMs.toFixed(3)}` : '') +
      `, GC ${p.gcMs.toFixed(3)}`,
  );
  console.log(`    by kernel: ${p.byKernel.slice(0, 10).map((k) => `${k.name} ${k.ms.toFixed(3)} (${(100 * k.share).toFixed(0)}%${k.calls > 1.01 ? `, ${k.calls.toFixed(0)}x` : ''})`).join(', ')}`);
  console.log(`    wrapper self time: ${p.byWrapper.slice(0, 5).map((w) => `${w.name} ${(1000 * w.selfMs).toFixed(0)} us${w.calls > 1.01 ? ` (${w.calls.toFixed(0)}x)` : ''}`).join(', ')}`);
}

// ---- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = now();
  const cpus = os.cpus();
  console.log(`e2e bench: node ${process.version}, ${cpus[0]?.model ?? 'unknown cpu'} x${cpus.length}, runs ${RUNS}, batch ~${BATCH_MS} ms${quick ? ', quick' : ''}; GC: ${gcMethod}`);
  const rts: Runtime[] = [];
  let disposeCeiling = () => {};
  try {
    rts.push(await createRuntime({ threads: 1 }), await createRuntime({ threads: 2 }));
    for (const rt of rts) if (rt.info.threadsNote) notes.push(`udi threads ${rt.info.requestedThreads}: ${rt.info.threadsNote}`);
    let t = now();
    const d = await loadAvmnist(rts[0], { dataDir: DATA_DIR, cacheDir: CACHE_DIR });
    const split = avmnistSplit(d, 'B', 0, SEED);
    console.log(`AV-MNIST ${d.labels.length} pairs in ${((now() - t) / 1000).toFixed(1)} s; ${split.description}: ${split.train.size}/${split.val.size}/${split.test.size}`);
    let tfjsOk = true;
    try {
      await initTfjsWasm();
    } catch (e) {
      tfjsOk = false;
      notes.push(`tfjs-wasm: could not start: ${(e as Error).message}`);
    }
    console.log(`udi: ${rts.map((rt) => `${rt.info.build}/${rt.info.threads}`).join(', ')}; tfjs: ${JSON.stringify(tfjsMeta)}`);
    if (!meter.available) notes.push('/proc/stat is not readable: rounds are not checked for other busy processes');
    const ctx: Ctx = { split, rts, tfjsOk, ceiling: await Ceiling.create(WARM_MS, 1) };
    disposeCeiling = () => ctx.ceiling.dispose();

    // 1, 2 and 4: steps
    console.log('\nsteps (batch 64):');
    const stepsByGroup = new Map<string, Map<number, UdiStep>>();
    for (const g of groups(ctx)) stepsByGroup.set(g.name, await measureGroup(ctx, g));

    // profile of the MLP and CNN steps
    console.log('\nprofile:');
    const profile: ProfileRow[] = [];
    for (const name of ['step:mlp-784-256-10', 'step:image-cnn-c8-c16-d64+head']) {
      for (const [, s] of stepsByGroup.get(name)!) {
        const p = await profileStep(name, s);
        profile.push(p);
        printProfile(p);
      }
    }

    // 3 and 4: whole runs
    console.log('\nruns (AV-MNIST B fold 0, seed 0, default config, MLP encoders):');
    const runMemory: (RunMemory & { method: string; threads: number })[] = [];
    let udiModel: { params: Float32Array; probs: Float32Array } | null = null;
    let jointEpochs = 0;
    // A run is repeated (up to RUN_ATTEMPTS) while other processes were busy during it; the quietest is kept.
    const RUN_ATTEMPTS = quick ? 1 : 3;
    const quiet = (o: number | null | undefined) => o == null || o <= OTHER_CPU_MAX;
    for (const threads of [1, 2]) {
      for (const method of ['udi', 'joint'] as const) {
        t = now();
        let r = await udiRun(ctx, method, threads);
        let attempts = 1;
        while (!quiet(r.rows[0].otherCpu) && attempts < RUN_ATTEMPTS) {
          await sleep(1000);
          const again = await udiRun(ctx, method, threads);
          attempts++;
          if ((again.rows[0].otherCpu ?? 0) < (r.rows[0].otherCpu ?? 0)) {
            r.rt.dispose();
            r = again;
          } else again.rt.dispose();
        }
        if (attempts > 1) r.rows[0].note = `${r.rows[0].note}; ${attempts} attempts (other processes busy), the quietest kept`;
        rows.push(...r.rows);
        runMemory.push({ method, threads, ...r.memory });
        for (const st of r.rows.slice(1)) console.log(`    ${st.name.split('/')[1].padEnd(14)} ${String(st.steps).padStart(4)} steps, ${String(st.epochs).padStart(2)} epochs, ${st.wallMs!.toFixed(0).padStart(5)} ms: ${st.note}`);
        if (method === 'joint' && threads === 1) jointEpochs = r.rows[0].epochs!;
        if (method === 'udi' && threads === 1) udiModel = { params: r.params, probs: predict(r.model, subset(split.test, Array.from({ length: 10 }, (_, i) => i))) };
        r.rt.dispose();
        console.log(`  ${method}/${threads}: ${((now() - t) / 1000).toFixed(1)} s, ${r.rows[0].samplesPerSec!.toFixed(0)} samples/s, test acc ${r.rows[0].testAcc!.toFixed(3)}, ${r.rows.length - 1} stages, other processes ${fmt(r.rows[0].otherCpu, 2)} cores${attempts > 1 ? ` (${attempts} attempts)` : ''}`);
      }
    }
    if (tfjsOk) {
      const epochs = quick ? Math.min(2, jointEpochs) : jointEpochs;
      t = now();
      try {
        let r = await tfjsJointRun(ctx, epochs);
        for (let a = 1; !quiet(r.otherCpu) && a < Math.min(2, RUN_ATTEMPTS); a++) {
          const again = await tfjsJointRun(ctx, epochs);
          if ((again.otherCpu ?? 0) < (r.otherCpu ?? 0)) r = again;
        }
        if (epochs !== jointEpochs) r.note = `${r.note}; --quick: ${epochs} of udi-wasm's ${jointEpochs} epochs, compare samples/s only`;
        rows.push(r);
        console.log(`  joint on tfjs-wasm, ${epochs} epochs: ${((now() - t) / 1000).toFixed(1)} s, ${r.samplesPerSec!.toFixed(0)} samples/s, test acc ${r.testAcc!.toFixed(3)}, other processes ${fmt(r.otherCpu, 2)} cores`);
      } catch (e) {
        rows.push({ name: 'run:joint', impl: 'tfjs-wasm', threads: 1, status: 'error', error: (e as Error).message });
      }
    }

    // 5: memory over 1,000 steps, and where a step allocates
    console.log('\nmemory:');
    const flat: FlatResult[] = [];
    let cnnAlloc: Pick<FlatResult, 'step' | 'threads' | 'bytesPerStepNoGc' | 'sampled'> | null = null;
    for (const threads of [1, 2]) {
      const rt = await createRuntime({ threads });
      const s = mlpStep(rt, split.train, 'image', { hidden: 256, batch: BATCH, lr: MLP_LR, momentum: MLP_MOMENTUM, seed: SEED });
      const f = await memoryFlat('step:mlp-784-256-10', s, MEM_STEPS);
      flat.push(f);
      console.log(
        `  mlp step, ${f.threads} thread(s), 2 x ${f.steps} steps: heap after GC ${MiB(f.before.heapUsedAfterGc).toFixed(3)} -> ${MiB(f.after.heapUsedAfterGc).toFixed(3)} -> ${MiB(f.after2.heapUsedAfterGc).toFixed(3)} MiB, ` +
          `WASM ${MiB(f.before.wasmMemoryBytes).toFixed(2)} -> ${MiB(f.after2.wasmMemoryBytes).toFixed(2)} MiB, arena peak ${MiB(f.before.arenaPeakBytes).toFixed(2)} -> ${MiB(f.after2.arenaPeakBytes).toFixed(2)} MiB: ${f.flat ? 'flat' : 'NOT flat'}; ` +
          `allocates ${fmt(f.bytesPerStepNoGc, 0)} B/step (heap growth without GC), ${f.sampled.bytesPerStep.toFixed(0)} B/step (sampling profiler)`,
      );
      for (const site of f.sampled.sites.slice(0, 6)) console.log(`      ${site.bytesPerStep.toFixed(0).padStart(6)} B/step  ${site.fn} <- ${site.caller}  (${site.file})`);
      rt.dispose();
    }
    {
      const s = stepsByGroup.get('step:image-cnn-c8-c16-d64+head')!.get(1)!;
      const perStep = await bytesPerStepNoGc(() => void s.step(), 20, 10);
      const sampled = await allocationSites(() => void s.step(), quick ? 30 : 100);
      console.log(`  cnn trainer step, 1 thread: allocates ${fmt(perStep, 0)} B/step (heap growth without GC), ${sampled.bytesPerStep.toFixed(0)} B/step (sampling profiler)`);
      for (const site of sampled.sites.slice(0, 6)) console.log(`      ${site.bytesPerStep.toFixed(0).padStart(6)} B/step  ${site.fn} <- ${site.caller}  (${site.file})`);
      cnnAlloc = { step: 'step:image-cnn-c8-c16-d64+head', threads: 1, bytesPerStepNoGc: perStep, sampled };
    }
    // 6: memory of a run and of predicting from a checkpoint
    for (const m of runMemory) {
      console.log(
        `  run ${m.method}/${m.threads}: WASM memory ${MiB(m.wasmMemoryBytes).toFixed(2)} MiB (arena peak ${MiB(m.arenaPeakBytes).toFixed(2)}, still held after train() ${MiB(m.arenaUsedAfterBytes).toFixed(2)}), ` +
          `JS heap ${MiB(m.heapBeforeBytes).toFixed(1)} -> peak ${MiB(m.heapPeakSampledBytes).toFixed(1)} (sampled) -> ${MiB(m.heapAfterGcBytes).toFixed(1)} MiB after GC with the model alive; ${m.paramCount} parameters`,
      );
    }
    const predictMem: PredictMemory[] = [];
    predictMem.push(await predictMemory(ctx, RUN_ENCODERS, 'audio mlp + image mlp (trained UDI weights)', BATCH, udiModel?.params ?? null, udiModel?.probs ?? null));
    predictMem.push(await predictMemory(ctx, RUN_ENCODERS, 'audio mlp + image mlp (trained UDI weights)', 10, udiModel?.params ?? null, udiModel?.probs ?? null));
    predictMem.push(await predictMemory(ctx, { audio: ENC.audio, image: ENC.imageCnn }, 'audio mlp + image cnn (initial weights)', BATCH, null, null));
    predictMem.push(await predictMemory(ctx, { audio: ENC.audio, image: ENC.imageCnn }, 'audio mlp + image cnn (initial weights)', 10, null, null));
    for (const p of predictMem) {
      console.log(
        `  predict 10 samples, ${p.encoders}, maxBatch ${p.maxBatch}: WASM memory ${MiB(p.wasmMemoryBytes).toFixed(2)} MiB (arena peak ${MiB(p.arenaPeakBytes).toFixed(2)}; parameters ${MiB(p.paramBytes).toFixed(2)}, parameter store ${MiB(p.paramStoreBytes).toFixed(2)}), ` +
          `JS heap +${MiB(p.heapDeltaBytes).toFixed(2)} MiB` +
          (p.matchesTrainedModel === null ? '' : `; same probabilities as the trained model: ${p.matchesTrainedModel}`),
      );
    }

    // ratios against the tfjs rows of the same name
    for (const r of rows) {
      if (r.impl !== 'udi-wasm' || r.status !== 'ok') continue;
      // tfjs has no UDI: the UDI run is compared with the tfjs-wasm joint run (same data and encoders), as the issue asks.
      const peerName = r.name.startsWith('run:joint') || r.name === 'run:udi' ? 'run:joint' : r.name;
      const peer = rows.find((x) => x.name === peerName && x.impl === 'tfjs-wasm' && x.status === 'ok') ?? rows.find((x) => x.name === peerName && x.impl === 'tfjs-cpu' && x.status === 'ok');
      if (!peer) continue;
      r.ratioPeer = peer.impl;
      r.ratioVsTfjs = r.samplesPerSec && peer.samplesPerSec ? r.samplesPerSec / peer.samplesPerSec : null;
    }

    console.log('');
    printTable(rows);
    console.log('');
    console.log('ms/step: median over rounds (steps) or wall / steps (runs, per-epoch validation included); samples/s = steps x 64 / wall time.');
    console.log('vs tfjs: udi-wasm speed / tfjs speed for the same name (> 1: udi-wasm faster); "(cpu)": against the tfjs cpu backend (tfjs-wasm cannot train a convolution).');
    console.log('vs floor: ms/step / (the step\'s FLOPs at threads x the ceiling row\'s GFLOP/s, timed in the same rounds); vs 1 thr: 1-thread ms/step / this row\'s.');
    console.log('check: first step from the same weights on the same batch, udi-wasm vs the tfjs peer (Δw = max |weight difference|), or test accuracy of a run.');
    const contended = rows.filter((r) => r.otherCpu != null && r.otherCpu > OTHER_CPU_MAX);
    if (contended.length) console.log(`WARNING: rows marked "!" did not get enough quiet rounds (other processes busy); their 2-thread figures are not trustworthy.`);
    for (const n of notes) console.log(`note: ${n}`);
    const total = (now() - started) / 1000;
    console.log(`total ${total.toFixed(1)} s`);

    if (opts.json) {
      const metadata = {
        date: new Date().toISOString(),
        node: process.version,
        v8: process.versions.v8,
        platform: `${os.platform()} ${os.arch()}`,
        cpu: cpus[0]?.model ?? 'unknown',
        cpuCount: cpus.length,
        command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
        options: { quick, runs: RUNS, batchMs: BATCH_MS, warmMs: WARM_MS, batch: BATCH, seed: SEED, cpuCnnSteps: CPU_CNN_STEPS, memSteps: MEM_STEPS, otherCpuMax: OTHER_CPU_MAX },
        data: { dataset: 'AV-MNIST', split: split.description, train: split.train.size, val: split.val.size, test: split.test.size, cacheKey: d.cacheKey },
        gc: gcMethod,
        udi: rts.map((rt) => rt.info),
        tfjs: tfjsMeta,
        notes,
        totalSeconds: total,
      };
      writeFileSync(opts.json, JSON.stringify({ metadata, rows, profile, memory: { steps: flat, cnnStepAllocations: cnnAlloc, runs: runMemory, predict: predictMem } }, null, 2) + '\n');
      console.log(`wrote ${opts.json}`);
    }
  } finally {
    for (const rt of rts) rt.dispose();
    disposeCeiling();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
