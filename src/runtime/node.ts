/**
 * The Node host (Node, and Deno through its `node:` modules): cores from node:os, `file:` URLs read
 * with node:fs, workers from node:worker_threads, unref'd once they have started so that an idle
 * pool never keeps the process alive (in Deno too, whose Web Workers cannot be unref'd). Only the
 * Node/Deno entry (src/index.ts) and Node-only modules import this file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import { type Host, type OtherLoad, runtimeKind, type SpawnedWorker } from './env.js';
import { startRuntime, type Runtime, type RuntimeOptions } from './runtime.js';

/** Busy time of the whole machine (ms: all but idle and iowait, in 10 ms ticks) and its cores, from /proc/stat; null if unreadable. */
function machineBusy(): { busyMs: number; cores: number } | null {
  try {
    const lines = readFileSync('/proc/stat', 'latin1').split('\n');
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
    const f = lines[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const cores = lines.filter((l) => /^cpu\d/.test(l)).length;
    if (f.length < 8 || f.some((v) => !Number.isFinite(v)) || cores < 1) return null;
    return { busyMs: 10 * (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]), cores };
  } catch {
    return null;
  }
}

/** Host.loadMeter for Node on Linux: the machine's busy time minus this process's own (all its threads) between calls. */
export function otherLoadMeter(minMs = 50): () => OtherLoad | null {
  let last: { t: number; busyMs: number; ownMs: number } | null = null;
  return () => {
    // /proc/stat counts in ticks of 10 ms: a reading needs a few of them on each core.
    if (last && performance.now() - last.t < minMs) return null;
    const m = machineBusy();
    if (!m) return null;
    const cpu = process.cpuUsage();
    const now = { t: performance.now(), busyMs: m.busyMs, ownMs: (cpu.user + cpu.system) / 1000 };
    const prev = last;
    last = now;
    if (!prev || now.t <= prev.t) return null;
    return { others: Math.max(0, now.busyMs - prev.busyMs - (now.ownMs - prev.ownMs)) / (now.t - prev.t), cores: m.cores };
  };
}

/** The Node host (exported for benchmarks that vary its load meter; the library's entry is createRuntime). */
export const nodeHost: Host = {
  async hardwareThreads() {
    return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  },
  hasWorkers() {
    return true;
  },
  async readFile(url) {
    return new Uint8Array(await readFile(url));
  },
  async spawnWorker(body): Promise<SpawnedWorker> {
    const src = `${body}\nconst { parentPort } = require('node:worker_threads');\nparentPort.once('message', (m) => udiWorker(m, (x) => parentPort.postMessage(x)));\n`;
    const worker = new Worker(src, { eval: true });
    const firstMessage = new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker exited with code ${code} before it was ready`)));
    });
    // Referenced while it starts (so `await createRuntime()` holds the process until the pool is
    // ready), unreferenced from then on: an idle pool never keeps the process alive.
    firstMessage.then(
      () => worker.unref(),
      () => {},
    );
    return { worker, firstMessage };
  },
  // Deno runs this host too, but reading /proc/stat there needs a permission: Node only, on Linux
  // (elsewhere, as in Deno, the runtime uses the workers' preemption meter).
  loadMeter: runtimeKind() === 'node' && existsSync('/proc/stat') ? otherLoadMeter : undefined,
};

/**
 * Start a udi-wasm runtime in Node or Deno: compile the best build the host runs, start the worker
 * threads (`threads`, default 'auto' = the cores reported) and report the choice in `runtime.info`.
 * Call `rt.dispose()` when done to stop the workers; a script that forgets it still exits.
 */
export function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  return startRuntime(nodeHost, options);
}
