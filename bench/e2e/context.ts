/**
 * The end-to-end benchmark's options, constants, result rows and shared timing (bench/e2e.ts and
 * bench/e2e/*.ts). Timing goes through the harness shared with the kernel lab (bench/harness.ts).
 */
import { parseArgs } from 'node:util';
import os from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { Dataset } from '../../src/data/dataset.js';
import type { EncoderConfig } from '../../src/nn/encoders.js';
import { defaultConfig } from '../../src/train/methods.js';
import type { Ceiling } from '../ceiling.js';
import { orExit, positiveInt } from '../args.js';
import { Harness } from '../harness.js';

// ---- options -----------------------------------------------------------------------------------

export const HELP = `usage: npm run bench -- [--json FILE] [--quick] [--runs N] [--batch-ms MS] [--data DIR] [--cache DIR] [--no-tfjs-cpu] [--no-torch]
  --json FILE     write the rows, profile and memory findings plus metadata to FILE
  --quick         CI smoke (< 60 s): 3 rounds, short batches, 2 tfjs epochs, 1 tfjs-cpu CNN step
  --runs N        timed rounds per step group (median is reported; default 7)
  --batch-ms MS   target duration of one timed batch of steps (default 100; quick 25)
  --data DIR      folder holding fsdd/ and mnist/ (default ../shared/data)
  --cache DIR     AV-MNIST feature cache (default $UDI_CACHE, else ~/.cache/udi-wasm)
  --no-tfjs-cpu   skip the CNN steps on the tfjs cpu backend (seconds each)
  --no-torch      skip the PyTorch peer (otherwise used when a python3 with torch is found:
                  $UDI_PYTHON, then python3 on PATH, then /usr/bin/python3)`;

export const { values: opts } = parseArgs({
  options: {
    json: { type: 'string' },
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    'batch-ms': { type: 'string' },
    data: { type: 'string' },
    cache: { type: 'string' },
    'no-tfjs-cpu': { type: 'boolean', default: false },
    'no-torch': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}
export const quick = opts.quick!;
export const RUNS = orExit(HELP, () => positiveInt('runs', opts.runs, quick ? 3 : 7, 1));
export const BATCH_MS = orExit(HELP, () => positiveInt('batch-ms', opts['batch-ms'], quick ? 25 : 100, 1));
export const WARM_MS = quick ? 60 : 300;
export const DATA_DIR = opts.data ?? '../shared/data';
export const CACHE_DIR = opts.cache ?? process.env.UDI_CACHE ?? join(os.homedir(), '.cache', 'udi-wasm');
export const BATCH = 64;
export const SEED = 0;
/** tfjs cpu CNN steps timed (each takes seconds), after one validation step. */
export const CPU_CNN_STEPS = quick ? 1 : 3;
/** MLP steps between the two memory snapshots. */
export const MEM_STEPS = 1000;
export const MLP_LR = 0.01,
  MLP_MOMENTUM = 0.9;

export const MiB = (b: number) => b / 2 ** 20;

// ---- rows --------------------------------------------------------------------------------------

export type Impl = 'udi-wasm' | 'tfjs-wasm' | 'tfjs-cpu' | 'torch' | 'ceiling';
export interface Row {
  name: string;
  impl: Impl;
  threads: number;
  msPerStep?: number | null;
  samplesPerSec?: number | null;
  /** udi-wasm rows: speed of udi-wasm / speed of the tfjs row of the same name (> 1: udi-wasm faster). */
  ratioVsTfjs?: number | null;
  /** Which tfjs row the ratio is against. */
  ratioPeer?: Impl;
  /** udi-wasm step rows: ms per step / the PyTorch row's of the same name and thread count, and / PyTorch's best thread count (< 1: udi-wasm faster). */
  udiOverTorch?: number | null;
  udiOverTorchBest?: number | null;
  /** Guided-step rows: ms per guided step / ms per solo step of the same modality, same run. */
  guidedOverSolo?: number;
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
  /** Whole runs on 2 threads: what the thread governor did (runtime.threads.stats). */
  governor?: { splitCalls: number; serialCalls: number; fallbacks: number; holds: number };
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
export interface Validation {
  lossUdi: number;
  lossPeer: number;
  /** max |w_udi − w_peer| over every parameter after the first step from the same weights. */
  maxAbsWeightDiff: number;
  maxAbsWeight: number;
  tolerance: number;
  ok: boolean;
}
/** Every result row of the run, in the order measured, and notes printed under the table. */
export const rows: Row[] = [];
export const notes: string[] = [];

// ---- models and configs ------------------------------------------------------------------------

export interface Ctx {
  split: { train: Dataset; val: Dataset; test: Dataset };
  rts: Runtime[]; // [1 thread, 2 threads]
  tfjsOk: boolean;
  ceiling: Ceiling;
}

export const ENC: Record<string, EncoderConfig> = {
  audio: { type: 'mlp', hidden: [128, 64] },
  imageMlp: { type: 'mlp', hidden: [128, 64] },
  imageCnn: { type: 'cnn', input: [28, 28, 1], channels: [8, 16], kernel: 3, dense: 64 },
};
/** The encoders of compare.ts for AV-MNIST with the MLP image encoder (the default). */
export const RUN_ENCODERS: Record<string, EncoderConfig> = { audio: ENC.audio, image: ENC.imageMlp };

export const stageCfg = () => defaultConfig(RUN_ENCODERS, SEED).solo;
/** The trainer's stage without clipping and weight decay: AdamW is then exactly tfjs's Adam. */
export const plainAdamCfg = () => {
  const c = stageCfg();
  return { ...c, clipNorm: 0, optimizer: { ...c.optimizer, weightDecay: 0 } };
};

// ---- timing --------------------------------------------------------------------------------------

/** Rounds repeat after a pause when another process was busy (bench/harness.ts). */
export const harness = new Harness({ runs: RUNS, batchMs: BATCH_MS, warmMs: WARM_MS, backoffMs: 300 });

/** A step to time and the row its figures go into. */
export interface Slot {
  step: () => void;
  row: Row;
}

/** Time every slot's step in shared rotating rounds; fills msPerStep and the spread into each slot's row. */
export async function timeSlots(slots: Slot[]): Promise<void> {
  const t = await harness.time(
    slots.length,
    (i, calls) => {
      const step = slots[i].step;
      for (let k = 0; k < calls; k++) step();
    },
    5,
    32,
  );
  slots.forEach((s, i) => {
    const p = t.perCall[i];
    Object.assign(s.row, { msPerStep: p.median, samplesPerSec: (BATCH * 1000) / p.median, minMs: p.min, maxMs: p.max, stepsPerBatch: p.calls, runs: t.runs, roundsDiscarded: t.roundsDiscarded, otherCpu: t.otherCpu });
  });
}
