/**
 * udi-wasm for browsers, Web Workers and edge runtimes such as workerd (Cloudflare Workers): the
 * export conditions "browser", "worker" and "default". The portable API of src/core.ts with
 * `createRuntime` on the web host (Web Workers, navigator.hardwareConcurrency, fetch). No module
 * this file imports, directly or not, imports a `node:*` module, so bundlers need no
 * `--external:node:*` and print no "externalized for browser compatibility" warning. Reading
 * datasets and checkpoints from files (loadMfeat, loadModel, ...) is in the Node/Deno entry only:
 * here, pass bytes (deserializeModel, parseCsv, decodeSafetensors).
 */
import { webHost } from './runtime/env.js';
import { startRuntime, type Runtime, type RuntimeOptions } from './runtime/runtime.js';

export * from './core.js';

/**
 * Start a udi-wasm runtime: compile the best build the host runs, start the worker threads
 * (`threads`, default 'auto'; in a browser only inside a dedicated Worker of a cross-origin
 * isolated page) and report the choice in `runtime.info`. On an edge runtime (workerd) pass the
 * statically imported module as `wasm` (README: Edge runtimes). Call `rt.dispose()` when done.
 */
export function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  return startRuntime(webHost, options);
}
