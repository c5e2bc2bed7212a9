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
import { CALLER_ASLEEP, CALLER_SPIN_US, CHUNK_ARGS, CLAIM, DONE, END_MASK, FRONT, GEN, H_ERROR, H_FN, H_NARGS, H_SCRATCH_AT, H_STOP, LINE, MAX_CHUNKS, SCHED, SLEEPERS, STAGE, TAG_MASK, TAG_SHIFT, WORKER_BODY } from './pool-worker.js';
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

  /** Publish the job: workers start claiming its chunks. Whether it had to wake sleeping workers (a futex call). */
  start(): boolean {
    Atomics.store(this.ctl, CLAIM, this.tag() | this.chunks);
    Atomics.store(this.ctl, GEN, this.gen);
    if (Atomics.load(this.ctl, SLEEPERS) === 0) return false;
    Atomics.notify(this.ctl, GEN);
    return true;
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
    let start = 0; // when the caller first slept (the dead-worker timeout counts from there)
    const spinUntil = performance.now() + CALLER_SPIN_US / 1000;
    for (;;) {
      const done = Atomics.load(this.ctl, DONE);
      if (done === want) break;
      if ((++spins & 1023) !== 0 || performance.now() < spinUntil) continue;
      if (start === 0) start = Date.now();
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
