/**
 * startRuntime: pick the best build the host runs, compile and instantiate it over one memory,
 * start the worker pool, and report what was chosen (runtime.info). Each entry of the package binds
 * it to its host as `createRuntime` (src/runtime/node.ts for Node and Deno, src/web.ts for browsers,
 * Web Workers and edge runtimes), so this file imports no runtime-specific module.
 */
import { Kernels } from '../kernels/ops.js';
import { KERNEL_NAMES, type RawKernels } from '../kernels/spec.js';
import { Arena } from './arena.js';
import { type Host, runtimeKind, threadSupport, type RuntimeKind, type YieldKind, yieldKind } from './env.js';
import { type Build, compileModule, hostHasSimd, type WasmSource } from './loader.js';
import { type GovernorStats, preemptionMeter, ThreadGovernor } from './governor.js';
import { WorkerPool } from './pool.js';
import { UdiError } from '../errors.js';

export interface RuntimeOptions {
  /**
   * Threads to compute with, counting the calling thread. 'auto' (default): every core the runtime
   * reports (os.availableParallelism() in Node and Deno: a server or a command line owns the machine),
   * except in a browser's Web Worker, where it is navigator.hardwareConcurrency − 1 from 3 cores up,
   * so the page's main thread keeps a core for rendering and input (2 of 2 cores: the governor falls
   * back to 1 thread while the page is busy). A browser page's main thread and edge runtimes run 1
   * thread. Whether threads pay is decided while training: see `adaptiveThreads`.
   */
  threads?: number | 'auto';
  /**
   * true (default): measure at start what splitting a kernel call costs here and split only calls
   * big enough to gain; and while training, compare each window of split calls with its
   * single-thread estimate and fall back to the calling thread when threads do not pay (other
   * processes busy on the cores), probing again later with a growing backoff; and hold splitting
   * off while other processes leave fewer spare cores than this runtime has threads (read from
   * /proc/stat in Node on Linux, from the workers' own scheduling elsewhere: info.loadMeter). false: split every
   * call above fixed sizes, always (reproducible call patterns for tests and fixed benchmarks).
   * Either way the results are the same bits.
   */
  adaptiveThreads?: boolean;
  /** Which build to run; 'auto' (default) = simd-threads when threads > 1, else simd, else scalar. */
  build?: Build | 'auto';
  /**
   * Where the .wasm comes from, for bundlers and edge runtimes that cannot read it themselves:
   * one source for the chosen build, or one per build.
   */
  wasm?: WasmSource | Partial<Record<Build, WasmSource>>;
  /** Upper bound on WebAssembly memory, in MiB (default 1024, at most 4096). */
  memoryLimitMiB?: number;
  /** A worker that does not answer a kernel call within this many ms (plus the call's expected time) is stopped (default 10000). */
  workerTimeoutMs?: number;
}

export interface RuntimeInfo {
  /** The build that runs. */
  build: Build;
  /** Threads computing (the calling thread plus workers). */
  threads: number;
  /** What was asked for. */
  requestedThreads: number | 'auto';
  /** Cores the runtime reports. */
  hardwareThreads: number;
  /** JavaScript runtime detected: 'node', 'deno', 'workerd', 'browser' (a page's main thread), 'worker' (a Web Worker) or 'unknown'. */
  runtime: RuntimeKind;
  simd: boolean;
  /** `crossOriginIsolated` of the page, or null outside browsers. */
  crossOriginIsolated: boolean | null;
  /** Why fewer threads than requested run, if so. */
  threadsNote?: string;
  /** Whether the governor adapts (RuntimeOptions.adaptiveThreads), and what the start measured. */
  adaptiveThreads: boolean;
  /**
   * How the governor tells that other processes keep the cores busy (it then holds splitting off):
   * 'machine', the host's reading of the machine's busy time (Node on Linux, /proc/stat); 'workers',
   * the time the worker threads lose descheduled while they wait for work (every other host); null
   * with one thread, adaptiveThreads: false, or a performance.now() too coarse for the workers' meter
   * (steps of 0.1 ms or more: the per-call governor alone decides then).
   */
  loadMeter: 'machine' | 'workers' | null;
  /** How a training stage lets the event loop run (every 50 ms): the cheapest way the host has (src/runtime/env.ts, pickYield). */
  eventLoopYield: YieldKind;
  /** With threads > 1: the measured cost of one split call with awake workers (µs) and the single-thread speeds used for the thresholds. */
  calibration?: { splitOverheadUs: number; nsPerMac: number; nsPerElement: number };
  memoryLimitMiB: number;
}

/**
 * The threads of a runtime, for the trainer: `beginStage()` before a training stage keeps the
 * workers awake between kernel calls (they spin instead of sleeping in Atomics.wait, whose wake-up
 * costs tens of µs to ms per call), `endStage()` after it lets them sleep. A stage that is never
 * ended costs at most STAGE_SPIN_MS of spinning after the last kernel call. During a fallback of the
 * governor (threads not paying) the workers sleep even inside a stage.
 */
export class Threads {
  private inStage = 0;
  constructor(
    private readonly pool: WorkerPool | null,
    readonly governor: ThreadGovernor,
  ) {
    governor.onChange = () => this.update();
  }

  /** Threads computing now (the pool's workers plus the caller; 1 once a failed pool was stopped). */
  get count(): number {
    return this.pool?.alive ? this.pool.size + 1 : 1;
  }

  /** A training stage begins (nestable): keep the workers awake until the matching endStage. */
  beginStage(): void {
    this.inStage++;
    this.update();
  }

  /** The stage ended: the workers may sleep again. */
  endStage(): void {
    if (this.inStage > 0) this.inStage--;
    this.update();
  }

  /** What the governor decided so far (mode, split and serial calls, fallbacks, thresholds). */
  get stats(): Readonly<GovernorStats> & { threads: number; inStage: boolean } {
    return { ...this.governor.stats, threads: this.count, inStage: this.inStage > 0 };
  }

  private update(): void {
    if (this.pool?.alive) this.pool.keepAwake = this.inStage > 0 && this.governor.stats.mode === 'parallel';
  }
}

export class Runtime {
  private disposed = false;
  /** The worker threads' controls for a trainer (beginStage/endStage) and what they did (stats). */
  readonly threads: Threads;
  constructor(
    readonly info: Readonly<RuntimeInfo>,
    readonly memory: WebAssembly.Memory,
    readonly arena: Arena,
    readonly kernels: Kernels,
    private readonly pool: WorkerPool | null,
  ) {
    this.threads = new Threads(pool, kernels.governor);
  }

  /** Stop the worker threads. The runtime must not be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pool?.dispose();
  }
}

/**
 * The default thread count: every core in Node, Deno and other servers; in a browser's Web Worker one
 * fewer than the cores from 3 cores up (the page's main thread keeps a core for rendering and input),
 * both of 2 (leaving one would mean no threads at all; a busy page then makes split calls stop paying
 * and the governor falls back to the calling thread).
 */
export function defaultThreads(kind: RuntimeKind, hardwareThreads: number): number {
  const hw = Math.max(1, hardwareThreads);
  if (kind === 'worker' || kind === 'browser') return hw <= 2 ? hw : hw - 1;
  return hw;
}

/** Median of a few timings of `f` (ms), after one warm-up call. */
function timeMedian(clock: () => number, trials: number, f: () => void): number {
  f();
  const t: number[] = [];
  for (let i = 0; i < trials; i++) {
    const t0 = clock();
    f();
    t.push(clock() - t0);
  }
  t.sort((a, b) => a - b);
  return t[trials >> 1];
}

/**
 * Measure what a split costs here and how fast one thread computes, and set the governor's size
 * thresholds: split a call when the time it saves on paper, (1 − 1/threads) of its single-thread
 * time, is at least SPLIT_PAYBACK times the cost of a split with awake workers. Takes a few ms.
 */
function calibrate(raw: RawKernels, arena: Arena, pool: WorkerPool, governor: ThreadGovernor, scratch: { ptr: number }[], fill: number) {
  const SPLIT_PAYBACK = 3;
  const clock = () => governor.now();
  const mark = arena.mark();
  try {
    const m = 64,
      k = 128,
      n = 64,
      e = 1 << 16;
    const a = arena.f32(m * k),
      b = arena.f32(k * n),
      c = arena.f32(m * n),
      x = arena.f32(e),
      y = arena.f32(e);
    raw.fill(a.ptr, m * k, 0.5);
    raw.fill(b.ptr, k * n, 0.25);
    raw.fill(x.ptr, e, 1);
    raw.fill(y.ptr, e, 1);
    const nsPerMac = (timeMedian(clock, 5, () => raw.matmul_nn(c.ptr, a.ptr, b.ptr, 0, m, n, k, 0, scratch[0].ptr, 0, m, 0, n)) * 1e6) / (m * n * k);
    const nsPerElement = (timeMedian(clock, 5, () => raw.axpy(y.ptr, x.ptr, e, 0.5)) * 1e6) / e;
    pool.keepAwake = true;
    const args = [x.ptr, 0, 0];
    const overheadMs = timeMedian(clock, 31, () => {
      pool.begin(fill, -1, null);
      for (let t = 0; t <= pool.size; t++) pool.add(args);
      pool.start();
      for (let i = pool.claim(); i >= 0; i = pool.claim()) pool.complete();
      pool.join(fill);
    });
    pool.keepAwake = false;
    const gain = 1 - 1 / (pool.size + 1);
    const clamp = (v: number, lo: number, hi: number) => Math.round(Math.min(hi, Math.max(lo, v)));
    if (nsPerMac > 0 && nsPerElement > 0) {
      governor.minMacs = clamp((SPLIT_PAYBACK * overheadMs * 1e6) / (nsPerMac * gain), 1 << 14, 1 << 20);
      governor.minElements = clamp((SPLIT_PAYBACK * overheadMs * 1e6) / (nsPerElement * gain), 1 << 13, 1 << 19);
    }
    return { splitOverheadUs: overheadMs * 1000, nsPerMac, nsPerElement };
  } finally {
    arena.release(mark);
  }
}

function pickSource(wasm: RuntimeOptions['wasm'], build: Build): WasmSource | undefined {
  if (wasm === undefined) return undefined;
  if (typeof wasm === 'object' && !(wasm instanceof WebAssembly.Module) && !(wasm instanceof URL) && !(wasm instanceof ArrayBuffer) && !ArrayBuffer.isView(wasm) && !(typeof Response !== 'undefined' && wasm instanceof Response)) {
    return (wasm as Partial<Record<Build, WasmSource>>)[build];
  }
  return wasm as WasmSource;
}

function checkExports(instance: WebAssembly.Instance, build: Build): RawKernels {
  const ex = instance.exports as Record<string, unknown>;
  const missing = KERNEL_NAMES.filter((n) => typeof ex[n] !== 'function');
  if (missing.length > 0) throw new UdiError('WASM_LOAD', `the udi-wasm ${build} module lacks the kernels ${missing.join(', ')}: it was built from other sources than this library`);
  return ex as unknown as RawKernels;
}

/** createRuntime on `host` (the package's entries bind the host; see the file's header). */
export async function startRuntime(host: Host, options: RuntimeOptions = {}): Promise<Runtime> {
  const requested = options.threads ?? 'auto';
  if (requested !== 'auto' && !(Number.isInteger(requested) && requested >= 1 && requested <= 256)) {
    throw new UdiError('BAD_OPTIONS', `createRuntime: threads must be 'auto' or a whole number from 1 to 256, got ${String(requested)}`);
  }
  const limitMiB = options.memoryLimitMiB ?? 1024;
  if (!(Number.isInteger(limitMiB) && limitMiB >= 1 && limitMiB <= 4096)) throw new UdiError('BAD_OPTIONS', `createRuntime: memoryLimitMiB must be a whole number from 1 to 4096, got ${limitMiB}`);
  const hw = await host.hardwareThreads();
  const simd = hostHasSimd();
  const support = threadSupport(host);
  const kind = runtimeKind();
  let threads = requested === 'auto' ? defaultThreads(kind, hw) : requested;
  let threadsNote: string | undefined;
  if (threads > 1 && !support.ok) {
    threadsNote = `running 1 thread: ${support.reason}`;
    threads = 1;
  }
  let build: Build = options.build && options.build !== 'auto' ? options.build : threads > 1 ? 'simd-threads' : simd ? 'simd' : 'scalar';
  if (build === 'simd-threads' && !support.ok) throw new UdiError('RUNTIME_UNSUPPORTED', `createRuntime: the simd-threads build cannot run here: ${support.reason}`);
  if (build !== 'scalar' && !simd) throw new UdiError('RUNTIME_UNSUPPORTED', `createRuntime: this host does not support WebAssembly SIMD; use build: 'scalar'`);
  if (build !== 'simd-threads' && threads > 1) {
    threadsNote = `running 1 thread: the ${build} build has no threads`;
    threads = 1;
  }

  const module = await compileModule(host, build, pickSource(options.wasm, build));
  const maxPages = Math.min(65536, limitMiB * 16);
  const memory = new WebAssembly.Memory(build === 'simd-threads' ? { initial: 17, maximum: maxPages, shared: true } : { initial: 17, maximum: maxPages });
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(module, { env: { memory } });
  } catch (e) {
    throw new UdiError('WASM_LOAD', `createRuntime: could not instantiate the ${build} build (${(e as Error).message}); is the wasm source the ${build} build?`);
  }
  const raw = checkExports(instance, build);
  const arena = new Arena(memory, limitMiB * 2 ** 20);
  const pool = threads > 1 ? await WorkerPool.create(host, threads - 1, module, memory, KERNEL_NAMES, options.workerTimeoutMs ?? 10_000) : null;
  const scratchFloats = raw.matmul_scratch_floats() as number;
  const scratch = Array.from({ length: threads }, () => arena.f32(scratchFloats));
  const adaptive = options.adaptiveThreads ?? true;
  // How busy the machine is: the host's reading where it has one (Node on Linux), else what the workers see of their own scheduling.
  const machine = pool && adaptive ? host.loadMeter?.() : undefined;
  const load = pool && adaptive ? (machine ?? (pool.timed ? preemptionMeter(() => pool.spinTimes(), threads) : undefined)) : undefined;
  const governor = new ThreadGovernor({ adaptive, threads, load });
  const kernels = new Kernels(raw, arena, pool, scratch, governor);
  const info: RuntimeInfo = { build, threads, requestedThreads: requested, hardwareThreads: hw, runtime: kind, simd, crossOriginIsolated: support.crossOriginIsolated, memoryLimitMiB: limitMiB, adaptiveThreads: adaptive, loadMeter: !load ? null : machine ? 'machine' : 'workers', eventLoopYield: yieldKind() };
  if (threadsNote) info.threadsNote = threadsNote;
  if (pool && adaptive) info.calibration = calibrate(raw, arena, pool, governor, scratch, KERNEL_NAMES.indexOf('fill'));
  return new Runtime(Object.freeze(info), memory, arena, kernels, pool);
}
