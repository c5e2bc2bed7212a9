/**
 * The WebAssembly SIMD ceiling of this machine, measured in the same process as the benchmarks
 * (bench/kernels.ts, bench/e2e.ts) so their speeds can be quoted as fractions of it.
 *
 * An AssemblyScript loop (compiled in memory at start with the asc API; not part of the library
 * build) of independent f32x4.mul + f32x4.add on 12 accumulators (body unrolled 4x), no memory
 * traffic; validated bit-exactly against an f32 emulation before use. The same loop on the main
 * thread and a worker at once gives the 2-thread ceiling.
 */
import { Worker } from 'node:worker_threads';
import asc from 'assemblyscript/asc';

const now = () => performance.now();


// 12 independent accumulators, each a = a·m + c per step (one f32x4.mul and one f32x4.add,
// 8 flops); the chains are independent, so the loop is bound by SIMD throughput, not latency
// (measured here: mul+add latency ~5 cycles, 12 chains give ~5x the parallelism needed).
// The body is unrolled 4x: with one step per trip the loop counter and V8's loop stack check
// share the vector ALU ports and cost ~5% (measured: 40.6 vs 42.9 GFLOP/s; 8x unrolled: 40.6).
// With m slightly below 1 the values converge to c/(1-m) (no overflow, no denormals).
export const CEIL_ACCS = 12;
export const CEIL_UNROLL = 4;
const acc = Array.from({ length: CEIL_ACCS }, (_, i) => `a${i}`);
const CEILING_SOURCE = `
export function ceiling(trips: i32, m: f32, c: f32): f32 {
  const vm = f32x4.splat(m), vc = f32x4.splat(c);
  ${acc.map((a, i) => `let ${a} = f32x4.splat(${((i + 1) / 100).toFixed(2)});`).join('\n  ')}
  for (let i = 0; i < trips; i++) {
    ${Array.from({ length: CEIL_UNROLL }, () => acc.map((a) => `${a} = f32x4.add(f32x4.mul(${a}, vm), vc);`).join(' ')).join('\n    ')}
  }
  let s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  s = f32x4.add(s, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}
`;
export const CEIL_FLOPS_PER_TRIP = CEIL_UNROLL * CEIL_ACCS * 4 * 2;
const CEIL_M = 0.999999;
const CEIL_C = 1e-6;

/** What the ceiling loop returns, emulated in f32 with Math.fround (validates the compiled loop). */
function ceilingExpected(trips: number): number {
  const f = Math.fround;
  const m = f(CEIL_M),
    c = f(CEIL_C);
  const a = Array.from({ length: CEIL_ACCS }, (_, i) => f((i + 1) / 100));
  for (let t = 0; t < trips * CEIL_UNROLL; t++) for (let i = 0; i < CEIL_ACCS; i++) a[i] = f(f(a[i] * m) + c);
  const add = (x: number, y: number) => f(x + y);
  let s = add(add(add(a[0], a[1]), add(a[2], a[3])), add(add(a[4], a[5]), add(a[6], a[7])));
  s = add(s, add(add(a[8], a[9]), add(a[10], a[11])));
  return add(add(add(s, s), s), s); // all four lanes are equal
}

async function compileCeiling(): Promise<WebAssembly.Module> {
  const res = await asc.compileString({ 'ceiling.ts': CEILING_SOURCE }, { enable: ['simd'], runtime: 'stub', optimizeLevel: 3, shrinkLevel: 0, noAssert: true, use: ['abort='] });
  if (res.error || !res.binary) throw new Error(`could not compile the ceiling loop: ${res.error?.message}\n${res.stderr.toString()}`);
  return WebAssembly.compile(res.binary as Uint8Array<ArrayBuffer>);
}

const CEIL_WORKER_SRC = `
const { parentPort, workerData } = require('node:worker_threads');
const f = new WebAssembly.Instance(workerData.module, {}).exports.ceiling;
const ctl = new Int32Array(workerData.ctl); // [0] go sequence, [1] done sequence, [2] iterations (<0: stop)
let seen = 0;
parentPort.postMessage('ready');
for (;;) {
  Atomics.wait(ctl, 0, seen);
  seen = Atomics.load(ctl, 0);
  if (ctl[2] < 0) break;
  f(ctl[2], ${CEIL_M}, ${CEIL_C});
  Atomics.store(ctl, 1, seen);
  Atomics.notify(ctl, 1);
}
`;

export class Ceiling {
  private tripsPerBatch = 1;
  private warmMs = 150;
  private batchMs = 60;
  private worker: Worker | null = null;
  private ctl: Int32Array | null = null;
  private seq = 0;

  private constructor(
    readonly module: WebAssembly.Module,
    private readonly fn: (trips: number, m: number, c: number) => number,
  ) {}

  /** Compile, validate against the f32 emulation, start the worker for 2-thread samples, warm up. */
  static async create(warmMs: number, batchMs: number): Promise<Ceiling> {
    const module = await compileCeiling();
    const inst = await WebAssembly.instantiate(module, {});
    const c = new Ceiling(module, inst.exports.ceiling as (trips: number, m: number, c: number) => number);
    c.warmMs = warmMs;
    c.batchMs = batchMs;
    const got = c.fn(250, CEIL_M, CEIL_C);
    const want = ceilingExpected(250);
    if (got !== want) throw new Error(`ceiling loop validation failed: got ${got}, expected ${want}`);
    c.ctl = new Int32Array(new SharedArrayBuffer(16));
    c.worker = new Worker(CEIL_WORKER_SRC, { eval: true, workerData: { module, ctl: c.ctl.buffer } });
    c.worker.unref();
    await new Promise((resolve, reject) => {
      c.worker!.once('message', resolve);
      c.worker!.once('error', reject);
    });
    c.calibrate();
    return c;
  }

  /** Warm up (both threads) and size a batch to ~batchMs on one thread. */
  private calibrate(): void {
    const t0 = now();
    let trips = 25_000;
    while (now() - t0 < this.warmMs) this.fn(trips, CEIL_M, CEIL_C);
    for (;;) {
      const t = now();
      this.fn(trips, CEIL_M, CEIL_C);
      const dt = now() - t;
      if (dt > this.batchMs / 4) {
        this.tripsPerBatch = Math.max(1, Math.round((trips * this.batchMs) / dt));
        break;
      }
      trips *= 4;
    }
    for (let i = 0; i < 3; i++) this.sampleTwo(); // the worker's instance tiers up too
  }

  /** FLOPs of one `sample()` batch. */
  get flopsPerSample(): number {
    return this.tripsPerBatch * CEIL_FLOPS_PER_TRIP;
  }

  /** One timed batch on this thread: GFLOP/s. */
  sample(): number {
    const t = now();
    this.fn(this.tripsPerBatch, CEIL_M, CEIL_C);
    return (this.tripsPerBatch * CEIL_FLOPS_PER_TRIP) / ((now() - t) * 1e6);
  }

  /** One batch on this thread and one on the worker at once: total GFLOP/s over the wall time. */
  sampleTwo(): number {
    const ctl = this.ctl!;
    const trips = this.tripsPerBatch;
    const t = now();
    ctl[2] = trips;
    Atomics.store(ctl, 0, ++this.seq);
    Atomics.notify(ctl, 0);
    this.fn(trips, CEIL_M, CEIL_C);
    while (Atomics.load(ctl, 1) !== this.seq) Atomics.wait(ctl, 1, Atomics.load(ctl, 1), 1000);
    return (2 * trips * CEIL_FLOPS_PER_TRIP) / ((now() - t) * 1e6);
  }

  dispose(): void {
    if (this.worker && this.ctl) {
      this.ctl[2] = -1;
      Atomics.store(this.ctl, 0, ++this.seq);
      Atomics.notify(this.ctl, 0);
      void this.worker.terminate();
      this.worker = null;
    }
  }
}
