/**
 * The Node host (Node, and Deno through its `node:` modules): cores from node:os, `file:` URLs read
 * with node:fs, workers from node:worker_threads, unref'd once they have started so that an idle
 * pool never keeps the process alive (in Deno too, whose Web Workers cannot be unref'd). Only the
 * Node/Deno entry (src/index.ts) and Node-only modules import this file.
 */
import { readFile } from 'node:fs/promises';
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Host, SpawnedWorker } from './env.js';
import { startRuntime, type Runtime, type RuntimeOptions } from './runtime.js';

const nodeHost: Host = {
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
};

/**
 * Start a udi-wasm runtime in Node or Deno: compile the best build the host runs, start the worker
 * threads (`threads`, default 'auto' = the cores reported) and report the choice in `runtime.info`.
 * Call `rt.dispose()` when done to stop the workers; a script that forgets it still exits.
 */
export function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  return startRuntime(nodeHost, options);
}
