/**
 * The step groups of the end-to-end benchmark: one training step of each model, udi-wasm on 1 and 2
 * threads next to its tfjs peer and the SIMD ceiling, timed in shared rounds (bench/harness.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { EncoderConfig } from '../../src/nn/encoders.js';
import { mlpStep, trainerStep, type UdiStep } from '../steps.js';
import { now } from '../harness.js';
import { BATCH, type Ctx, ENC, MLP_LR, MLP_MOMENTUM, plainAdamCfg, type Row, rows, SEED, type Slot, stageCfg, timeSlots } from './context.js';
import { cnnPeers, tfBatches, tfModel, tfStep, useBackend, validate } from './tfjs.js';

export interface Group {
  name: string;
  modality: string;
  make: (rt: Runtime) => UdiStep;
  /** The step the tfjs peer is validated against (default: make): the same maths as the peer's optimiser. */
  makeRef?: (rt: Runtime) => UdiStep;
  /** FLOPs of one step (multiply-adds x 2), when the step is mostly matmul: its floor is then timed against the ceiling. */
  flops?: number;
  tf?: { enc: EncoderConfig | { type: 'plain-mlp'; hidden: number }; opt: () => tf.Optimizer; inShape: number[]; tolerance: number; backend: 'wasm' | 'cpu' };
}

export function groups(ctx: Ctx): Group[] {
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
export async function measureGroup(ctx: Ctx, g: Group): Promise<Map<number, UdiStep>> {
  const t0 = now();
  const steps = new Map<number, UdiStep>();
  const slots: Slot[] = [];
  for (const rt of ctx.rts) {
    const s = g.make(rt);
    steps.set(rt.info.threads, s);
    const row: Row = { name: g.name, impl: 'udi-wasm', threads: rt.info.threads, batch: BATCH, status: 'ok' };
    rows.push(row);
    slots.push({ step: () => void s.step(), row });
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
      slots.push({ step: () => void st.step(), row });
    } catch (e) {
      row.status = 'error';
      row.error = (e as Error).message;
    }
  }
  let ceilingRow: Row | null = null;
  if (g.flops) {
    ceilingRow = { name: g.name, impl: 'ceiling', threads: 1, status: 'ok' };
    rows.push(ceilingRow);
    slots.push({ step: () => void ctx.ceiling.sample(), row: ceilingRow });
  }
  // As in the trainer's runStage: worker threads stay awake between a stage's steps.
  for (const rt of ctx.rts) rt.threads.beginStage();
  try {
    await timeSlots(slots);
  } finally {
    for (const rt of ctx.rts) rt.threads.endStage();
  }
  const udi = slots.filter((x) => x.row.impl === 'udi-wasm').map((x) => x.row);
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
