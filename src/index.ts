/**
 * udi-wasm for Node and Deno (export conditions "node" and "deno"; `main`): the portable API of
 * src/core.ts, `createRuntime` on the Node host (worker_threads, node:fs), and what reads or
 * writes files. Browsers, Web Workers and edge runtimes get src/web.ts instead, which imports no
 * `node:*` module. Portable exports belong in src/core.ts; only file and Node-specific ones here.
 * Parsers, kernels and plots are subpaths: udi-wasm/io, udi-wasm/engine, udi-wasm/vis (src/core.ts).
 */
export * from './core.js';
export { createRuntime } from './runtime/node.js';

// Node and Deno only: reading datasets and files, writing checkpoints.
export { loadMfeat, MFEAT_VIEWS, type MfeatView } from './data/mfeat.js';
export { loadManifest } from './data/manifest.js';
export { loadAvmnist, avmnistSplit, type Avmnist, type AvmnistOptions, type AvmnistSplit } from './data/avmnist.js';
export { saveModel, loadModel } from './io/checkpoint-file.js';
