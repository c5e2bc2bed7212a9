/**
 * udi-wasm: balanced multimodal learning in WebAssembly.
 *
 * The compute core: createRuntime() gives a Runtime whose `kernels` run the WebAssembly kernels on
 * buffers laid out by its `arena`. The training engine and the UDI schedule build on this.
 */
export { createRuntime, Runtime, type RuntimeInfo, type RuntimeOptions } from './runtime/runtime.js';
export { Arena, MemoryLimitError, type F32, type I32 } from './runtime/arena.js';
export { BUILDS, type Build, type WasmSource } from './runtime/loader.js';
export { WorkerError } from './runtime/pool.js';
export { Kernels, ShapeError, convOutputSize, poolOutputSize, type ConvShape, type PoolShape, type MatmulOptions, type MatmulLayout, type DivergenceOptions } from './kernels/ops.js';
export { KERNELS, KERNEL_NAMES, type KernelName } from './kernels/spec.js';
