/**
 * Whole training runs of the end-to-end benchmark: train(rt, 'udi' | 'joint') with defaultConfig and
 * the MLP encoders of compare.ts, a fresh runtime per run: wall time, samples/s, time per stage (its
 * per-epoch validation measured apart), memory; and the UDI guided step's cost next to the solo step's.
 */
import v8 from 'node:v8';
import { createRuntime } from '../../src/runtime/node.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { defaultConfig, type Method, type Model, train } from '../../src/train/methods.js';
import { fullGc, heapUsed, now } from '../harness.js';
import { BATCH, type Ctx, harness, type Row, RUN_ENCODERS, SEED } from './context.js';

export interface RunMemory {
  heapBeforeBytes: number;
  heapPeakSampledBytes: number;
  heapAfterGcBytes: number;
  wasmMemoryBytes: number;
  arenaPeakBytes: number;
  arenaUsedAfterBytes: number;
  paramCount: number;
}

export async function udiRun(ctx: Ctx, method: Method, threads: number): Promise<{ rows: Row[]; memory: RunMemory; params: Float32Array; model: Model; rt: Runtime }> {
  fullGc();
  const heapBefore = heapUsed();
  const rt = await createRuntime({ threads });
  let peak = heapUsed();
  let batches = 0;
  // Validation (and early-stopping snapshots) run between a stage's last batch of an epoch and onEpochEnd.
  let lastBatchEnd = 0;
  const validationMs: Record<string, number> = {};
  const cfg = defaultConfig(RUN_ENCODERS, SEED);
  harness.meter.start();
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
  const other = harness.meter.stop();
  const g = rt.threads.stats;
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
    governor: threads > 1 ? { splitCalls: g.splitCalls, serialCalls: g.serialCalls, fallbacks: g.fallbacks, holds: g.holds } : undefined,
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

/**
 * The UDI guided step next to the solo step, from the stages of one real UDI run (no copy of the
 * guided stage's body, so it stays what train() does): ms per training step of a stage = (stage
 * wall time - its per-epoch validation) / steps; batch loading, the anchor's cached targets, the
 * JS and cross-correlation losses, the controller's backward passes and AdamW included. Compared
 * with the solo stage of the same modality (the follower), same run, same thread count.
 */
export function guidedStepRows(run: Row[]): Row[] {
  const perStep = (r: Row) => (r.wallMs! - (r.validationMs ?? 0)) / r.steps!;
  const out: Row[] = [];
  for (const g of run.filter((r) => /\/guided:/.test(r.name))) {
    const m = g.name.split('guided:')[1];
    const solo = run.find((r) => r.name.endsWith(`/solo:${m}`) && r.threads === g.threads);
    if (!solo || !g.steps || !solo.steps) continue;
    const [gs, ss] = [perStep(g), perStep(solo)];
    const base = { impl: 'udi-wasm' as const, threads: g.threads, batch: BATCH, otherCpu: g.otherCpu, status: 'ok' as const };
    out.push({ ...base, name: `step:udi-from-run/solo:${m}`, msPerStep: ss, samplesPerSec: (BATCH * 1000) / ss, steps: solo.steps, note: `solo:${m} stage of the UDI run: (wall - validation) / steps` });
    out.push({
      ...base,
      name: `step:udi-from-run/guided:${m}`,
      msPerStep: gs,
      samplesPerSec: (BATCH * 1000) / gs,
      steps: g.steps,
      guidedOverSolo: gs / ss,
      note: `guided:${m} stage of the UDI run: (wall - validation) / steps; ${(gs / ss).toFixed(2)}x the solo step`,
    });
  }
  return out;
}
