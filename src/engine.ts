/**
 * udi-wasm/engine: the compute core under the root API, for kernel work, benchmarks and tests. A
 * Runtime's `kernels` (Kernels) run the WebAssembly kernels on buffers (F32, I32) laid out by its
 * `arena` (Arena); KERNELS is the numbers-only ABI every build exports. Portable: no `node:*` module,
 * the same module for every export condition. Less stable than the root API.
 *
 *   import { createRuntime } from 'udi-wasm';
 *   import { KERNEL_NAMES, type F32 } from 'udi-wasm/engine';
 */
export { Runtime } from './runtime/runtime.js';
export { Arena, type F32, type I32 } from './runtime/arena.js';
export { BUILDS } from './runtime/loader.js';
export { Kernels, ShapeError, AliasingError, convOutputSize, poolOutputSize, type ConvShape, type PoolShape, type MatmulOptions, type MatmulLayout, type DivergenceOptions } from './kernels/ops.js';
export { KERNELS, KERNEL_NAMES, type KernelName } from './kernels/spec.js';
// The UDI controller's maths (gradient alignment, MMPareto's min-norm weight) and argmax over rows.
export { alignmentWeights, minNormWeight } from './train/methods.js';
export { argmax } from './train/metrics.js';
