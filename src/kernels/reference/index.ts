/**
 * The plain TypeScript twin of every WebAssembly kernel, computing in float64. Written to be
 * obviously right rather than fast: triple loops for matmul, direct convolution (no im2col), direct
 * max-pooling, one loop per formula. Tests compare the scalar and SIMD builds against it and check
 * every backward here against central differences of the forward here.
 *
 * Conventions as in the kernels: row-major matrices, NHWC images, filter banks (kh·kw·c, outChannels),
 * forward next to backward. Inputs are any array of numbers (Float32Array, Float64Array, number[]);
 * outputs are fresh Float64Arrays. Backward functions *return* the gradient (dx = ...) where the
 * kernels accumulate (dx += ...), and are the exact analytic gradients of the forward next to them.
 * Scalars that the kernels receive as f32 (invT, eps, p, lr, ...) are used as given: pass
 * Math.fround(v) to reproduce a kernel call exactly.
 *
 * One file per kernel family, named like its assembly/<family>.ts; every twin has its wrapper's name.
 */
export * from './matmul.js';
export * from './activations.js';
export * from './softmax.js';
export * from './divergence.js';
export * from './xcorr.js';
export * from './conv.js';
export * from './vector.js';
export * from './optim.js';
export * from './rng.js';
export * from './audio.js';
export type { Vec } from './math.js';
export * from './f64.js';
