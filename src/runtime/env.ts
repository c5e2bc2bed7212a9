/**
 * Everything that depends on the JavaScript runtime lives here: which runtime this is, how many
 * cores it reports, how a `file:` URL is read, and how a worker is started. The rest of the library
 * never asks which runtime it is in.
 */

export type RuntimeKind = 'node' | 'deno' | 'browser' | 'worker' | 'unknown';

interface MinimalWorker {
  postMessage(message: unknown): void;
  terminate(): void | Promise<number>;
}

export interface SpawnedWorker {
  worker: MinimalWorker;
  /** Resolves with the worker's first message; rejects if the worker fails before sending one. */
  firstMessage: Promise<unknown>;
}

const g = globalThis as Record<string, any>;

export function runtimeKind(): RuntimeKind {
  if (g.Deno !== undefined) return 'deno';
  if (g.process?.versions?.node !== undefined) return 'node';
  if (g.document !== undefined && g.window !== undefined) return 'browser';
  if (typeof g.importScripts === 'function' || g.WorkerGlobalScope !== undefined) return 'worker';
  return 'unknown';
}

/** Cores reported by the runtime. */
export async function hardwareThreads(): Promise<number> {
  if (runtimeKind() === 'node') {
    const os = await import('node:os');
    return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  }
  return Math.max(1, Number(g.navigator?.hardwareConcurrency) || 1);
}

/**
 * Whether this thread may block in Atomics.wait and share memory with workers. Browsers forbid
 * blocking on the main thread and posting shared memory unless the page is cross-origin isolated.
 */
export function threadSupport(): { ok: boolean; crossOriginIsolated: boolean | null; reason?: string } {
  const coi = typeof g.crossOriginIsolated === 'boolean' ? (g.crossOriginIsolated as boolean) : null;
  // Isolation first: browsers hide SharedArrayBuffer on pages that are not isolated, and the fix is the headers.
  if (coi === false) return { ok: false, crossOriginIsolated: coi, reason: 'the page is not cross-origin isolated (send COOP: same-origin and COEP: require-corp)' };
  if (typeof SharedArrayBuffer === 'undefined') return { ok: false, crossOriginIsolated: coi, reason: 'SharedArrayBuffer is not available' };
  const kind = runtimeKind();
  if (kind === 'browser') return { ok: false, crossOriginIsolated: coi, reason: 'the browser main thread may not block; run udi-wasm in a dedicated Worker' };
  if (kind !== 'node' && typeof g.Worker !== 'function') return { ok: false, crossOriginIsolated: coi, reason: 'this runtime has no Worker' };
  return { ok: true, crossOriginIsolated: coi };
}

/** Read a `file:` URL (Node, Deno with --allow-read). */
export async function readFileUrl(url: URL): Promise<Uint8Array> {
  if (g.Deno !== undefined && typeof g.Deno.readFile === 'function') return g.Deno.readFile(url);
  const fs = await import('node:fs/promises');
  return new Uint8Array(await fs.readFile(url));
}

/**
 * Start a worker running `body`, a script that defines `function udiWorker(message, post)`.
 * The first message posted to the worker is passed to udiWorker.
 */
export async function spawnWorker(body: string): Promise<SpawnedWorker> {
  if (runtimeKind() === 'node') {
    const { Worker } = await import('node:worker_threads');
    const src = `${body}\nconst { parentPort } = require('node:worker_threads');\nparentPort.once('message', (m) => udiWorker(m, (x) => parentPort.postMessage(x)));\n`;
    const worker = new Worker(src, { eval: true });
    worker.unref(); // an idle pool never keeps the process alive
    const firstMessage = new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker exited with code ${code} before it was ready`)));
    });
    return { worker, firstMessage };
  }
  const src = `${body}\nself.onmessage = (e) => { self.onmessage = null; udiWorker(e.data, (x) => self.postMessage(x)); };\n`;
  const url = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
  const worker = new g.Worker(url, { type: 'module' });
  const firstMessage = new Promise<unknown>((resolve, reject) => {
    worker.onmessage = (e: { data: unknown }) => resolve(e.data);
    worker.onerror = (e: { message?: string }) => reject(new Error(`worker failed to start: ${e.message ?? 'unknown error'}`));
  });
  firstMessage.finally(() => URL.revokeObjectURL(url)).catch(() => {});
  return { worker, firstMessage };
}
