/**
 * Typed wrappers over the WebAssembly kernels. Each wrapper checks shapes (naming them in the error),
 * checks that every buffer lies inside WebAssembly memory, then calls one export. When the work is
 * large enough, matmul (by rows, or by columns when m < n), im2col and gather_rows (by rows),
 * col2im, max-pooling and the fused convolution block (by samples; its weight gradient by rows of
 * dw) and the element-wise kernels (activations, optimiser steps,
 * fill, copy, scale, axpy) are split over the worker pool. A call
 * builds no object (reused argument lists; error messages built only on error); what it allocates is
 * V8's: a float argument or result crossing a call that is not inlined, and in a split call the
 * governor's and the join's clock readings (Node's performance.now() returns a new heap number).
 *
 * Conventions (as in the kernels): outputs first, then inputs; forward next to backward; backward
 * functions accumulate into their gradient buffers (dx += ...), except where a wrapper says it
 * overwrites dx (linearBackward, convReluPoolBackward); matrices are row-major.
 *
 * Aliasing: inputs may overlap each other freely (they are only read). A buffer a kernel writes may
 * be the very same buffer as an input (same offset and length) only where the wrapper's "Aliasing:"
 * line says so: where each output element depends on the input elements at its own index (and on
 * sums over its own row or column, taken before the row or column is written) and reads them before
 * it is written, so the result is the same bits as with a separate buffer, on any thread split
 * (the pool splits such kernels at the same element for every buffer). Every other overlap of a
 * written buffer is rejected with an AliasingError before any kernel runs: a partial overlap, two
 * written buffers, an f32 with an i32 buffer, a pair that is not safe in place, and a pair that is
 * correct only by an accident of today's loop order or of a shape (such as rows = 1).
 *
 * Layout: one file per kernel family, ./ops/<family>.ts as assembly/<family>.ts (its float64 twins in
 * ./reference/<family>.ts, its cases in test/cases/<family>.ts); ./ops/base.ts holds the checks, the
 * aliasing checks, the splitting over the pool and all of a Kernels object's state. The families'
 * methods are copied onto Kernels.prototype below, so `rt.kernels.matmul(...)` is one ordinary
 * method call, as before. Import the kernels through this file only.
 */
import { KernelBase } from './ops/base.js';
import { ActivationOps } from './ops/activations.js';
import { AudioOps, stftFrames } from './ops/audio.js';
import { ConvOps } from './ops/conv.js';
import { DivergenceOps } from './ops/divergence.js';
import { F64Ops } from './ops/f64.js';
import { MatmulOps } from './ops/matmul.js';
import { OptimOps } from './ops/optim.js';
import { RngOps } from './ops/rng.js';
import { SoftmaxOps } from './ops/softmax.js';
import { VectorOps } from './ops/vector.js';
import { XcorrOps } from './ops/xcorr.js';

import { AliasingError, ShapeError } from '../errors.js';
export { AliasingError, ShapeError };

export { convBlockScratch, convOutputSize, poolOutputSize, type ConvShape, type DivergenceOptions, type MatmulLayout, type MatmulOptions, type PoolShape } from './ops/shapes.js';

/** The kernel families, in the order of assembly/index.ts. */
const FAMILIES = [MatmulOps, ActivationOps, SoftmaxOps, DivergenceOps, XcorrOps, ConvOps, VectorOps, OptimOps, RngOps, AudioOps, F64Ops] as const;

/** Typed wrappers over every WebAssembly kernel (see the top of this file). */
export class Kernels extends KernelBase {
  /** Frames of an STFT over `len` samples: the last frame is zero-padded so no sample is dropped. */
  static stftFrames = stftFrames;
}
// The families' methods, as Kernels' own (declaration merging gives them their types).
export interface Kernels extends MatmulOps, ActivationOps, SoftmaxOps, DivergenceOps, XcorrOps, ConvOps, VectorOps, OptimOps, RngOps, AudioOps, F64Ops {}
for (const family of FAMILIES) {
  for (const name of Object.getOwnPropertyNames(family.prototype)) {
    if (name === 'constructor') continue;
    if (Object.prototype.hasOwnProperty.call(Kernels.prototype, name)) throw new Error(`Kernels: two kernel families define ${name}`);
    Object.defineProperty(Kernels.prototype, name, Object.getOwnPropertyDescriptor(family.prototype, name)!);
  }
}
