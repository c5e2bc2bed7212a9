/**
 * A worker pool for range-parallel kernels. Each worker instantiates its own copy of the compiled
 * module over the one shared memory, then waits for jobs. A job is one kernel call cut into chunks
 * (contiguous rows, columns, samples or elements: src/kernels/ops/base.ts makes them); the caller
 * publishes the job, then every thread, the caller included, claims chunks one at a time until none
 * is left (the caller from the front of the range, the workers from the back: see CLAIM), and the
 * caller joins (waits for the chunks that workers claimed).
 * Each output element is computed by exactly the same arithmetic whichever thread owns it, so
 * results do not depend on the thread count, on which thread ran which chunk, or on a worker that
 * never showed up: a worker that is asleep or descheduled (a loaded machine) does not hold the caller
 * back, the caller simply runs the chunks itself and waits only for chunks a worker has started.
 *
 * Synchronisation (one control word per 128-byte line, so no two threads write one cache line except
 * the words they share on purpose): GEN, the job number, on which idle workers wait; CLAIM, the job
 * number and the two ends of the unclaimed chunks in one word (claimed by compare-exchange, so a
 * worker that wakes late for an old job can never run a chunk of a newer one); DONE, chunks finished. Chunk
 * arguments are written before the job is published. Idle workers spin for a short budget, then sleep
 * in Atomics.wait; during a training stage (`keepAwake`) the budget is long (STAGE_SPIN_MS after the
 * last job, so a stage that never ends cannot burn a core for more than that) and workers stay hot
 * between kernel calls. The caller spins, then sleeps, while joining.
 *
 * Nothing here keeps the process alive: the host unrefs each worker once it is ready, the caller
 * waits synchronously (Atomics.wait, never Atomics.waitAsync) and no timer or interval is left
 * pending, so a script that forgets `rt.dispose()` exits (see src/runtime/env.ts).
 */
import type { Host } from './env.js';

/** Int32 words per control line (128 bytes: a cache line and its adjacent-line prefetch partner). */
const LINE = 32;
const GEN = 0 * LINE;
const CLAIM = 1 * LINE;
const DONE = 2 * LINE;
const CALLER_ASLEEP = 3 * LINE;
const SLEEPERS = 4 * LINE;
const STAGE = 5 * LINE;
/** Job header, written by the caller before publishing: kernel, argument count, scratch index, error, stop (the chunk count is CLAIM's back end). */
const HEAD = 6 * LINE;
const H_FN = HEAD,
  H_NARGS = HEAD + 1,
  H_SCRATCH_AT = HEAD + 2,
  H_ERROR = HEAD + 3,
  H_STOP = HEAD + 4;
/**
 * From here, a line per worker, apart from the hot words above and from each other: the first two
 * words are the microseconds it spent spinning for a job while running, and while descheduled
 * (mod 2^32).
 */
const SCHED = 7 * LINE;

/** Arguments of one chunk (a kernel has at most this many). */
export const CHUNK_ARGS = 16;
/** Chunks of one job at most. */
export const MAX_CHUNKS = 64;
/**
 * The CLAIM word: (job number mod 2^18) << 14 | front << 7 | back. Chunks [front, back) are
 * unclaimed: the caller claims from the front, workers from the back, so each thread keeps to its
 * end of every range (the caller the low rows or elements, the workers the high ones) and meets the
 * same data in cache from one kernel to the next. front = back = 0 while a job is being written.
 * Measured against one shared counter (chunks in claim order) on a 2-core AMD EPYC VM, 2 threads,
 * three alternating process pairs: the image MLP trainer step 0.585-0.589 ms against 0.613-0.617.
 */
const TAG_MASK = 0x3ffff;
const TAG_SHIFT = 14;
const FRONT = 1 << 7;
const END_MASK = 127;

/** How long an idle worker spins before it sleeps outside a stage (µs), and in one (ms after its last job). */
export const WORKER_SPIN_US = 300;
export const STAGE_SPIN_MS = 50;
/** How long the caller spins for workers before it sleeps (µs). */
const CALLER_SPIN_US = 2000;
/**
 * A pause longer than this (ms) between two looks at the clock of a spinning worker (about 1,024
 * loads apart, a few µs) means the worker was descheduled: another thread had its core. The
 * scheduler's time slices are longer (Linux: 0.75 ms and up).
 */
const DESCHEDULED_MS = 0.5;

/**
 * The worker's script: small functions (V8 optimises a function that never returns, udiWorker, only
 * by on-stack replacement; the spin and the claims are separate functions it calls), and udiCall
 * passes a chunk's arguments positionally from a Float64Array, as invoke does on the caller's side
 * (Function.prototype.apply on an array boxed every argument). A fresh 2-thread runtime takes a few
 * hundred steps to reach its speed (a 1-thread one about 100): `node --trace-opt` shows V8
 * optimising the split path's JavaScript over the first 300-400 steps, and this script's functions
 * around the 600th (not the WebAssembly tier-up: --no-wasm-dynamic-tiering changed nothing).
 * Measured on the image MLP trainer step, 4 alternating process pairs on a 2-core AMD EPYC VM: the
 * first 500 steps took 0.76-0.88 ms each against 0.87-0.95 with one loop calling `apply`, the later
 * ones the same (0.53-0.61 ms).
 */
const WORKER_BODY = `
function udiCall(fn, a, n) {
  switch (n) {
${Array.from({ length: CHUNK_ARGS + 1 }, (_, n) => `    case ${n}: fn(${Array.from({ length: n }, (_, i) => `a[${i}]`).join(', ')}); return;`).join('\n')}
  }
}
/**
 * Wait for a job number other than seen: spin (the next call usually comes within microseconds; in a
 * stage, within a step), then sleep. Each interval between two looks at the clock while spinning
 * is added to sched[0] (ms running), or to sched[1] when longer than DESCHEDULED_MS (descheduled):
 * the preemption meter (src/runtime/governor.ts). sched is null when the clock is too coarse.
 */
function udiNextJob(ctl, seen, last, sched) {
  let g = Atomics.load(ctl, ${GEN});
  let t = last;
  for (let i = 1; g === seen; i++) {
    g = Atomics.load(ctl, ${GEN});
    if ((i & 1023) === 0) {
      const now = performance.now();
      if (sched !== null) sched[now - t > ${DESCHEDULED_MS} ? 1 : 0] += now - t;
      t = now;
      if (now - last > (Atomics.load(ctl, ${STAGE}) !== 0 ? ${STAGE_SPIN_MS} : ${WORKER_SPIN_US / 1000})) {
        // Count this worker asleep before re-checking, so the caller either sees it and notifies,
        // or its new job number is seen here (sequentially consistent atomics).
        Atomics.add(ctl, ${SLEEPERS}, 1);
        g = Atomics.load(ctl, ${GEN});
        while (g === seen) { Atomics.wait(ctl, ${GEN}, seen); g = Atomics.load(ctl, ${GEN}); }
        Atomics.sub(ctl, ${SLEEPERS}, 1);
        t = performance.now(); // time asleep is not spinning
      }
    }
  }
  if (sched !== null) {
    const now = performance.now();
    sched[now - t > ${DESCHEDULED_MS} ? 1 : 0] += now - t;
  }
  return g;
}
/** The smallest step of performance.now() seen over a few of its steps (browsers may coarsen it), ms. */
function udiClockStep() {
  let step = Infinity, t = performance.now();
  for (let seen = 0, i = 0; seen < 5 && i < 1e7; i++) {
    const u = performance.now();
    if (u !== t) { step = Math.min(step, u - t); t = u; seen++; }
  }
  return step;
}
/** Claim chunks of job g from the back and run them until none is left. */
function udiRunJob(ctl, args, local, fns, w, g) {
  const tag = g & ${TAG_MASK};
  for (;;) {
    const v = Atomics.load(ctl, ${CLAIM});
    if ((v >>> ${TAG_SHIFT}) !== tag) return;
    const front = (v >>> 7) & ${END_MASK}, back = v & ${END_MASK};
    if (front >= back) return;
    const c = back - 1;
    // Read the chunk before claiming it: a successful exchange proves nothing was rewritten since.
    const f = ctl[${H_FN}], nargs = ctl[${H_NARGS}], sa = ctl[${H_SCRATCH_AT}];
    for (let i = 0; i < nargs; i++) local[i] = args[c * ${CHUNK_ARGS} + i];
    if (sa >= 0) local[sa] = args[${MAX_CHUNKS * CHUNK_ARGS} + w + 1];
    if (Atomics.compareExchange(ctl, ${CLAIM}, v, v - 1) !== v) continue;
    try {
      udiCall(fns[f], local, nargs);
    } catch (e) {
      Atomics.store(ctl, ${H_ERROR}, w + 1);
    }
    Atomics.add(ctl, ${DONE}, 1);
    if (Atomics.load(ctl, ${CALLER_ASLEEP}) !== 0) Atomics.notify(ctl, ${DONE});
  }
}
function udiWorker(msg, post) {
  let fns, ctl, args, w;
  try {
    const instance = new WebAssembly.Instance(msg.module, { env: { memory: msg.memory } });
    fns = msg.names.map((n) => instance.exports[n]);
    ctl = new Int32Array(msg.ctl);
    args = new Float64Array(msg.args);
    w = msg.slot;
  } catch (e) {
    post({ ok: false, error: String(e && e.message || e) });
    return;
  }
  // Time spinning: only with a clock fine enough to tell a pause of DESCHEDULED_MS from its own steps.
  const sched = udiClockStep() < ${DESCHEDULED_MS / 5} ? new Float64Array(2) : null;
  post({ ok: true, timed: sched !== null });
  const local = new Float64Array(${CHUNK_ARGS});
  const at = ${SCHED} + ${LINE} * w;
  let seen = Atomics.load(ctl, ${GEN});
  let last = performance.now();
  for (;;) {
    seen = udiNextJob(ctl, seen, last, sched);
    if (Atomics.load(ctl, ${H_STOP}) !== 0) return;
    udiRunJob(ctl, args, local, fns, w, seen);
    if (sched !== null) {
      // After the job, not before it; plain stores (no fence): the caller reads these words now and then, and an aligned word is never torn.
      ctl[at] = (sched[0] * 1000) | 0;
      ctl[at + 1] = (sched[1] * 1000) | 0;
    }
    last = performance.now();
  }
}
`;

import { WorkerError } from '../errors.js';
export { WorkerError };

export class WorkerPool {
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  private gen = 0;
  /** Chunks of the job being written (begin/add) or running (start..join); -1 when none. */
  private chunks = -1;
  /** Chunks the caller finished of the running job. */
  private ownDone = 0;
  /** A job posted with `post` (its chunks belong to workers; the caller runs its share outside the pool). */
  private legacy = false;
  private disposed = false;
  /** Whether every worker times its spinning (spinTimes; false where performance.now() is too coarse). */
  timed = false;
  private keepAwakeNow = false;

  private constructor(
    private readonly workers: { postMessage(m: unknown): void; terminate(): unknown }[],
    ctlBuf: SharedArrayBuffer,
    argBuf: SharedArrayBuffer,
    private readonly names: readonly string[],
    /** A worker that has not answered a call after this long (plus the call's expected time) is treated as dead. */
    private readonly timeoutMs: number,
  ) {
    this.ctl = new Int32Array(ctlBuf);
    this.args = new Float64Array(argBuf);
  }

  /** Start `count` workers over `memory` (which must be shared). */
  static async create(host: Host, count: number, module: WebAssembly.Module, memory: WebAssembly.Memory, names: readonly string[], timeoutMs = 10_000): Promise<WorkerPool> {
    const ctlBuf = new SharedArrayBuffer((SCHED + count * LINE) * 4);
    const argBuf = new SharedArrayBuffer((MAX_CHUNKS * CHUNK_ARGS + count + 1) * 8);
    const spawned = await Promise.all(Array.from({ length: count }, () => host.spawnWorker(WORKER_BODY)));
    spawned.forEach((s, slot) => s.worker.postMessage({ module, memory, ctl: ctlBuf, args: argBuf, slot, names }));
    const pool = new WorkerPool(
      spawned.map((s) => s.worker),
      ctlBuf,
      argBuf,
      names,
      timeoutMs,
    );
    try {
      const replies = (await Promise.all(spawned.map((s) => s.firstMessage))) as { ok: boolean; error?: string; timed?: boolean }[];
      const bad = replies.find((r) => !r.ok);
      pool.timed = replies.every((r) => r.timed === true);
      if (bad) throw new WorkerError(`a udi-wasm worker could not instantiate the module: ${bad.error}`);
    } catch (e) {
      pool.dispose();
      throw e instanceof WorkerError ? e : new WorkerError(`a udi-wasm worker failed to start: ${(e as Error).message}`);
    }
    return pool;
  }

  /** Number of worker threads (the calling thread is not counted). */
  get size(): number {
    return this.workers.length;
  }

  /** False once the pool was stopped (disposed, or a worker stopped answering). */
  get alive(): boolean {
    return !this.disposed;
  }

  /**
   * Keep idle workers spinning (up to STAGE_SPIN_MS after their last job) rather than sleeping after
   * WORKER_SPIN_US: for the duration of a training stage, where kernel calls come every few µs.
   */
  set keepAwake(on: boolean) {
    if (this.disposed || on === this.keepAwakeNow) return;
    this.keepAwakeNow = on;
    Atomics.store(this.ctl, STAGE, on ? 1 : 0);
  }
  get keepAwake(): boolean {
    return this.keepAwakeNow;
  }

  /**
   * What the workers' spinning saw so far, summed over workers, in µs mod 2^32: time running, and
   * time descheduled (pauses longer than DESCHEDULED_MS). Written by each worker after each job;
   * always 0 where performance.now() is too coarse to tell such a pause (steps of 0.1 ms or more).
   */
  spinTimes(): { runUs: number; lostUs: number } {
    let run = 0,
      lost = 0;
    for (let w = 0; w < this.workers.length; w++) {
      run = (run + Atomics.load(this.ctl, SCHED + LINE * w)) | 0;
      lost = (lost + Atomics.load(this.ctl, SCHED + LINE * w + 1)) | 0;
    }
    return { runUs: run >>> 0, lostUs: lost >>> 0 };
  }

  /** Workers asleep in Atomics.wait now (a hint: it changes under the caller's feet). */
  get sleeping(): number {
    return Atomics.load(this.ctl, SLEEPERS);
  }

  // ---- jobs: begin, add chunks, start, claim/complete, join -------------------------------------

  /**
   * Begin a job of kernel `fnIndex`; `scratch` holds each thread's matmul scratch offset (index 0 is
   * the caller), put at argument `scratchAt` of every chunk a thread runs (-1: none).
   */
  begin(fnIndex: number, scratchAt: number, scratch: readonly { ptr: number }[] | null): void {
    if (this.disposed) throw new WorkerError('the worker pool was disposed');
    if (this.chunks >= 0) throw new Error(`WorkerPool.begin: the job of ${this.names[this.ctl[H_FN]]} was not joined`);
    // Close the claim word first: a worker late for the previous job sees a job number that is not its own.
    this.gen = (this.gen + 1) | 0;
    Atomics.store(this.ctl, CLAIM, this.tag());
    this.ctl[H_FN] = fnIndex;
    this.ctl[H_SCRATCH_AT] = scratchAt;
    this.ctl[H_NARGS] = 0;
    this.ctl[H_ERROR] = 0;
    if (scratchAt >= 0) for (let t = 1; t <= this.workers.length; t++) this.args[MAX_CHUNKS * CHUNK_ARGS + t] = scratch![t].ptr;
    Atomics.store(this.ctl, DONE, 0);
    this.chunks = 0;
    this.ownDone = 0;
    this.legacy = false;
  }

  /** Add the next chunk: the kernel's whole argument list for it (the scratch argument is filled per thread). */
  add(argv: readonly number[]): void {
    const c = this.chunks;
    if (c >= MAX_CHUNKS) throw new RangeError(`WorkerPool.add: at most ${MAX_CHUNKS} chunks per job`);
    if (argv.length > CHUNK_ARGS) throw new RangeError(`WorkerPool.add: ${this.names[this.ctl[H_FN]]} has ${argv.length} arguments, at most ${CHUNK_ARGS} fit a chunk`);
    const a = c * CHUNK_ARGS;
    for (let i = 0; i < argv.length; i++) this.args[a + i] = argv[i];
    this.ctl[H_NARGS] = argv.length;
    this.chunks = c + 1;
  }

  /** Publish the job: workers start claiming its chunks. */
  start(): void {
    Atomics.store(this.ctl, CLAIM, this.tag() | this.chunks);
    Atomics.store(this.ctl, GEN, this.gen);
    if (Atomics.load(this.ctl, SLEEPERS) !== 0) Atomics.notify(this.ctl, GEN);
  }

  /** The CLAIM word of the current job with no chunk open. */
  private tag(): number {
    return (this.gen & TAG_MASK) << TAG_SHIFT;
  }

  /** Claim the next chunk for the calling thread (from the front): its index, or -1 when every chunk is taken. */
  claim(): number {
    for (;;) {
      const v = Atomics.load(this.ctl, CLAIM);
      const front = (v >>> 7) & END_MASK;
      if (front >= (v & END_MASK)) return -1;
      if (Atomics.compareExchange(this.ctl, CLAIM, v, v + FRONT) === v) return front;
    }
  }

  /** The calling thread finished a chunk it claimed. */
  complete(): void {
    this.ownDone++;
  }

  /**
   * Start kernel `fnIndex` with arguments `argv` on a worker and return at once; the caller then
   * computes its own share and calls `join`. One such call may be outstanding (tests and tools; the
   * kernels use begin/add/start/claim).
   */
  post(w: number, fnIndex: number, argv: readonly number[]): void {
    if (w < 0 || w >= this.workers.length) throw new RangeError(`WorkerPool.post: no worker ${w}`);
    this.begin(fnIndex, -1, null);
    this.add(argv);
    this.legacy = true;
    this.start();
  }

  /**
   * Wait until every chunk of the job is done. `work` (the call's size in multiply-adds or element
   * operations) extends the dead-worker timeout by the time it would take at a pessimistic 0.05 G
   * operations/s; `callerError` (the caller's own share failed) is rethrown after the wait.
   */
  join(fnIndex: number, work = 0, callerError?: unknown): void {
    const want = this.chunks - this.ownDone;
    if (want < 0 || this.chunks < 0) throw new Error('WorkerPool.join: no job');
    if (!this.legacy) {
      // Chunks nobody claimed yet (workers asleep or descheduled): the caller has claimed all it could;
      // any left means the caller stopped early (an error), so close them as done by nobody.
      const v = Atomics.load(this.ctl, CLAIM);
      const left = (v & END_MASK) - ((v >>> 7) & END_MASK);
      if (left > 0) throw new Error('WorkerPool.join: chunks left unclaimed');
    }
    if (Atomics.load(this.ctl, DONE) !== want) this.wait(want, fnIndex, work);
    this.chunks = -1;
    const failed = this.ctl[H_ERROR];
    if (callerError !== undefined) throw callerError;
    if (failed > 0) throw new WorkerError(`kernel ${this.names[fnIndex]} failed (trapped) in worker ${failed}`);
  }

  /** Spin for a while, then sleep, until the workers' finished chunks reach `want`; stop the pool if they never do. */
  private wait(want: number, fnIndex: number, work: number): void {
    let spins = 0;
    const start = Date.now();
    const spinUntil = performance.now() + CALLER_SPIN_US / 1000;
    for (;;) {
      const done = Atomics.load(this.ctl, DONE);
      if (done === want) break;
      if ((++spins & 1023) !== 0 || performance.now() < spinUntil) continue;
      Atomics.store(this.ctl, CALLER_ASLEEP, 1);
      if (Atomics.load(this.ctl, DONE) === done) Atomics.wait(this.ctl, DONE, done, Math.min(1000, this.timeoutMs));
      Atomics.store(this.ctl, CALLER_ASLEEP, 0);
      const limit = this.timeoutMs + work / 5e4;
      if (Date.now() - start > limit) {
        this.chunks = -1;
        this.dispose();
        throw new WorkerError(`a udi-wasm worker did not finish ${this.names[fnIndex]} within ${(limit / 1000).toFixed(1)} s and the pool was stopped; the runtime goes on with the calling thread only (results are the same bits)`);
      }
    }
  }

  /** Stop every worker. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.ctl, STAGE, 0);
    Atomics.store(this.ctl, H_STOP, 1);
    Atomics.store(this.ctl, CLAIM, ((this.gen + 1) & TAG_MASK) << TAG_SHIFT);
    Atomics.store(this.ctl, GEN, (this.gen + 1) | 0);
    Atomics.notify(this.ctl, GEN);
    for (const worker of this.workers) worker.terminate();
  }
}
