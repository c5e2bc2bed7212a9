/**
 * udi-wasm/io for Node and Deno (export conditions "node", "deno"): src/io-web.ts plus the WAV and
 * IDX parsers and file readers (their modules read files through node:fs).
 */
export * from './io-web.js';
export { parseWav, readWav } from './data/wav.js';
export { parseIdx, readIdx } from './data/idx.js';
