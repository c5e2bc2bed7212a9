/**
 * Why threads pay or not: latency distributions of the worker pool and a census of the parallel
 * calls of one training step (issue 13). Run: `npx tsx scripts/threads-probe.ts [--steps 200]`.
 *
 *   round trip   post + join of an empty kernel call (fill of 0 elements) on worker 1, back to back
 *                (the worker is spinning) and after a 2 ms gap (the worker went to sleep in
 *                Atomics.wait unless the pool keeps it awake), in µs: p10 / p50 / p90 / p99.
 *   step census  for an MLP 784-256-10 step and the image CNN step of the benchmark (synthetic data of
 *                the same shapes): per kernel, calls run on the calling thread only and calls split,
 *                their work (multiply-adds or element operations), and for the split calls the
 *                caller's own share time and its wait in join.
 * Prints JSON after a short table. Timings depend on the machine's load: quote the load average.
 */
import * as os from 'node:os';
import { createRuntime, type Runtime } from '../src/index.js';
import { makeDataset } from '../src/data/dataset.js';
import { defaultConfig } from '../src/train/methods.js';
import type { EncoderConfig } from '../src/nn/encoders.js';
import { mlpStep, trainerStep, type UdiStep } from '../bench/steps.js';

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const STEPS = arg('steps', 100);
const now = () => performance.now();

const q = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p10: at(0.1), p50: at(0.5), p90: at(0.9), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length) };
};
const f = (o: ReturnType<typeof q>, k = 1) => `${(o.p10 * k).toFixed(1)} / ${(o.p50 * k).toFixed(1)} / ${(o.p90 * k).toFixed(1)} / ${(o.p99 * k).toFixed(1)}`;

interface PoolLike {
  post(w: number, fn: number, argv: readonly number[]): void;
  join(fn: number, work?: number, err?: unknown): void;
  size: number;
}
const poolOf = (rt: Runtime) => (rt as unknown as { pool: PoolLike | null }).pool;

function roundTrips(rt: Runtime, gapMs: number, n: number): number[] {
  const pool = poolOf(rt)!;
  const K = rt.kernels as unknown as { index: Record<string, number> };
  const fill = K.index.fill;
  const buf = rt.arena.f32(4);
  const argv = [buf.ptr, 0, 0];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (gapMs > 0) {
      const until = now() + gapMs;
      while (now() < until);
    }
    const t0 = now();
    pool.post(0, fill, argv);
    pool.join(fill);
    out.push((now() - t0) * 1000);
  }
  return out;
}

interface Census {
  serial: Map<string, { calls: number; work: number; ms: number }>;
  parallel: Map<string, { calls: number; work: number[]; actualUs: number[]; ownUs: number[]; ownFraction: number[] }>;
}

type KernelsInside = {
  split: (...a: unknown[]) => void;
  elementwise: (...a: unknown[]) => void;
  run: (...a: unknown[]) => void;
  governor: { record: (actual: number, own: number, frac: number) => void };
};

/** Wrap the splitting machinery of rt.kernels to record every kernel call that goes through it. */
function instrument(rt: Runtime): Census {
  const K = rt.kernels as unknown as KernelsInside;
  const census: Census = { serial: new Map(), parallel: new Map() };
  let ran = false;
  let last = [0, 0, 0];
  const rec = K.governor.record.bind(K.governor);
  K.governor.record = (a, o, f) => {
    last = [a, o, f];
    rec(a, o, f);
  };
  const run = K.run;
  K.run = function (...a: unknown[]) {
    ran = true;
    run.apply(this, a);
  };
  for (const [method, workAt] of [
    ['split', 5],
    ['elementwise', -1],
  ] as const) {
    const orig = K[method];
    K[method] = function (...a: unknown[]) {
      const name = a[0] as string;
      const work = workAt >= 0 ? (a[workAt] as number) : (a[1] as number[])[a[2] as number];
      ran = false;
      const t0 = now();
      orig.apply(this, a);
      const ms = now() - t0;
      if (!ran) {
        const e = census.serial.get(name) ?? { calls: 0, work: 0, ms: 0 };
        e.calls++;
        e.work += work;
        e.ms += ms;
        census.serial.set(name, e);
      } else {
        const e = census.parallel.get(name) ?? { calls: 0, work: [], actualUs: [], ownUs: [], ownFraction: [] };
        e.calls++;
        e.work.push(work);
        e.actualUs.push(last[0] * 1000);
        e.ownUs.push(last[1] * 1000);
        e.ownFraction.push(last[2]);
        census.parallel.set(name, e);
      }
    };
  }
  return census;
}

function timeSteps(s: UdiStep, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = now();
    s.step();
    out.push(now() - t0);
  }
  return out;
}

async function main() {
  const load = os.loadavg();
  console.log(`threads probe: node ${process.version}, ${os.cpus()[0]?.model} x${os.cpus().length}, load ${load.map((x) => x.toFixed(1)).join(' ')}`);
  const one = await createRuntime({ threads: 1 });
  const fixed = await createRuntime({ threads: 2, adaptiveThreads: false });
  const adaptive = await createRuntime({ threads: 2 });
  const result: Record<string, unknown> = { load, cpu: os.cpus()[0]?.model, calibration: adaptive.info.calibration };
  console.log(`calibration: ${JSON.stringify(adaptive.info.calibration)}; thresholds ${adaptive.threads.stats.minMacs} MACs, ${adaptive.threads.stats.minElements} elements`);

  // ---- round trips (a worker must run the call: post/join) ----------------------------------------
  const rts: Record<string, number[]> = {};
  for (const stage of [false, true]) {
    if (stage) fixed.threads.beginStage();
    roundTrips(fixed, 0, 200);
    for (const gap of [0, 0.5, 2]) {
      const xs = roundTrips(fixed, gap, gap === 0 ? 2000 : 300);
      rts[`${stage ? 'inStage' : 'idle'}:gap${gap}ms`] = xs;
      console.log(`round trip of an empty call on the worker, ${stage ? 'in a stage (workers kept awake)' : 'outside a stage'}, after a ${gap} ms gap: µs p10/p50/p90/p99 ${f(q(xs))}`);
    }
    if (stage) fixed.threads.endStage();
  }
  result.roundTripUs = Object.fromEntries(Object.entries(rts).map(([k, v]) => [k, q(v)]));

  // ---- steps -----------------------------------------------------------------------------------
  const B = 64;
  const rows = 1024;
  const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
  const ds = makeDataset({ image: { data: rnd(rows * 784), dim: 784 } }, Int32Array.from({ length: rows }, (_, i) => i % 10), 10);
  const cnn: EncoderConfig = { type: 'cnn', input: [28, 28, 1], channels: [8, 16], kernel: 3, dense: 64 };
  const cfg = defaultConfig({ image: { type: 'mlp', hidden: [128, 64] } }, 1).solo;
  const steps: Record<string, (rt: Runtime) => UdiStep> = {
    'mlp-784-256-10': (rt) => mlpStep(rt, ds, 'image', { hidden: 256, batch: B, lr: 0.01, momentum: 0.9, seed: 1 }),
    'image-cnn-c8-c16-d64+head': (rt) => trainerStep(rt, ds, 'image', cnn, { ...cfg, batchSize: B }, 1),
  };
  const stepRes: Record<string, unknown> = {};
  const variants: [string, Runtime][] = [
    ['1T', one],
    ['2T fixed', fixed],
    ['2T adaptive', adaptive],
  ];
  for (const [name, make] of Object.entries(steps)) {
    const made = variants.map(([v, rt]) => [v, make(rt), rt] as const);
    const times: Record<string, number[]> = {};
    for (const [v, s, rt] of made) {
      rt.threads.beginStage();
      timeSteps(s, 10);
      times[v] = [];
    }
    // interleave blocks so load changes hit every variant
    for (let r = 0; r < 5; r++) for (const [v, s] of made) times[v].push(...timeSteps(s, STEPS / 5));
    const res: Record<string, unknown> = {};
    console.log(`\n${name}: step ms p10/p50/p90/p99: ${made.map(([v]) => `${v} ${f(q(times[v]))}`).join(';  ')}`);
    console.log(`  2T/1T by medians: fixed ${(q(times['1T']).p50 / q(times['2T fixed']).p50).toFixed(2)}x, adaptive ${(q(times['1T']).p50 / q(times['2T adaptive']).p50).toFixed(2)}x; adaptive governor ${JSON.stringify(adaptive.threads.stats)}`);
    res.stepMs = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, q(v)]));
    for (const [v, s, rt] of made.slice(1)) {
      const census = instrument(rt);
      const N = 20;
      timeSteps(s, N);
      const c: Record<string, unknown> = {};
      console.log(`  census, ${v}:`);
      for (const [k, e] of census.serial) {
        c[`serial:${k}`] = { callsPerStep: e.calls / N, workPerCall: e.work / e.calls, usPerCall: (e.ms * 1000) / e.calls };
        console.log(`    serial   ${k.padEnd(24)} ${(e.calls / N).toFixed(1).padStart(5)} calls/step, work/call ${(e.work / e.calls).toFixed(0).padStart(9)}, ${((e.ms * 1000) / e.calls).toFixed(1)} µs/call`);
      }
      let act = 0,
        est = 0;
      for (const [k, e] of census.parallel) {
        const a = q(e.actualUs),
          o = q(e.ownUs),
          fr = q(e.ownFraction);
        const estimate = e.ownUs.map((x, i) => x / e.ownFraction[i]);
        act += e.actualUs.reduce((x, y) => x + y, 0);
        est += estimate.reduce((x, y) => x + y, 0);
        c[`split:${k}`] = { callsPerStep: e.calls / N, workPerCall: e.work.reduce((x, y) => x + y, 0) / e.calls, actualUs: a, ownUs: o, ownFraction: fr, serialEstimateUs: q(estimate) };
        console.log(`    split    ${k.padEnd(24)} ${(e.calls / N).toFixed(1).padStart(5)} calls/step, work/call ${(e.work.reduce((x, y) => x + y, 0) / e.calls).toFixed(0).padStart(9)}, call µs p50 ${a.p50.toFixed(1)} (p90 ${a.p90.toFixed(1)}) vs 1-thread estimate p50 ${q(estimate).p50.toFixed(1)}; caller's share p50 ${(fr.p50 * 100).toFixed(0)}%`);
      }
      const ser = [...census.serial.values()].reduce((x, e) => x + e.ms, 0) / N;
      console.log(`    per step: serial calls ${ser.toFixed(2)} ms; split calls ${(act / N / 1000).toFixed(2)} ms against a 1-thread estimate of ${(est / N / 1000).toFixed(2)} ms`);
      res[`census ${v}`] = { calls: c, perStepMs: { serial: ser, split: act / N / 1000, splitSerialEstimate: est / N / 1000 } };
      rt.threads.endStage();
    }
    stepRes[name] = res;
  }
  result.steps = stepRes;
  result.governor = adaptive.threads.stats;
  one.dispose();
  fixed.dispose();
  adaptive.dispose();
  if (process.argv.includes('--json')) console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
