/**
 * Everything that depends on the JavaScript runtime lives here and in ./node.ts: which runtime this
 * is (the only place that asks), and the `Host` through which createRuntime counts cores, reads a
 * `file:` URL and starts workers. This file imports nothing: it is what browsers, Web Workers and
 * edge runtimes (workerd) load. ./node.ts holds the Node host (node:os, node:fs, node:worker_threads),
 * which only the Node/Deno entry (src/index.ts) imports, so a browser bundle sees no `node:*` module.
 *
 * Exit rule: a worker never keeps its process alive once it has started. The Node host unrefs its
 * worker_threads (Node and Deno); the web host calls `worker.unref()` where the runtime has it. The
 * caller waits for workers synchronously (Atomics.wait), and nothing in the runtime leaves a timer,
 * an interval, a message port or an Atomics.waitAsync pending, so a script that forgets
 * `rt.dispose()` still exits.
 */

export type RuntimeKind = 'node' | 'deno' | 'workerd' | 'browser' | 'worker' | 'unknown';

interface MinimalWorker {
  postMessage(message: unknown): void;
  terminate(): void | Promise<number>;
}

export interface SpawnedWorker {
  worker: MinimalWorker;
  /** Resolves with the worker's first message; rejects if the worker fails before sending one. */
  firstMessage: Promise<unknown>;
}

/** What createRuntime needs from the runtime it runs in. */
export interface Host {
  /** Cores the runtime reports. */
  hardwareThreads(): Promise<number>;
  /** Whether this host can start workers at all. */
  hasWorkers(): boolean;
  /** Read a `file:` URL (Node; Deno with --allow-read). */
  readFile(url: URL): Promise<Uint8Array>;
  /**
   * Start a worker running `body`, a script that defines `function udiWorker(message, post)`.
   * The first message posted to the worker is passed to udiWorker. Once the worker has sent its
   * first message it no longer keeps the process alive.
   */
  spawnWorker(body: string): Promise<SpawnedWorker>;
  /**
   * A meter of the machine's load, one per runtime: each call returns the cores that other
   * processes kept busy since its previous call, and the cores of the machine that figure counts;
   * null when unknown (the first call, or too soon after the previous one). The governor holds
   * splitting off while too few cores are spare. Absent where the host cannot tell (only Node on
   * Linux reads it, from /proc/stat): the runtime then uses the workers' own preemption meter
   * (preemptionMeter in ./governor.ts).
   */
  loadMeter?(): () => OtherLoad | null;
}

export interface OtherLoad {
  others: number;
  cores: number;
}

const g = globalThis as Record<string, any>;

/**
 * The JavaScript runtime this is. workerd (Cloudflare Workers) is asked before Node because its
 * Node compatibility mode defines `process`; Deno before Node for the same reason.
 */
export function runtimeKind(): RuntimeKind {
  if (g.Deno !== undefined) return 'deno';
  if (g.navigator?.userAgent === 'Cloudflare-Workers') return 'workerd';
  if (g.process?.versions?.node !== undefined) return 'node';
  if (g.document !== undefined && g.window !== undefined) return 'browser';
  if (typeof g.importScripts === 'function' || g.WorkerGlobalScope !== undefined) return 'worker';
  return 'unknown';
}

/**
 * Whether this thread may block in Atomics.wait and share memory with workers. Browsers forbid
 * blocking on the main thread and posting shared memory unless the page is cross-origin isolated.
 */
export function threadSupport(host: Host): { ok: boolean; crossOriginIsolated: boolean | null; reason?: string } {
  const coi = typeof g.crossOriginIsolated === 'boolean' ? (g.crossOriginIsolated as boolean) : null;
  // Isolation first: browsers hide SharedArrayBuffer on pages that are not isolated, and the fix is the headers.
  if (coi === false) return { ok: false, crossOriginIsolated: coi, reason: 'the page is not cross-origin isolated (send COOP: same-origin and COEP: require-corp)' };
  if (typeof SharedArrayBuffer === 'undefined') return { ok: false, crossOriginIsolated: coi, reason: 'SharedArrayBuffer is not available' };
  if (runtimeKind() === 'browser') return { ok: false, crossOriginIsolated: coi, reason: 'the browser main thread may not block; run udi-wasm in a dedicated Worker' };
  if (!host.hasWorkers()) return { ok: false, crossOriginIsolated: coi, reason: 'this runtime has no Worker' };
  return { ok: true, crossOriginIsolated: coi };
}

/**
 * Whether an error from reading a file means "permission denied": Deno without --allow-read
 * (NotCapable; PermissionDenied before Deno 2), or the file system (EACCES, EPERM).
 */
export function isPermissionError(e: unknown): boolean {
  const name = (e as Error)?.name;
  const code = (e as { code?: unknown })?.code;
  return name === 'NotCapable' || name === 'PermissionDenied' || code === 'EACCES' || code === 'EPERM';
}

/** Let `worker` stop keeping the process alive, where the runtime allows it. */
function unref(worker: unknown): void {
  (worker as { unref?: () => void }).unref?.();
}

/** How this host lets the event loop run from a long synchronous loop (yieldToEventLoop). */
export type YieldKind = 'setImmediate' | 'scheduler.yield' | 'MessageChannel' | 'setTimeout';

/**
 * The cheapest way `gl` has to let its event loop run once (abort signals, timers, worker messages;
 * on a page, input and rendering) and resume: the first of setImmediate (Node, Deno, Bun),
 * scheduler.yield() (Chromium; on a page it lets input and rendering run first), a MessageChannel
 * message (other browsers and workers), setTimeout(0) (workerd has none of the others; it does not
 * clamp timers). setTimeout(0) is the slowest elsewhere: Node clamps it
 * to 1 ms, and browsers to 4 ms once timers nest more than 5 deep, as a training loop's yields do
 * (each is set from the task the previous one resumed). Measured per yield on a 2-core AMD EPYC
 * VM: Node 20 setTimeout 1.15 ms, setImmediate 0.03 ms; in a Chromium 156 Web Worker setTimeout
 * 4.0 ms, scheduler.yield() 0.02 ms, MessageChannel 0.01 ms.
 */
export function pickYield(gl: Record<string, any>): { kind: YieldKind; yield: () => Promise<void> } {
  if (typeof gl.setImmediate === 'function') return { kind: 'setImmediate', yield: () => new Promise<void>((r) => gl.setImmediate(r)) };
  if (typeof gl.scheduler?.yield === 'function') return { kind: 'scheduler.yield', yield: () => gl.scheduler.yield() };
  if (typeof gl.MessageChannel === 'function') {
    // A channel per yield, closed once it delivered: a port with a listener would keep a process alive (the exit rule above).
    const viaChannel = () =>
      new Promise<void>((r) => {
        const ch = new gl.MessageChannel();
        ch.port1.onmessage = () => {
          ch.port1.close();
          r();
        };
        ch.port2.postMessage(0);
      });
    return { kind: 'MessageChannel', yield: viaChannel };
  }
  return { kind: 'setTimeout', yield: () => new Promise<void>((r) => setTimeout(r, 0)) };
}

let picked: ReturnType<typeof pickYield> | null = null;
/** Let the event loop run once, the cheapest way this host has (pickYield); training stages do it every 50 ms. */
export function yieldToEventLoop(): Promise<void> {
  return (picked ??= pickYield(g)).yield();
}
/** Which way yieldToEventLoop uses here. */
export function yieldKind(): YieldKind {
  return (picked ??= pickYield(g)).kind;
}

/**
 * The host of browsers, Web Workers, edge runtimes and any runtime with a global `Worker`:
 * `navigator.hardwareConcurrency`, Web Workers started from a Blob URL, `Deno.readFile` or `fetch`.
 */
export const webHost: Host = {
  async hardwareThreads() {
    return Math.max(1, Number(g.navigator?.hardwareConcurrency) || 1);
  },
  hasWorkers() {
    return typeof g.Worker === 'function';
  },
  async readFile(url) {
    if (typeof g.Deno?.readFile === 'function') return g.Deno.readFile(url);
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  },
  async spawnWorker(body) {
    const src = `${body}\nself.onmessage = (e) => { self.onmessage = null; udiWorker(e.data, (x) => self.postMessage(x)); };\n`;
    const url = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
    const worker = new g.Worker(url, { type: 'module' });
    const firstMessage = new Promise<unknown>((resolve, reject) => {
      worker.onmessage = (e: { data: unknown }) => resolve(e.data);
      worker.onerror = (e: { message?: string }) => reject(new Error(`worker failed to start: ${e.message ?? 'unknown error'}`));
    });
    firstMessage.then(() => unref(worker), () => {}).finally(() => URL.revokeObjectURL(url));
    return { worker, firstMessage };
  },
};
