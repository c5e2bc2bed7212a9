/**
 * startRuntime: pick the best build the host runs, compile and instantiate it over one memory,
 * start the worker pool, and report what was chosen (runtime.info). Each entry of the package binds
 * it to its host as `createRuntime` (src/runtime/node.ts for Node and Deno, src/web.ts for browsers,
 * Web Workers and edge runtimes), so this file imports no runtime-specific module.
 */
import { Kernels } from '../kernels/ops.js';
import { KERNEL_NAMES, type RawKernels } from '../kernels/spec.js';
import { Arena } from './arena.js';
import { type Host, runtimeKind, threadSupport, type RuntimeKind } from './env.js';
import { type Build, compileModule, hostHasSimd, type WasmSource } from './loader.js';
import { WorkerPool } from './pool.js';
import { UdiError } from '../errors.js';

export interface RuntimeOptions {
  /** Threads to compute with, counting the calling thread. 'auto' (default) = the cores reported. */
  threads?: number | 'auto';
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
  memoryLimitMiB: number;
}

export class Runtime {
  private disposed = false;
  constructor(
    readonly info: Readonly<RuntimeInfo>,
    readonly memory: WebAssembly.Memory,
    readonly arena: Arena,
    readonly kernels: Kernels,
    private readonly pool: WorkerPool | null,
  ) {}

  /** Stop the worker threads. The runtime must not be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pool?.dispose();
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
  let threads = requested === 'auto' ? hw : requested;
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
  const kernels = new Kernels(raw, arena, pool, scratch);
  const info: RuntimeInfo = { build, threads, requestedThreads: requested, hardwareThreads: hw, runtime: runtimeKind(), simd, crossOriginIsolated: support.crossOriginIsolated, memoryLimitMiB: limitMiB };
  if (threadsNote) info.threadsNote = threadsNote;
  return new Runtime(Object.freeze(info), memory, arena, kernels, pool);
}
