/**
 * Kernel lab: matmul GFLOP/s of every implementation, next to the measured WASM SIMD ceiling of
 * this machine and to @tensorflow/tfjs-backend-wasm, all in one process run.
 *
 *   npm run bench:kernels                      # full run (~1-2 minutes)
 *   npm run bench:kernels -- --json out.json   # also write machine-readable results
 *   npm run bench:kernels -- --quick           # CI smoke: few shapes, short batches
 *   npm run bench:kernels -- --sizes 64,256,64x784x256
 *
 * Implementations: udi-simd (1 thread), udi-simd-threads (1 and 2 threads: the 1-thread row
 * separates the cost of the shared-memory build from the cost of threading), udi-scalar,
 * tfjs-wasm (XNNPACK, SIMD binary, 1 thread: it has no threads in Node) and plain JS (i-k-j loop).
 *
 * Method, per shape (the timing harness is bench/harness.ts, shared with bench/e2e.ts):
 *   1. every implementation computes C once and is checked against a float64 reference; the error
 *      of each element is |c - ref| / sum_k |a_ik·b_kj| (the scale of f32 rounding in a dot
 *      product); an implementation whose worst error exceeds 2·k·2^-24 (twice the worst-case
 *      bound of recursive f32 summation) is marked FAILED and not timed;
 *   2. warm-up (time-based, enough calls for V8's Liftoff -> TurboFan tier-up; every
 *      implementation also runs 64³ for a while before the first shape), then the calls per batch
 *      are sized so one batch takes ~--batch-ms;
 *   3. rounds: each round times one batch of every implementation back to back in a rotating
 *      order, so machine noise affects them alike, plus one 1-thread and one 2-thread ceiling
 *      batch. The figure is the median over --runs rounds. The machine is shared: a round during
 *      which other processes used more than a quarter of a core (/proc/stat minus this process)
 *      is repeated, up to 3 x --runs rounds; rows that never got enough quiet rounds are flagged.
 *
 * The ceiling (bench/ceiling.ts): an AssemblyScript loop (compiled in memory at start with the asc
 * API; not part of the library build) of independent f32x4.mul + f32x4.add on 12 accumulators
 * (body unrolled 4x), no memory traffic, 1 thread; validated bit-exactly against an f32
 * emulation before use. Reported: the median over the quiet rounds of the whole run. The same
 * loop on the main thread and a worker at once gives the 2-thread ceiling, which shows whether
 * the second core was really available; 2-thread rows are compared with 2 x the 1-thread ceiling.
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { createRuntime, type Runtime, type RuntimeOptions } from '../src/index.js';
import { OTHER_CPU_MAX } from './meter.js';
import { type Bound, type Impl, maxRelErr, PLAIN_JS_MAX_MACS, plainImpl, randomF32, reference, type Shape, tfjsImpl, udiImpl } from './lab/matmul.js';
import { banner, fmt, Harness, machine, median, now } from './harness.js';
import { orExit, positiveInt } from './args.js';
import { Ceiling, CEIL_ACCS, CEIL_FLOPS_PER_TRIP, CEIL_UNROLL } from './ceiling.js';

// ---- options -----------------------------------------------------------------------------------

const HELP = `usage: npm run bench:kernels -- [--json FILE] [--quick] [--sizes LIST] [--runs N] [--batch-ms MS] [--no-scalar]
  --json FILE     write one row per measurement plus metadata to FILE
  --quick         CI smoke: sizes 64,128,64x784x256, short warm-up and batches
  --sizes LIST    comma-separated shapes: N (square N×N·N×N) or MxKxN (A is M×K, B is K×N)
  --runs N        timed rounds per shape (median is reported; default 7, at least 5)
  --batch-ms MS   target duration of one timed batch (default 60; quick 20)
  --no-scalar     skip the scalar build (it is slow at 1024)`;

const { values: opts } = parseArgs({
  options: {
    json: { type: 'string' },
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    runs: { type: 'string' },
    'batch-ms': { type: 'string' },
    'no-scalar': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}

const DEFAULT_SIZES = '64,128,256,512,1024,64x784x256,128x512x256';
const QUICK_SIZES = '64,128,64x784x256';

function parseShapes(list: string): Shape[] {
  const shapes = list.split(',').map((s) => {
    const t = s.trim();
    const parts = t.split(/[x×]/).map((p) => Number(p));
    if (!parts.every((p) => Number.isInteger(p) && p >= 1 && p <= 4096) || (parts.length !== 1 && parts.length !== 3)) {
      throw new Error(`--sizes: "${t}" is not N or MxKxN with whole numbers from 1 to 4096`);
    }
    return parts.length === 1 ? { m: parts[0], n: parts[0], k: parts[0] } : { m: parts[0], k: parts[1], n: parts[2] };
  });
  return shapes.filter((s, i) => shapes.findIndex((t) => t.m === s.m && t.n === s.n && t.k === s.k) === i);
}

const quick = opts.quick!;
const shapes = orExit(HELP, () => parseShapes(opts.sizes ?? (quick ? QUICK_SIZES : DEFAULT_SIZES)));
const RUNS = orExit(HELP, () => positiveInt('runs', opts.runs, quick ? 5 : 7, 5));
const BATCH_MS = orExit(HELP, () => positiveInt('batch-ms', opts['batch-ms'], quick ? 20 : 60, 1));
const WARM_MS = quick ? 40 : 150;
/** The scalar build is skipped above this in --quick. */
const QUICK_SCALAR_MAX_MACS = 256 ** 3;

const shapeLabel = (s: Shape) => (s.m === s.n && s.n === s.k ? `${s.m}³` : `${s.m}×${s.k}·${s.k}×${s.n}`);

// ---- measurement -------------------------------------------------------------------------------

interface Row {
  op: 'matmul' | 'ceiling';
  m: number | null;
  n: number | null;
  k: number | null;
  impl: string;
  threads: number;
  gflops: number | null;
  /** Per-round GFLOP/s range over the rounds used. */
  minGflops?: number;
  maxGflops?: number;
  msPerCall?: number;
  callsPerBatch?: number;
  /** Rounds the median is taken over, and rounds repeated because other processes were busy. */
  runs?: number;
  roundsDiscarded?: number;
  /** Median CPU (in cores) used by other processes during the rounds used; null if unknown. */
  otherCpu?: number | null;
  maxRelErr?: number;
  tolerance?: number;
  fractionOfCeiling?: number | null;
  ratioVsTfjs?: number | null;
  status: 'ok' | 'failed-validation' | 'error' | 'skipped';
  error?: string;
}

interface Slot {
  impl: Impl;
  bound: Bound | null;
  calls: number;
  row: Row;
}

/** Rounds of the shared harness (bench/harness.ts); each ends with one 1-thread and one 2-thread ceiling batch (extra[0], extra[1]). */
const harness = new Harness({ runs: RUNS, batchMs: BATCH_MS, warmMs: WARM_MS });
const ceilingRounds = (ceiling: Ceiling, batches: (() => void)[]) => harness.rounds(batches, [() => ceiling.sample(), () => ceiling.sampleTwo()]);

async function measureShape(s: Shape, impls: Impl[], ceiling: Ceiling): Promise<Row[]> {
  const macs = s.m * s.n * s.k;
  const flops = 2 * macs;
  const seed = s.m * 1_000_003 + s.k * 1009 + s.n;
  const a = randomF32(s.m * s.k, seed);
  const b = randomF32(s.k * s.n, seed ^ 0x5bd1e995);
  const ref = reference(a, b, s);
  const tol = 2 * s.k * 2 ** -24;

  const slots: Slot[] = [];
  for (const impl of impls) {
    const row: Row = { op: 'matmul', m: s.m, n: s.n, k: s.k, impl: impl.name, threads: impl.threads, gflops: null, tolerance: tol, status: 'ok' };
    if (impl.maxMacs !== undefined && macs > impl.maxMacs) {
      row.status = 'skipped';
      slots.push({ impl, bound: null, calls: 0, row });
      continue;
    }
    let bound: Bound | null = null;
    try {
      bound = impl.bind(s, a, b);
      bound.runBatch(1);
      row.maxRelErr = maxRelErr(bound.output(), ref);
      if (!(row.maxRelErr <= tol)) {
        row.status = 'failed-validation';
        row.error = `max relative error ${row.maxRelErr.toExponential(2)} exceeds ${tol.toExponential(2)}`;
        bound.release();
        bound = null;
      }
    } catch (e) {
      row.status = 'error';
      row.error = (e as Error).message;
      bound?.release();
      bound = null;
    }
    slots.push({ impl, bound, calls: 0, row });
  }

  const live = slots.filter((x) => x.bound);
  for (const x of live) x.calls = harness.size((calls) => x.bound!.runBatch(calls));
  const rounds = await ceilingRounds(
    ceiling,
    live.map((x) => () => x.bound!.runBatch(x.calls)),
  );
  const used = harness.usable(rounds);
  const others = used.map((r) => r.other).filter((o): o is number => o !== null);
  live.forEach((x, i) => {
    const perCall = used.map((r) => r.ms[i] / x.calls);
    const g = perCall.map((ms) => flops / (ms * 1e6));
    Object.assign(x.row, {
      gflops: flops / (median(perCall) * 1e6),
      minGflops: Math.min(...g),
      maxGflops: Math.max(...g),
      msPerCall: median(perCall),
      callsPerBatch: x.calls,
      runs: used.length,
      roundsDiscarded: rounds.length - used.length,
      otherCpu: others.length ? median(others) : null,
    });
  });
  for (const x of slots) x.bound?.release();
  return slots.map((x) => x.row);
}

// ---- output ------------------------------------------------------------------------------------

function printTable(rows: Row[]): void {
  const head = ['shape', 'impl', 'thr', 'GFLOP/s', 'range', 'ms/call', 'of ceiling', 'vs tfjs', 'maxRelErr', 'rounds', 'others'];
  const lines: string[][] = [head];
  let last = '';
  for (const r of rows) {
    const shape = r.op === 'ceiling' ? '(ceiling)' : shapeLabel({ m: r.m!, n: r.n!, k: r.k! });
    if (shape !== last && lines.length > 1) lines.push([]);
    last = shape;
    const status = r.status === 'ok' ? null : r.status === 'skipped' ? 'skipped' : `✗ ${r.status.toUpperCase()}: ${r.error}`;
    lines.push([
      shape,
      r.impl,
      String(r.threads),
      status ?? fmt(r.gflops, 2),
      status ? '' : r.minGflops !== undefined ? `${fmt(r.minGflops, 1)}-${fmt(r.maxGflops, 1)}` : '',
      status ? '' : fmt(r.msPerCall, 3),
      status ? '' : r.fractionOfCeiling != null ? `${(100 * r.fractionOfCeiling).toFixed(1)}%` : '-',
      status ? '' : r.ratioVsTfjs != null ? `${r.ratioVsTfjs.toFixed(2)}x` : '-',
      r.maxRelErr !== undefined ? r.maxRelErr.toExponential(1) : '',
      status || r.runs === undefined ? '' : `${r.runs}${r.roundsDiscarded ? ` (+${r.roundsDiscarded})` : ''}`,
      status || r.otherCpu == null ? '' : `${r.otherCpu.toFixed(2)}${r.otherCpu > OTHER_CPU_MAX ? ' !' : ''}`,
    ]);
  }
  const failed = (l: string[]) => (l[3] ?? '').startsWith('✗');
  const widths = head.map((_, i) => Math.max(...lines.filter((l) => l.length && !failed(l)).map((l) => (l[i] ?? '').length)));
  for (const l of lines) {
    if (l.length === 0) console.log('');
    else if (failed(l)) console.log([l[0].padEnd(widths[0]), l[1].padEnd(widths[1]), l[2].padStart(widths[2]), l[3]].join('  '));
    else console.log(l.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  }
}

// ---- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = now();
  console.log(banner('kernel lab', harness.o, quick));
  const meter = harness.meter;
  const ceiling = await Ceiling.create(WARM_MS, BATCH_MS);
  const runtimes: Runtime[] = [];
  try {
    // a first block of ceiling-only rounds, then one 1-thread and one 2-thread sample per round of every shape
    await ceilingRounds(ceiling, []);
    console.log(`ceiling (f32x4 mul+add, ${CEIL_ACCS} accumulators, 1 thread): ${median(harness.usable(harness.allRounds).map((r) => r.extra[0])).toFixed(2)} GFLOP/s at start`);

    const impls: Impl[] = [];
    const notes: string[] = [];
    const configs: (RuntimeOptions & { threads: number; build: string })[] = [
      { threads: 1, build: 'simd' },
      { threads: 1, build: 'simd-threads' },
      // Every call above the fixed size thresholds split, always: the lab measures what a split gives;
      // whether to split during training is the governor's decision (npm run bench measures that).
      { threads: 2, build: 'simd-threads', adaptiveThreads: false },
      ...(opts['no-scalar'] ? [] : [{ threads: 1, build: 'scalar' as const }]),
    ];
    for (const o of configs) {
      try {
        const rt = await createRuntime(o);
        // As in training (train() brackets its stages so): workers spin between calls, at most 50 ms after the last.
        rt.threads.beginStage();
        runtimes.push(rt);
        impls.push(udiImpl(rt, o.build === 'scalar' && quick ? QUICK_SCALAR_MAX_MACS : undefined));
        if (rt.info.threadsNote) notes.push(`udi ${o.build} threads ${o.threads}: ${rt.info.threadsNote}`);
      } catch (e) {
        notes.push(`udi ${o.build} threads ${o.threads}: could not start: ${(e as Error).message}`);
      }
    }

    // tfjs-backend-wasm: only the SIMD binary is given a real path, so a silent fall-back to the
    // scalar (or threaded) binary would fail to load rather than be measured by mistake.
    let tfjsMeta: Record<string, unknown> = {};
    try {
      const dist = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
      const missing = join(dist, 'not-the-simd-build.wasm');
      tfwasm.setWasmPaths({
        'tfjs-backend-wasm.wasm': missing,
        'tfjs-backend-wasm-simd.wasm': join(dist, 'tfjs-backend-wasm-simd.wasm'),
        'tfjs-backend-wasm-threaded-simd.wasm': missing,
      });
      if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
      await tf.ready();
      const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
      const mt = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) as boolean;
      tfjsMeta = { version: tfwasm.version_wasm, backend: tf.getBackend(), WASM_HAS_SIMD_SUPPORT: simd, WASM_HAS_MULTITHREAD_SUPPORT: mt, threads: tfwasm.getThreadsCount(), binary: 'tfjs-backend-wasm-simd.wasm' };
      if (!simd) throw new Error('tfjs-backend-wasm reports no SIMD support');
      impls.push(tfjsImpl());
    } catch (e) {
      notes.push(`tfjs-wasm: could not start: ${(e as Error).message ?? String(e)}`);
    }
    impls.push(plainImpl());

    for (const rt of runtimes) console.log(`udi-${rt.info.build}: ${JSON.stringify(rt.info)}`);
    console.log(`tfjs-wasm: ${JSON.stringify(tfjsMeta)}`);
    if (!meter.available) notes.push('/proc/stat is not readable: rounds are not checked for other busy processes');
    for (const n of notes) console.log(`note: ${n}`);
    console.log('');

    // Global warm-up: every implementation runs 64³ for a while first, so JIT tiers (tfjs's JS
    // included) have settled before the first measured shape.
    {
      const s = { m: 64, n: 64, k: 64 };
      const a = randomF32(64 * 64, 1);
      const b = randomF32(64 * 64, 2);
      for (const impl of impls) {
        try {
          const bound = impl.bind(s, a, b);
          for (const t0 = now(); now() - t0 < 2 * WARM_MS; ) bound.runBatch(1);
          bound.release();
        } catch {
          // reported with the shapes, where every implementation is validated
        }
      }
    }

    const rows: Row[] = [];
    for (const s of shapes) {
      const t = now();
      const r = await measureShape(s, impls, ceiling);
      rows.push(...r);
      const brief = r.map((x) => `${x.impl}/${x.threads} ${x.status === 'ok' ? fmt(x.gflops, 1) : x.status}`).join(', ');
      console.log(`  ${shapeLabel(s).padEnd(16)} ${((now() - t) / 1000).toFixed(1).padStart(5)} s  ${brief}`);
    }

    const allRounds = harness.allRounds;
    const used = harness.usable(allRounds);
    const c1 = used.map((r) => r.extra[0]);
    const c2 = used.map((r) => r.extra[1]);
    const others = used.map((r) => r.other).filter((o): o is number => o !== null);
    const ceil1 = median(c1);
    const ceil2 = median(c2);
    for (const r of rows) {
      if (r.gflops === null) continue;
      r.fractionOfCeiling = r.gflops / (ceil1 * r.threads);
      const peer = rows.find((x) => x.impl === 'tfjs-wasm' && x.m === r.m && x.n === r.n && x.k === r.k);
      r.ratioVsTfjs = peer?.gflops ? r.gflops / peer.gflops : null;
    }
    const ceilRow = (threads: number, g: number[], gflops: number): Row => ({
      op: 'ceiling',
      m: null,
      n: null,
      k: null,
      impl: 'ceiling',
      threads,
      gflops,
      minGflops: Math.min(...g),
      maxGflops: Math.max(...g),
      runs: used.length,
      roundsDiscarded: allRounds.length - used.length,
      otherCpu: others.length ? median(others) : null,
      fractionOfCeiling: gflops / (threads * ceil1),
      status: 'ok',
    });
    const all = [ceilRow(1, c1, ceil1), ceilRow(2, c2, ceil2), ...rows];
    const discarded = allRounds.length - allRounds.filter(Harness.isClean).length;

    console.log('');
    printTable(all);
    console.log('');
    console.log(`ceiling: median of ${used.length} rounds spread over the run; "of ceiling" = GFLOP/s / (threads x 1-thread ceiling).`);
    console.log(`maxRelErr = max |c - ref| / sum_k |a·b| against a float64 reference; tolerance 2·k·2^-24.`);
    console.log(
      `rounds = rounds in the median (+ repeated because other processes used > ${OTHER_CPU_MAX} of a core); others = median cores used by other processes meanwhile` +
        (meter.available ? `; ${discarded} of ${allRounds.length} rounds were contended.` : ' (unknown here).'),
    );
    if (rows.some((r) => r.otherCpu != null && r.otherCpu > OTHER_CPU_MAX)) console.log('WARNING: rows marked "!" could not get enough quiet rounds; their 2-thread figures are not trustworthy.');
    console.log(`total ${((now() - started) / 1000).toFixed(1)} s`);

    if (opts.json) {
      const metadata = {
        ...machine('npm run bench:kernels --'),
        options: { quick, runs: RUNS, batchMs: BATCH_MS, warmMs: WARM_MS, shapes, plainJsMaxMacs: PLAIN_JS_MAX_MACS, otherCpuMax: OTHER_CPU_MAX },
        ceiling: {
          loop: `f32x4.mul + f32x4.add, ${CEIL_ACCS} independent accumulators, ${CEIL_UNROLL}x unrolled, no memory traffic`,
          flopsPerTrip: CEIL_FLOPS_PER_TRIP,
          gflops1Thread: ceil1,
          gflops2Threads: ceil2,
        },
        rounds: { total: allRounds.length, contended: discarded, checked: meter.available },
        udi: runtimes.map((rt) => rt.info),
        tfjs: tfjsMeta,
        notes,
        totalSeconds: (now() - started) / 1000,
      };
      writeFileSync(opts.json, JSON.stringify({ metadata, rows: all }, null, 2) + '\n');
      console.log(`wrote ${opts.json}`);
    }
  } finally {
    for (const rt of runtimes) rt.dispose();
    ceiling.dispose();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
