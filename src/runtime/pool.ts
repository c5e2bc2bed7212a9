/**
 * A worker pool for range-parallel kernels. Each worker instantiates its own copy of the compiled
 * module over the one shared memory, then waits on a control block. The caller (src/kernels/ops.ts)
 * splits a kernel's output rows, columns or elements into contiguous chunks, `post`s every chunk but
 * the first to a worker, computes the first itself and `join`s. Each output element is computed by
 * exactly the same arithmetic whichever thread owns it, so results do not depend on the thread count.
 *
 * Synchronisation: a per-worker sequence number in a SharedArrayBuffer; each side spins briefly,
 * then sleeps in Atomics.wait after raising a flag, and is notified only when that flag is up.
 * Workers never run more busy threads than requested.
 *
 * Nothing here keeps the process alive: the host unrefs each worker once it is ready, the caller
 * waits synchronously (Atomics.wait, never Atomics.waitAsync) and no timer or interval is left
 * pending, so a script that forgets `rt.dispose()` exits (see src/runtime/env.ts).
 */
import type { Host } from './env.js';

const SLOT_INTS = 8; // [0] seq  [1] done  [2] kernel index  [3] nargs  [4] status  [5] worker asleep  [6] caller asleep
const SLOT_ARGS = 16;
/** How long an idle worker spins before it sleeps, and how long the caller spins for a worker (µs). */
const WORKER_SPIN_US = 300;
const CALLER_SPIN_US = 2000;

const WORKER_BODY = `
function udiWorker(msg, post) {
  let fns, ctl, args, base, abase;
  try {
    const instance = new WebAssembly.Instance(msg.module, { env: { memory: msg.memory } });
    fns = msg.names.map((n) => instance.exports[n]);
    ctl = new Int32Array(msg.ctl);
    args = new Float64Array(msg.args);
    base = msg.slot * ${SLOT_INTS};
    abase = msg.slot * ${SLOT_ARGS};
  } catch (e) {
    post({ ok: false, error: String(e && e.message || e) });
    return;
  }
  post({ ok: true });
  const argv = [];
  let seen = 0;
  for (;;) {
    // Spin for a short time budget (the next call usually comes within microseconds), then sleep.
    let s = Atomics.load(ctl, base);
    if (s === seen) {
      const until = performance.now() + ${WORKER_SPIN_US / 1000};
      for (let i = 1; s === seen; i++) {
        s = Atomics.load(ctl, base);
        if ((i & 1023) === 0 && performance.now() > until) {
          // Announce the sleep before re-checking, so the caller either sees the flag and notifies,
          // or its new sequence number is seen here (sequentially consistent atomics).
          Atomics.store(ctl, base + 5, 1);
          s = Atomics.load(ctl, base);
          while (s === seen) { Atomics.wait(ctl, base, seen); s = Atomics.load(ctl, base); }
          Atomics.store(ctl, base + 5, 0);
        }
      }
    }
    seen = s;
    const f = ctl[base + 2];
    if (f < 0) return;
    const n = ctl[base + 3];
    argv.length = n;
    for (let i = 0; i < n; i++) argv[i] = args[abase + i];
    try {
      fns[f].apply(null, argv);
      ctl[base + 4] = 0;
    } catch (e) {
      ctl[base + 4] = 1;
    }
    Atomics.store(ctl, base + 1, seen);
    if (Atomics.load(ctl, base + 6) !== 0) Atomics.notify(ctl, base + 1);
  }
}
`;

import { WorkerError } from '../errors.js';
export { WorkerError };

export class WorkerPool {
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  private seq: number[];
  /** 1 for a worker with a posted call not yet joined. */
  private readonly pending: Uint8Array;
  private disposed = false;

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
    this.seq = workers.map(() => 0);
    this.pending = new Uint8Array(workers.length);
  }

  /** Start `count` workers over `memory` (which must be shared). */
  static async create(host: Host, count: number, module: WebAssembly.Module, memory: WebAssembly.Memory, names: readonly string[], timeoutMs = 10_000): Promise<WorkerPool> {
    const ctlBuf = new SharedArrayBuffer(Math.max(1, count) * SLOT_INTS * 4);
    const argBuf = new SharedArrayBuffer(Math.max(1, count) * SLOT_ARGS * 8);
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
      const replies = (await Promise.all(spawned.map((s) => s.firstMessage))) as { ok: boolean; error?: string }[];
      const bad = replies.find((r) => !r.ok);
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
   * Start kernel `fnIndex` with arguments `argv` on worker `w` (0-based) and return at once; the
   * caller then computes its own share and calls `join`. Allocates nothing.
   */
  post(w: number, fnIndex: number, argv: readonly number[]): void {
    if (this.disposed) throw new WorkerError('the worker pool was disposed');
    if (argv.length > SLOT_ARGS) throw new RangeError(`WorkerPool.post: ${this.names[fnIndex]} has ${argv.length} arguments, at most ${SLOT_ARGS} fit a slot`);
    const b = w * SLOT_INTS,
      a = w * SLOT_ARGS;
    for (let i = 0; i < argv.length; i++) this.args[a + i] = argv[i];
    this.ctl[b + 2] = fnIndex;
    this.ctl[b + 3] = argv.length;
    this.seq[w] = (this.seq[w] + 1) | 0;
    this.pending[w] = 1;
    Atomics.store(this.ctl, b, this.seq[w]);
    if (Atomics.load(this.ctl, b + 5) !== 0) Atomics.notify(this.ctl, b);
  }

  /**
   * Wait for every posted call. `work` (the call's size in multiply-adds or element operations)
   * extends the dead-worker timeout by the time it would take at a pessimistic 0.05 G operations/s;
   * `callerError` (the caller's own share failed) is rethrown after the wait.
   */
  join(fnIndex: number, work = 0, callerError?: unknown): void {
    let failed = -1;
    for (let w = 0; w < this.workers.length; w++) {
      if (this.pending[w] === 0) continue;
      this.pending[w] = 0;
      const b = w * SLOT_INTS;
      const want = this.seq[w];
      if (Atomics.load(this.ctl, b + 1) !== want) this.wait(w, want, fnIndex, work);
      if (this.ctl[b + 4] !== 0) failed = w;
    }
    if (callerError !== undefined) throw callerError;
    if (failed >= 0) throw new WorkerError(`kernel ${this.names[fnIndex]} failed (trapped) in worker ${failed + 1}`);
  }

  /** Spin for a while, then sleep, until worker w reports call `want` done; stop the pool if it never does. */
  private wait(w: number, want: number, fnIndex: number, work: number): void {
    const b = w * SLOT_INTS;
    let spins = 0;
    const start = Date.now();
    const spinUntil = performance.now() + CALLER_SPIN_US / 1000;
    for (;;) {
      const done = Atomics.load(this.ctl, b + 1);
      if (done === want) break;
      if ((++spins & 1023) !== 0 || performance.now() < spinUntil) continue;
      Atomics.store(this.ctl, b + 6, 1);
      if (Atomics.load(this.ctl, b + 1) === done) Atomics.wait(this.ctl, b + 1, done, Math.min(1000, this.timeoutMs));
      Atomics.store(this.ctl, b + 6, 0);
      const limit = this.timeoutMs + work / 5e4;
      if (Date.now() - start > limit) {
        this.dispose();
        throw new WorkerError(`udi-wasm worker ${w + 1} did not finish ${this.names[fnIndex]} within ${(limit / 1000).toFixed(1)} s and was stopped; the runtime goes on with the calling thread only (results are the same bits)`);
      }
    }
  }

  /** Stop every worker. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.workers.forEach((worker, w) => {
      const b = w * SLOT_INTS;
      this.ctl[b + 2] = -1;
      Atomics.store(this.ctl, b, (this.seq[w] + 1) | 0);
      Atomics.notify(this.ctl, b);
      worker.terminate();
    });
  }
}
