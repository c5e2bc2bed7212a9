/**
 * Memory findings of the end-to-end benchmark: JS heap and WebAssembly memory over 1,000 steps
 * (flat or not), JS bytes allocated per step and where (V8's sampling heap profiler), and the memory
 * of a model built from a checkpoint predicting a few samples.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { createRuntime } from '../../src/runtime/node.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { subset } from '../../src/data/dataset.js';
import type { EncoderConfig } from '../../src/nn/encoders.js';
import { type Model, predict } from '../../src/train/methods.js';
import { MultimodalNet } from '../../src/train/net.js';
import type { UdiStep } from '../steps.js';
import { fullGc, heapUsed, median, now } from '../harness.js';
import { type Ctx, quick, SEED } from './context.js';

export interface Snapshot {
  heapUsedAfterGc: number;
  wasmMemoryBytes: number;
  arenaPeakBytes: number;
  arenaUsedBytes: number;
}
const snap = (rt: Runtime): Snapshot => {
  fullGc();
  return { heapUsedAfterGc: heapUsed(), wasmMemoryBytes: rt.memory.buffer.byteLength, arenaPeakBytes: rt.arena.peakBytes, arenaUsedBytes: rt.arena.usedBytes };
};

export interface AllocSite {
  fn: string;
  caller: string;
  file: string;
  bytesPerStep: number;
}

/** JS bytes allocated per step: heapUsed growth over short windows with no GC in them (median). */
export async function bytesPerStepNoGc(step: () => void, steps: number, windows: number): Promise<number | null> {
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
export async function allocationSites(step: () => void, steps: number): Promise<{ bytesPerStep: number; sites: AllocSite[] }> {
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

export interface FlatResult {
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

export async function memoryFlat(label: string, s: UdiStep, steps: number): Promise<FlatResult> {
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

export interface PredictMemory {
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

/** A model built from a "checkpoint" (parameters and fusion copied in from JS) predicting `samples` test rows. */
export async function predictMemory(ctx: Ctx, encoders: Record<string, EncoderConfig>, label: string, maxBatch: number, ckpt: Float32Array | null, reference: Float32Array | null, fusion: Pick<Model, 'fusion' | 'fusionWeights' | 'fusionTemperatures'> = { fusion: 'mean' }, samples = 10): Promise<PredictMemory> {
  const ds10 = subset(ctx.split.test, Array.from({ length: samples }, (_, i) => i));
  fullGc();
  const m0 = process.memoryUsage();
  const rt = await createRuntime({ threads: 1 });
  const names = Object.keys(encoders);
  const net = new MultimodalNet(
    rt,
    names.map((name) => ({ name, dim: ctx.split.train.modalities[name].dim, encoder: encoders[name] })),
    ctx.split.train.classes,
    1,
    SEED,
    maxBatch, // as deserializeModel: a loaded model infers maxBatch rows at a time and never trains
  );
  if (ckpt) rt.arena.viewF32(net.store.params).set(ckpt);
  const model: Model = { net, method: 'udi', modalities: names, ...fusion };
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
