/**
 * udi-wasm/io for browsers, Web Workers and edge runtimes (export conditions "browser", "worker",
 * "default"): parsers and file formats on bytes and strings, with no `node:*` module. Node and Deno
 * get src/io-node.ts: this plus the WAV and IDX readers, which also read files.
 *
 *   import { parseCsv, decodeSafetensors } from 'udi-wasm/io';
 */
export { parseCsv, type Table } from './data/csv.js';
export { encodeSafetensors, decodeSafetensors } from './io/safetensors.js';
export { preprocessOf, CHECKPOINT_FORMAT } from './io/checkpoint.js';
export { ONNX_OPSET } from './io/onnx.js';
export { TrainConfigSchema, EncoderSchema } from './io/config.js';
export { logMel, melFilterbank, DEFAULT_AUDIO, type AudioFeatureConfig } from './data/audio.js';
