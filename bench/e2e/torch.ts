/**
 * PyTorch as an optional peer of the end-to-end benchmark. When a python3 that can import torch is
 * found ($UDI_PYTHON, then python3 on PATH, then /usr/bin/python3), bench/torch_steps.py times the
 * MLP step and the image CNN step (the same shapes and optimisers as bench/steps.ts's mlpStep and
 * trainerStep) on 1 and 2 threads, on the same real MNIST batches as udi-wasm's steps: the first
 * TORCH_BATCHES batches of the same seeded order, written here to a temporary folder as float32 and
 * int32. Its rows are impl 'torch'; each udi-wasm row of the same name gets udi/torch ratios. When no
 * interpreter has torch, each of those rows is "skipped" with the interpreters tried and why.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dataset } from '../../src/data/dataset.js';
import { batchOrder } from '../steps.js';
import { now } from '../harness.js';
import { OTHER_CPU_MAX } from '../meter.js';
import { BATCH, BATCH_MS, ENC, MLP_LR, MLP_MOMENTUM, type Row, RUNS, SEED, stageCfg, WARM_MS } from './context.js';

/** The steps PyTorch is timed on (the names of their udi-wasm rows). */
export const TORCH_STEPS = ['step:mlp-784-256-10', 'step:image-cnn-c8-c16-d64+head'] as const;
/** Batches written for PyTorch (udi-wasm cycles over all of the training split's batches). */
const TORCH_BATCHES = 32;
const SCRIPT = new URL('../torch_steps.py', import.meta.url).pathname;

export interface TorchInfo {
  /** The interpreter used, and what each candidate gave. */
  python: string | null;
  tried: string[];
  torch?: string;
  python_version?: string;
  defaultThreads?: number;
  blas?: string | null;
  blasLoaded?: string[] | null;
  mkldnn?: boolean;
  batches?: number;
  seconds?: number;
  error?: string;
}

const lastLine = (s: string) => s.trim().split('\n').pop()?.slice(0, 160) ?? '';

/** The first interpreter that imports torch, and what every candidate tried gave. */
export function findTorch(): { python: string | null; version?: string; tried: string[] } {
  const candidates: [string, string | undefined][] = [
    ['$UDI_PYTHON', process.env.UDI_PYTHON],
    ['python3 on PATH', 'python3'],
    ['/usr/bin/python3', '/usr/bin/python3'],
  ];
  const tried: string[] = [];
  for (const [label, exe] of candidates) {
    if (!exe) {
      tried.push(`${label}: not set`);
      continue;
    }
    const r = spawnSync(exe, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 120_000 });
    if (r.error) tried.push(`${label} (${exe}): ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`);
    else if (r.status !== 0) tried.push(`${label} (${exe}): ${lastLine(r.stderr) || `exit ${r.status}`}`);
    else {
      tried.push(`${label} (${exe}): torch ${r.stdout.trim()}`);
      return { python: exe, version: r.stdout.trim(), tried };
    }
  }
  return { python: null, tried };
}

/** Write the first TORCH_BATCHES batches of udi-wasm's order and the models' settings; returns the folder. */
function writeBatches(ds: Dataset, timing: { runs: number; batchMs: number; warmMs: number }): string {
  const dir = mkdtempSync(join(tmpdir(), 'udi-bench-torch-'));
  const m = ds.modalities.image;
  const order = batchOrder(ds.size, BATCH, SEED).slice(0, TORCH_BATCHES);
  const x = new Float32Array(order.length * BATCH * m.dim);
  const y = new Int32Array(order.length * BATCH);
  order.forEach((idx, b) =>
    idx.forEach((r, i) => {
      x.set(m.data.subarray(r * m.dim, (r + 1) * m.dim), (b * BATCH + i) * m.dim);
      y[b * BATCH + i] = ds.labels[r];
    }),
  );
  writeFileSync(join(dir, 'x.f32'), new Uint8Array(x.buffer));
  writeFileSync(join(dir, 'y.i32'), new Uint8Array(y.buffer));
  const cfg = stageCfg();
  const o = cfg.optimizer;
  if (o.type !== 'adamw') throw new Error('torch peer: the benchmark uses the default AdamW optimiser');
  const cnn = ENC.imageCnn as { input: number[]; channels: number[]; kernel?: number; dense: number };
  const meta = {
    count: order.length,
    batch: BATCH,
    dim: m.dim,
    classes: ds.classes,
    mlp: { hidden: 256, lr: MLP_LR, momentum: MLP_MOMENTUM },
    cnn: {
      input: cnn.input,
      channels: cnn.channels,
      kernel: cnn.kernel ?? 3,
      dense: cnn.dense,
      clipNorm: cfg.clipNorm ?? 0,
      adamw: { lr: o.lr, beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, eps: o.eps ?? 1e-8, weightDecay: o.weightDecay ?? 0 },
    },
    timing: { ...timing, threads: [1, 2], otherMax: OTHER_CPU_MAX },
  };
  writeFileSync(join(dir, 'batches.json'), JSON.stringify(meta));
  return dir;
}

/** PyTorch's rows for TORCH_STEPS (or "skipped" rows saying why), and what was found. */
export function torchPeer(train: Dataset, disabled: boolean): { rows: Row[]; info: TorchInfo } {
  const skipped = (why: string): Row[] => TORCH_STEPS.map((name) => ({ name, impl: 'torch', threads: 1, batch: BATCH, status: 'skipped', error: why }));
  if (disabled) return { rows: skipped('--no-torch'), info: { python: null, tried: [] } };
  const found = findTorch();
  if (!found.python) return { rows: skipped(`no python3 with torch (tried ${found.tried.join('; ')})`), info: { python: null, tried: found.tried } };
  const t0 = now();
  const allBatches = batchOrder(train.size, BATCH, SEED).length;
  const dir = writeBatches(train, { runs: RUNS, batchMs: BATCH_MS, warmMs: WARM_MS });
  try {
    const r = spawnSync(found.python, [SCRIPT, dir], { encoding: 'utf8', timeout: 20 * 60_000, maxBuffer: 16 << 20 });
    if (r.error || r.status !== 0) {
      const why = r.error ? r.error.message : `exit ${r.status}: ${lastLine(r.stderr)}`;
      return { rows: TORCH_STEPS.map((name) => ({ name, impl: 'torch', threads: 1, batch: BATCH, status: 'error', error: `bench/torch_steps.py: ${why}` })), info: { python: found.python, tried: found.tried, error: why } };
    }
    const out = JSON.parse(r.stdout) as Omit<TorchInfo, 'python' | 'tried'> & { python: string; steps: (Partial<Row> & { name: string; threads: number; msPerStep: number; firstLoss: number })[] };
    const rows: Row[] = out.steps.map(({ firstLoss, ...s }) => ({
      ...s,
      impl: 'torch',
      batch: BATCH,
      samplesPerSec: (BATCH * 1000) / s.msPerStep,
      status: 'ok',
      note: `torch ${out.torch}, torch.set_num_threads(${s.threads}); first loss ${firstLoss.toFixed(3)}; ${out.batches === allBatches ? `udi-wasm's ${allBatches} batches` : `the first ${out.batches} of udi-wasm's ${allBatches} batches`}, pre-gathered (udi-wasm's step also gathers its rows)`,
    }));
    const { steps: _steps, python: pyVersion, ...rest } = out;
    return { rows, info: { ...rest, python: found.python, python_version: pyVersion, tried: found.tried, seconds: (now() - t0) / 1000 } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** udi-wasm rows of TORCH_STEPS: ms per step over PyTorch's of the same thread count, and over PyTorch's best (< 1: udi-wasm faster). */
export function torchRatios(rows: Row[]): void {
  for (const name of TORCH_STEPS) {
    const torch = rows.filter((r) => r.name === name && r.impl === 'torch' && r.status === 'ok' && r.msPerStep);
    if (!torch.length) continue;
    const best = Math.min(...torch.map((r) => r.msPerStep!));
    for (const r of rows.filter((x) => x.name === name && x.impl === 'udi-wasm' && x.status === 'ok' && x.msPerStep)) {
      const same = torch.find((t) => t.threads === r.threads);
      r.udiOverTorch = same ? r.msPerStep! / same.msPerStep! : null;
      r.udiOverTorchBest = r.msPerStep! / best;
    }
  }
}
