/**
 * A worker pool for row-parallel kernels. Each worker instantiates its own copy of the compiled
 * module over the one shared memory, then waits on a control block. A call splits the output rows
 * [0, rows) into contiguous chunks; the calling thread computes the first chunk itself and workers
 * the others. Each row is computed by exactly the same arithmetic whichever thread owns it, so
 * results do not depend on the thread count.
 *
 * Synchronisation: a per-worker sequence number in a SharedArrayBuffer, spin briefly then
 * Atomics.wait. Workers never run more busy threads than requested.
 */
import { spawnWorker } from './env.js';

const SLOT_INTS = 8; // [0] seq  [1] done  [2] kernel index  [3] nargs  [4] status
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
          while (s === seen) { Atomics.wait(ctl, base, seen); s = Atomics.load(ctl, base); }
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
    Atomics.notify(ctl, base + 1);
  }
}
`;

export class WorkerError extends Error {
  readonly code = 'WORKER_FAILED';
}

export class WorkerPool {
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  private seq: number[];
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
  }

  /** Start `count` workers over `memory` (which must be shared). */
  static async create(count: number, module: WebAssembly.Module, memory: WebAssembly.Memory, names: readonly string[], timeoutMs = 10_000): Promise<WorkerPool> {
    const ctlBuf = new SharedArrayBuffer(Math.max(1, count) * SLOT_INTS * 4);
    const argBuf = new SharedArrayBuffer(Math.max(1, count) * SLOT_ARGS * 8);
    const spawned = await Promise.all(Array.from({ length: count }, () => spawnWorker(WORKER_BODY)));
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
   * Run kernel `fn` over rows [0, rows) on the calling thread plus workers. `argsFor(r0, r1, thread)`
   * returns the full argument list for one chunk (thread 0 is the caller). `chunk` rows per thread.
   * `expectedMs` (a generous estimate of the call's time) extends the dead-worker timeout.
   */
  run(fn: (...a: number[]) => unknown, fnIndex: number, rows: number, chunk: number, argsFor: (r0: number, r1: number, thread: number) => number[], expectedMs = 0): void {
    if (this.disposed) throw new WorkerError('the worker pool was disposed');
    const used: number[] = [];
    for (let t = 1; t <= this.workers.length; t++) {
      const r0 = t * chunk;
      if (r0 >= rows) break;
      const w = t - 1;
      const argv = argsFor(r0, Math.min(rows, r0 + chunk), t);
      const b = w * SLOT_INTS;
      this.args.set(argv, w * SLOT_ARGS);
      this.ctl[b + 2] = fnIndex;
      this.ctl[b + 3] = argv.length;
      this.seq[w] = (this.seq[w] + 1) | 0;
      Atomics.store(this.ctl, b, this.seq[w]);
      Atomics.notify(this.ctl, b);
      used.push(w);
    }
    let callerError: unknown;
    try {
      fn(...argsFor(0, Math.min(rows, chunk), 0));
    } catch (e) {
      callerError = e;
    }
    let failed = -1;
    for (const w of used) {
      const b = w * SLOT_INTS + 1;
      const want = this.seq[w];
      let spins = 0;
      const start = Date.now();
      const spinUntil = performance.now() + CALLER_SPIN_US / 1000;
      for (;;) {
        const done = Atomics.load(this.ctl, b);
        if (done === want) break;
        if ((++spins & 1023) !== 0 || performance.now() < spinUntil) continue;
        Atomics.wait(this.ctl, b, done, Math.min(1000, this.timeoutMs));
        const limit = this.timeoutMs + expectedMs;
        if (Date.now() - start > limit) {
          this.dispose();
          throw new WorkerError(`udi-wasm worker ${w + 1} did not finish ${this.names[fnIndex]} within ${(limit / 1000).toFixed(1)} s and was stopped; the runtime goes on with the calling thread only (results are the same bits)`);
        }
      }
      if (this.ctl[w * SLOT_INTS + 4] !== 0) failed = w;
    }
    if (callerError !== undefined) throw callerError;
    if (failed >= 0) throw new WorkerError(`kernel ${this.names[fnIndex]} failed (trapped) in worker ${failed + 1}`);
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
