/**
 * Typed wrappers over the WebAssembly kernels. Each wrapper checks shapes (naming them in the error),
 * checks that every buffer lies inside WebAssembly memory, then calls one export. When the work is
 * large enough, matmul (by rows, or by columns when m < n), im2col and gather_rows (by rows),
 * col2im and max-pooling (by samples) and the element-wise kernels (activations, optimiser steps,
 * fill, copy, scale, axpy) are split over the worker pool. A call
 * allocates nothing on the JavaScript heap (reused argument lists; error messages built only on error).
 *
 * Conventions (as in the kernels): outputs first, then inputs; forward next to backward; backward
 * functions accumulate into their gradient buffers (dx += ...); matrices are row-major.
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
 */
import { ARENA_BASE, type Arena, type F32, type I32 } from '../runtime/arena.js';
import type { WorkerPool } from '../runtime/pool.js';
import { KERNEL_NAMES, KERNELS, type KernelName, type RawKernels } from './spec.js';

export class ShapeError extends Error {
  readonly code = 'SHAPE_MISMATCH';
}

/** A kernel called with overlapping buffers it does not promise to handle (see the wrapper's "Aliasing:" line). */
export class AliasingError extends Error {
  readonly code = 'ALIASED_BUFFERS';
}

export type MatmulLayout = 'nn' | 'nt' | 'tn';
export interface MatmulOptions {
  m: number;
  n: number;
  k: number;
  /** 'nn': C = A·B (A m×k, B k×n); 'nt': C = A·Bᵀ (B n×k); 'tn': C = Aᵀ·B (A k×m). Default 'nn'. */
  layout?: MatmulLayout;
  /** Row vector of n added to every row of C. */
  bias?: F32;
  /** Add into C instead of overwriting it. */
  accumulate?: boolean;
}

/** NHWC convolution geometry; the filter bank is stored as (kh·kw·c, outChannels). */
export interface ConvShape {
  batch: number;
  h: number;
  w: number;
  c: number;
  outChannels: number;
  kh: number;
  kw: number;
  stride?: number;
  pad?: number;
}
export interface PoolShape {
  batch: number;
  h: number;
  w: number;
  c: number;
  k: number;
  stride?: number;
}
export interface DivergenceOptions {
  /** Follower temperature T (its probabilities are softmax(z/T)); default 1. */
  temperature?: number;
  /** Probabilities are clamped to at least eps inside logs; default 1e-7. */
  eps?: number;
}

/** Matmuls with fewer multiply-adds (and im2col calls with fewer element operations) than this run on the calling thread only. */
const PARALLEL_MIN_MACS = 1 << 17;
/** Element-wise kernels (optimiser steps) over fewer elements than this run on the calling thread only. */
const ELEMENTWISE_PARALLEL_MIN = 1 << 16;

const dims = (...d: number[]) => d.join('×');

type Buf = F32 | I32;

/** Whether two buffers share a byte (empty ones share none). */
const overlaps = (a: Buf, b: Buf): boolean => a.length > 0 && b.length > 0 && a.ptr < b.ptr + 4 * b.length && b.ptr < a.ptr + 4 * a.length;
/** Whether two buffers are the very same one: same offset, length and kind. */
const identical = (a: Buf, b: Buf): boolean => a.ptr === b.ptr && a.length === b.length && a.kind === b.kind;

export function convOutputSize(s: ConvShape): { ho: number; wo: number } {
  const stride = s.stride ?? 1,
    pad = s.pad ?? 0;
  const ho = Math.floor((s.h + 2 * pad - s.kh) / stride) + 1;
  const wo = Math.floor((s.w + 2 * pad - s.kw) / stride) + 1;
  return { ho, wo };
}

export function poolOutputSize(s: PoolShape): { ho: number; wo: number } {
  const stride = s.stride ?? s.k;
  return { ho: Math.floor((s.h - s.k) / stride) + 1, wo: Math.floor((s.w - s.k) / stride) + 1 };
}

/**
 * Call a kernel with the arguments in `a`. Positional on purpose: `fn.apply(null, a)` and `fn(...a)`
 * box every element of a double array into a new heap number on each call.
 */
function invoke(fn: (...a: number[]) => unknown, a: number[]): void {
  switch (a.length) {
    case 3:
      fn(a[0], a[1], a[2]);
      return;
    case 4:
      fn(a[0], a[1], a[2], a[3]);
      return;
    case 7:
      fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
      return;
    case 8:
      fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
      return;
    case 11:
      fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10]);
      return;
    case 13:
      fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12]);
      return;
    case 14:
      fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13]);
      return;
    default:
      fn.apply(null, a);
  }
}

export class Kernels {
  private readonly index: Record<KernelName, number>;
  private readonly scratchFloats: number;
  /** One reusable argument list per kernel, so a call allocates nothing. */
  private readonly argv: Record<KernelName, number[]>;
  /** Base pointers of an element-wise call while it is split. */
  private readonly bases = [0, 0, 0, 0, 0, 0, 0, 0];
  /** A convolution's geometry and its matmuls' options, reused (no object per call). */
  private readonly cg = { ho: 0, wo: 0, kk: 0, rows: 0, stride: 0, pad: 0 };
  private readonly cm: MatmulOptions = { m: 0, n: 0, k: 0 };

  constructor(
    readonly raw: RawKernels,
    private readonly arena: Arena,
    private readonly pool: WorkerPool | null,
    /** One matmul scratch buffer per thread (index 0 is the calling thread). */
    private readonly scratch: F32[],
  ) {
    this.index = Object.fromEntries(KERNEL_NAMES.map((n, i) => [n, i])) as Record<KernelName, number>;
    this.argv = Object.fromEntries(KERNEL_NAMES.map((n) => [n, KERNELS[n].args.map(() => 0)])) as unknown as Record<KernelName, number[]>;
    this.scratchFloats = raw.matmul_scratch_floats() as number;
    for (const s of scratch) if (s.length < this.scratchFloats) throw new Error('Kernels: matmul scratch buffer too small');
  }

  /** Threads computing now: the pool's workers plus the caller (1 once a failed pool was stopped). */
  get threads(): number {
    return this.pool?.alive ? this.pool.size + 1 : 1;
  }

  // ---- checks ---------------------------------------------------------------------------------
  // Allocation-free on success: the expected size is described by a label ('m×n') and up to four
  // dimensions, turned into a message only when the check fails.

  /** Check an f32 buffer of `expected` elements and return its offset. */
  private buf(op: string, name: string, b: F32, expected: number, shape = '', d0 = -1, d1 = -1, d2 = -1, d3 = -1): number {
    return this.check(op, name, b, 'f32', expected, shape, d0, d1, d2, d3);
  }
  /** Check an i32 buffer of `expected` elements and return its offset. */
  private ibuf(op: string, name: string, b: I32, expected: number, shape = '', d0 = -1, d1 = -1, d2 = -1, d3 = -1): number {
    return this.check(op, name, b, 'i32', expected, shape, d0, d1, d2, d3);
  }

  private check(op: string, name: string, b: F32 | I32, kind: 'f32' | 'i32', expected: number, shape: string, d0: number, d1: number, d2: number, d3: number): number {
    if (b === undefined || b === null || typeof b.ptr !== 'number') throw new TypeError(`${op}: ${name} must be a ${kind} buffer from the runtime's arena`);
    if (b.kind !== kind) throw new TypeError(`${op}: ${name} must be an ${kind} buffer, got ${b.kind}`);
    if (b.length !== expected) {
      const ds = [d0, d1, d2, d3].filter((d) => d >= 0);
      const what = shape === '' ? `${expected}` : ds.length <= 1 ? `${shape} = ${expected}` : `${shape} = ${dims(...ds)} = ${expected}`;
      throw new ShapeError(`${op}: ${name} has ${b.length} elements, expected ${what}`);
    }
    const end = b.ptr + 4 * b.length;
    if (!Number.isInteger(b.ptr) || b.ptr % 4 !== 0 || b.ptr < ARENA_BASE || end > this.arena.capacityBytes) {
      throw new RangeError(`${op}: ${name} (offset ${b.ptr}, ${b.length} elements) lies outside WebAssembly memory (${this.arena.capacityBytes} bytes)`);
    }
    return b.ptr;
  }

  /** A (rows, cols) buffer. */
  private rc(op: string, name: string, b: F32, rows: number, cols: number): number {
    return this.buf(op, name, b, rows * cols, 'rows×cols', rows, cols);
  }

  private size(op: string, name: string, v: number): number {
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new ShapeError(`${op}: ${name} must be a whole number >= 0, got ${v}`);
    return v;
  }

  private same(op: string, names: string, a: F32 | I32, b: F32 | I32, c?: F32 | I32, d?: F32 | I32): number {
    const n = a.length;
    if (b.length !== n || (c !== undefined && c.length !== n) || (d !== undefined && d.length !== n)) {
      throw new ShapeError(`${op}: ${names} must have the same length, got ${[a, b, c, d].filter((x) => x !== undefined).map((x) => x!.length).join(', ')}`);
    }
    return n;
  }

  private finite(op: string, name: string, v: number): number {
    if (!Number.isFinite(v)) throw new RangeError(`${op}: ${name} must be a finite number, got ${v}`);
    return v;
  }

  // ---- aliasing -------------------------------------------------------------------------------
  // Allocation-free on success (a few comparisons per pair); the message is built only on failure.
  // A missing optional buffer (null or undefined) overlaps nothing.

  /** The written buffer w must not overlap the input b: the kernel is not safe in place for them. */
  private apart(op: string, wn: string, w: Buf | null | undefined, bn: string, b: Buf | null | undefined): void {
    if (w != null && b != null && overlaps(w, b)) this.aliased(op, wn, w, bn, b, 0);
  }
  /** The written buffer w may be the input b itself (the kernel is safe in place for them); any other overlap is rejected. */
  private inPlace(op: string, wn: string, w: Buf, bn: string, b: Buf): void {
    if (overlaps(w, b) && !identical(w, b)) this.aliased(op, wn, w, bn, b, 1);
  }
  /** Two written buffers must not overlap at all. */
  private distinct(op: string, an: string, a: Buf | null | undefined, bn: string, b: Buf | null | undefined): void {
    if (a != null && b != null && overlaps(a, b)) this.aliased(op, an, a, bn, b, 2);
  }
  /** why: 0 not safe in place, 1 only b itself, 2 both written. */
  private aliased(op: string, an: string, a: Buf, bn: string, b: Buf, why: 0 | 1 | 2): never {
    const bytes = (x: Buf) => `${x.ptr}..${x.ptr + 4 * x.length}`;
    const where = identical(a, b) ? `are the same buffer (bytes ${bytes(a)})` : `overlap (bytes ${bytes(a)} and ${bytes(b)})`;
    const hint =
      why === 1
        ? `${an} may be ${bn} itself (same offset and length), but not a partly overlapping range: pass ${bn} itself or a separate ${an} buffer`
        : why === 2
          ? 'both are written: pass separate buffers'
          : `${op} is not safe in place for ${an} and ${bn}: pass a separate ${an} buffer`;
    throw new AliasingError(`${op}: ${an} and ${bn} ${where}; ${hint}`);
  }

  // ---- splitting over the worker pool ---------------------------------------------------------

  /**
   * Run a range-parallel kernel. `argv` is its whole argument list except the range: argv[at] and
   * argv[at+1] get [start, end) of each chunk of [0, extent) (chunks are multiples of `align`), and
   * argv[scratchAt] the running thread's matmul scratch buffer. Work (multiply-adds, or element
   * operations) below PARALLEL_MIN_MACS runs on the calling thread only.
   */
  private split(name: KernelName, argv: number[], at: number, extent: number, align: number, work: number, scratchAt: number): void {
    const pool = this.pool;
    const threads = pool !== null && pool.alive ? pool.size + 1 : 1;
    const chunk = threads > 1 && extent >= 2 * align && work >= PARALLEL_MIN_MACS ? Math.ceil(extent / threads / align) * align : extent;
    for (let t = 1; t * chunk < extent; t++) {
      argv[at] = t * chunk;
      argv[at + 1] = Math.min(extent, (t + 1) * chunk);
      if (scratchAt >= 0) argv[scratchAt] = this.scratch[t].ptr;
      pool!.post(t - 1, this.index[name], argv);
    }
    argv[at] = 0;
    argv[at + 1] = chunk;
    if (scratchAt >= 0) argv[scratchAt] = this.scratch[0].ptr;
    this.finish(name, argv, chunk < extent, work);
  }

  /**
   * Run an element-wise kernel whose arguments start with `nptrs` buffer offsets followed by the
   * element count n, split into contiguous chunks (multiples of 4) over the pool when n is large.
   * Element-wise arithmetic does not depend on the split, so the bits do not either.
   */
  private elementwise(name: KernelName, argv: number[], nptrs: number): void {
    const n = argv[nptrs];
    const pool = this.pool;
    const threads = pool !== null && pool.alive && n >= ELEMENTWISE_PARALLEL_MIN ? pool.size + 1 : 1;
    const chunk = Math.ceil(n / threads / 4) * 4;
    if (threads > 1) {
      for (let i = 0; i < nptrs; i++) this.bases[i] = argv[i];
      for (let t = 1; t * chunk < n; t++) {
        for (let i = 0; i < nptrs; i++) argv[i] = this.bases[i] + 4 * t * chunk;
        argv[nptrs] = Math.min(n, (t + 1) * chunk) - t * chunk;
        pool!.post(t - 1, this.index[name], argv);
      }
      for (let i = 0; i < nptrs; i++) argv[i] = this.bases[i];
      argv[nptrs] = Math.min(n, chunk);
    }
    this.finish(name, argv, chunk < n, n);
  }

  /** Run the calling thread's share, then wait for the posted ones (if any); `work` as for split. */
  private finish(name: KernelName, argv: number[], posted: boolean, work: number): void {
    const fn = this.raw[name];
    if (!posted) {
      invoke(fn, argv);
      return;
    }
    let error: unknown = undefined;
    try {
      invoke(fn, argv);
    } catch (e) {
      error = e;
    }
    this.pool!.join(this.index[name], work, error);
  }

  // ---- matmul ---------------------------------------------------------------------------------

  /**
   * C (m,n) = (accumulate ? C : 0) + bias + op(A)·op(B); see MatmulOptions for the layouts.
   * Aliasing: C must not overlap A, B or bias (C is written tile by tile while they are still read).
   */
  matmul(c: F32, a: F32, b: F32, o: MatmulOptions): void {
    const op = 'matmul';
    const layout = o.layout ?? 'nn';
    const name: KernelName | null = layout === 'nn' ? 'matmul_nn' : layout === 'nt' ? 'matmul_nt' : layout === 'tn' ? 'matmul_tn' : null;
    if (name === null) throw new TypeError(`matmul: layout must be 'nn', 'nt' or 'tn', got ${String(layout)}`);
    const m = this.size(op, 'm', o.m),
      n = this.size(op, 'n', o.n),
      k = this.size(op, 'k', o.k);
    const v = this.argv[name]; // c a b bias m n k accumulate scratch r0 r1 c0 c1
    v[0] = this.buf(op, 'C', c, m * n, 'm×n', m, n);
    v[1] = layout === 'tn' ? this.buf(op, 'A', a, m * k, 'k×m', k, m) : this.buf(op, 'A', a, m * k, 'm×k', m, k);
    v[2] = layout === 'nt' ? this.buf(op, 'B', b, k * n, 'n×k', n, k) : this.buf(op, 'B', b, k * n, 'k×n', k, n);
    v[3] = o.bias ? this.buf(op, 'bias', o.bias, n, 'n') : 0;
    this.apart(op, 'C', c, 'A', a);
    this.apart(op, 'C', c, 'B', b);
    this.apart(op, 'C', c, 'bias', o.bias);
    v[4] = m;
    v[5] = n;
    v[6] = k;
    v[7] = o.accumulate ? 1 : 0;
    // Split the rows; or, when A is the smaller operand (m < n), the columns, so that each thread
    // packs (or, for m <= 64, reads) only its own columns of B, and all of A, rather than all of B.
    if (m < n) {
      v[9] = 0;
      v[10] = m;
      this.split(name, v, 11, n, 8, m * n * k, 8);
    } else {
      v[11] = 0;
      v[12] = n;
      this.split(name, v, 9, m, 4, m * n * k, 8);
    }
  }

  // ---- bias and activations -------------------------------------------------------------------

  /** out (rows,cols) = x + bias (cols). Aliasing: out may be x itself (element-wise); out must not overlap bias. */
  biasAdd(out: F32, x: F32, bias: F32, rows: number, cols: number): void {
    const op = 'biasAdd';
    this.rowsCols(op, rows, cols);
    const o = this.rc(op, 'out', out, rows, cols),
      i = this.rc(op, 'x', x, rows, cols),
      b = this.buf(op, 'bias', bias, cols, 'cols', cols);
    this.inPlace(op, 'out', out, 'x', x);
    this.apart(op, 'out', out, 'bias', bias);
    this.raw.bias_add_forward(o, i, b, rows, cols);
  }
  /** dbias (cols) += column sums of dout (rows,cols). Aliasing: dbias must not overlap dout (a row of dout under dbias would be read after rows were added into it). */
  biasAddBackward(dbias: F32, dout: F32, rows: number, cols: number): void {
    const op = 'biasAddBackward';
    this.rowsCols(op, rows, cols);
    const d = this.buf(op, 'dbias', dbias, cols, 'cols', cols),
      g = this.rc(op, 'dout', dout, rows, cols);
    this.apart(op, 'dbias', dbias, 'dout', dout);
    this.raw.bias_add_backward(d, g, rows, cols);
  }

  /** out = max(x, 0). Aliasing: out may be x itself (element-wise). */
  relu(out: F32, x: F32): void {
    const n = this.same('relu', 'out and x', out, x);
    const v = this.argv.relu_forward; // out x n
    v[0] = this.buf('relu', 'out', out, n);
    v[1] = this.buf('relu', 'x', x, n);
    v[2] = n;
    this.inPlace('relu', 'out', out, 'x', x);
    this.elementwise('relu_forward', v, 2);
  }
  /** dx += dout where x > 0. Aliasing: dx may be dout or x itself (element-wise). */
  reluBackward(dx: F32, dout: F32, x: F32): void {
    const n = this.same('reluBackward', 'dx, dout and x', dx, dout, x);
    const v = this.argv.relu_backward; // dx dout x n
    v[0] = this.buf('reluBackward', 'dx', dx, n);
    v[1] = this.buf('reluBackward', 'dout', dout, n);
    v[2] = this.buf('reluBackward', 'x', x, n);
    v[3] = n;
    this.inPlace('reluBackward', 'dx', dx, 'dout', dout);
    this.inPlace('reluBackward', 'dx', dx, 'x', x);
    this.elementwise('relu_backward', v, 3);
  }

  /** out = gelu(x), tanh approximation. Aliasing: out may be x itself (element-wise). */
  gelu(out: F32, x: F32): void {
    const n = this.same('gelu', 'out and x', out, x);
    const v = this.argv.gelu_forward; // out x n
    v[0] = this.buf('gelu', 'out', out, n);
    v[1] = this.buf('gelu', 'x', x, n);
    v[2] = n;
    this.inPlace('gelu', 'out', out, 'x', x);
    this.elementwise('gelu_forward', v, 2);
  }
  /** dx += dout · gelu'(x). Aliasing: dx may be dout or x itself (element-wise). */
  geluBackward(dx: F32, dout: F32, x: F32): void {
    const n = this.same('geluBackward', 'dx, dout and x', dx, dout, x);
    const v = this.argv.gelu_backward; // dx dout x n
    v[0] = this.buf('geluBackward', 'dx', dx, n);
    v[1] = this.buf('geluBackward', 'dout', dout, n);
    v[2] = this.buf('geluBackward', 'x', x, n);
    v[3] = n;
    this.inPlace('geluBackward', 'dx', dx, 'dout', dout);
    this.inPlace('geluBackward', 'dx', dx, 'x', x);
    this.elementwise('gelu_backward', v, 3);
  }

  /**
   * Inverted dropout with drop probability p in [0, 1); mask is kept for the backward pass.
   * Aliasing: out may be x itself (element-wise); mask must not overlap x (mask[i] is stored before
   * x[i] is read), and out, mask and the generator state rng are all written, so none overlaps another.
   */
  dropout(out: F32, mask: F32, x: F32, p: number, rng: I32): void {
    const op = 'dropout';
    const n = this.same(op, 'out, mask and x', out, mask, x);
    if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
    const o = this.buf(op, 'out', out, n),
      m = this.buf(op, 'mask', mask, n),
      i = this.buf(op, 'x', x, n),
      s = this.ibuf(op, 'rng', rng, 4);
    this.inPlace(op, 'out', out, 'x', x);
    this.apart(op, 'mask', mask, 'x', x);
    this.apart(op, 'rng', rng, 'x', x);
    this.distinct(op, 'out', out, 'mask', mask);
    this.distinct(op, 'out', out, 'rng', rng);
    this.distinct(op, 'mask', mask, 'rng', rng);
    this.raw.dropout_forward(o, m, i, n, p, s);
  }
  /** dx += dout · mask. Aliasing: dx may be dout or mask itself (element-wise). */
  dropoutBackward(dx: F32, dout: F32, mask: F32): void {
    const op = 'dropoutBackward';
    const n = this.same(op, 'dx, dout and mask', dx, dout, mask);
    const d = this.buf(op, 'dx', dx, n),
      g = this.buf(op, 'dout', dout, n),
      m = this.buf(op, 'mask', mask, n);
    this.inPlace(op, 'dx', dx, 'dout', dout);
    this.inPlace(op, 'dx', dx, 'mask', mask);
    this.raw.dropout_backward(d, g, m, n);
  }

  // ---- softmax and losses ---------------------------------------------------------------------

  private rowsCols(op: string, rows: number, cols: number): void {
    this.size(op, 'rows', rows);
    this.size(op, 'cols', cols);
  }

  /**
   * out (rows,cols) = softmax of x along cols.
   * Aliasing: out must not overlap x (a row's exponentials are stored into out, then x is read again).
   */
  softmax(out: F32, x: F32, rows: number, cols: number): void {
    this.rowsCols('softmax', rows, cols);
    const o = this.rc('softmax', 'out', out, rows, cols),
      i = this.rc('softmax', 'x', x, rows, cols);
    this.apart('softmax', 'out', out, 'x', x);
    this.raw.softmax_forward(o, i, rows, cols);
  }
  /** dx += y ⊙ (dy − Σ dy·y) per row, y the forward output. Aliasing: dx may be dy or y itself (a row's sum is taken before the row is written). */
  softmaxBackward(dx: F32, dy: F32, y: F32, rows: number, cols: number): void {
    this.rowsCols('softmaxBackward', rows, cols);
    const a = this.rc('softmaxBackward', 'dx', dx, rows, cols),
      b = this.rc('softmaxBackward', 'dy', dy, rows, cols),
      c = this.rc('softmaxBackward', 'y', y, rows, cols);
    this.inPlace('softmaxBackward', 'dx', dx, 'dy', dy);
    this.inPlace('softmaxBackward', 'dx', dx, 'y', y);
    this.raw.softmax_backward(a, b, c, rows, cols);
  }
  /** out (rows,cols) = x − logΣexp(x) per row. Aliasing: out may be x itself (a row's max and sum are taken before the row is written). */
  logSoftmax(out: F32, x: F32, rows: number, cols: number): void {
    this.rowsCols('logSoftmax', rows, cols);
    const o = this.rc('logSoftmax', 'out', out, rows, cols),
      i = this.rc('logSoftmax', 'x', x, rows, cols);
    this.inPlace('logSoftmax', 'out', out, 'x', x);
    this.raw.log_softmax_forward(o, i, rows, cols);
  }
  /** dx += dy − softmax(y)·Σ dy per row, y the forward output. Aliasing: dx may be dy or y itself (as softmaxBackward). */
  logSoftmaxBackward(dx: F32, dy: F32, y: F32, rows: number, cols: number): void {
    this.rowsCols('logSoftmaxBackward', rows, cols);
    const a = this.rc('logSoftmaxBackward', 'dx', dx, rows, cols),
      b = this.rc('logSoftmaxBackward', 'dy', dy, rows, cols),
      c = this.rc('logSoftmaxBackward', 'y', y, rows, cols);
    this.inPlace('logSoftmaxBackward', 'dx', dx, 'dy', dy);
    this.inPlace('logSoftmaxBackward', 'dx', dx, 'y', y);
    this.raw.log_softmax_backward(a, b, c, rows, cols);
  }

  private labels(op: string, labels: I32, rows: number, cols: number): number {
    const p = this.ibuf(op, 'labels', labels, rows, 'rows', rows);
    const v = this.arena.heapI32,
      at = p >> 2;
    for (let r = 0; r < rows; r++) {
      const label = v[at + r];
      if (!(label >= 0 && label < cols)) throw new RangeError(`${op}: label ${label} in row ${r} is outside [0, ${cols})`);
    }
    return p;
  }

  /**
   * probs = softmax(logits); returns the mean cross-entropy over rows.
   * Aliasing: probs must not overlap logits (the label's logit is read after the row of probs is
   * stored) nor labels (later rows' labels would be read after probs is written).
   */
  softmaxCrossEntropy(probs: F32, logits: F32, labels: I32, rows: number, cols: number): number {
    const op = 'softmaxCrossEntropy';
    this.rowsCols(op, rows, cols);
    const p = this.rc(op, 'probs', probs, rows, cols),
      z = this.rc(op, 'logits', logits, rows, cols),
      y = this.labels(op, labels, rows, cols);
    this.apart(op, 'probs', probs, 'logits', logits);
    this.apart(op, 'probs', probs, 'labels', labels);
    return this.raw.softmax_cross_entropy_forward(p, z, y, rows, cols) as number;
  }
  /** dlogits += scale · (probs − onehot) / rows. Aliasing: dlogits may be probs itself (element-wise); it must not overlap labels. */
  softmaxCrossEntropyBackward(dlogits: F32, probs: F32, labels: I32, rows: number, cols: number, scale = 1): void {
    const op = 'softmaxCrossEntropyBackward';
    this.rowsCols(op, rows, cols);
    const d = this.rc(op, 'dlogits', dlogits, rows, cols),
      p = this.rc(op, 'probs', probs, rows, cols),
      y = this.labels(op, labels, rows, cols);
    this.inPlace(op, 'dlogits', dlogits, 'probs', probs);
    this.apart(op, 'dlogits', dlogits, 'labels', labels);
    this.raw.softmax_cross_entropy_backward(d, p, y, rows, cols, this.finite(op, 'scale', scale));
  }

  /** 1/T for a divergence's options (checked). */
  private invT(op: string, o: DivergenceOptions): number {
    const t = o.temperature ?? 1;
    if (!(t > 0 && Number.isFinite(t))) throw new RangeError(`${op}: temperature must be > 0, got ${t}`);
    return 1 / t;
  }
  private eps(op: string, o: DivergenceOptions): number {
    const eps = o.eps ?? 1e-7;
    if (!(eps > 0 && eps < 1)) throw new RangeError(`${op}: eps must be in (0, 1), got ${eps}`);
    return eps;
  }

  /**
   * pm = softmax(zm/T); returns mean Jensen-Shannon divergence JS(pa || pm).
   * Aliasing: pm must not overlap zm (softmax is not safe in place) nor pa (all of pm is written before pa is read).
   */
  jsDivergence(pm: F32, pa: F32, zm: F32, rows: number, cols: number, o: DivergenceOptions = {}): number {
    const invT = this.invT('jsDivergence', o),
      eps = this.eps('jsDivergence', o);
    this.rowsCols('jsDivergence', rows, cols);
    const a = this.rc('jsDivergence', 'pm', pm, rows, cols),
      b = this.rc('jsDivergence', 'pa', pa, rows, cols),
      c = this.rc('jsDivergence', 'zm', zm, rows, cols);
    this.apart('jsDivergence', 'pm', pm, 'zm', zm);
    this.apart('jsDivergence', 'pm', pm, 'pa', pa);
    return this.raw.js_divergence_forward(a, b, c, rows, cols, invT, eps) as number;
  }
  /** dzm += scale · ∂ mean JS / ∂zm (the anchor pa is constant). Aliasing: dzm may be pa or pm itself (a row's sum is taken before the row is written). */
  jsDivergenceBackward(dzm: F32, pa: F32, pm: F32, rows: number, cols: number, o: DivergenceOptions & { scale?: number } = {}): void {
    const invT = this.invT('jsDivergenceBackward', o),
      eps = this.eps('jsDivergenceBackward', o);
    this.rowsCols('jsDivergenceBackward', rows, cols);
    const a = this.rc('jsDivergenceBackward', 'dzm', dzm, rows, cols),
      b = this.rc('jsDivergenceBackward', 'pa', pa, rows, cols),
      c = this.rc('jsDivergenceBackward', 'pm', pm, rows, cols);
    this.inPlace('jsDivergenceBackward', 'dzm', dzm, 'pa', pa);
    this.inPlace('jsDivergenceBackward', 'dzm', dzm, 'pm', pm);
    this.raw.js_divergence_backward(a, b, c, rows, cols, invT, eps, this.finite('jsDivergenceBackward', 'scale', o.scale ?? 1));
  }
  /** pm = softmax(zm/T); returns mean KL(pa || pm). Aliasing: pm must not overlap zm nor pa (as jsDivergence). */
  klDivergence(pm: F32, pa: F32, zm: F32, rows: number, cols: number, o: DivergenceOptions = {}): number {
    const invT = this.invT('klDivergence', o),
      eps = this.eps('klDivergence', o);
    this.rowsCols('klDivergence', rows, cols);
    const a = this.rc('klDivergence', 'pm', pm, rows, cols),
      b = this.rc('klDivergence', 'pa', pa, rows, cols),
      c = this.rc('klDivergence', 'zm', zm, rows, cols);
    this.apart('klDivergence', 'pm', pm, 'zm', zm);
    this.apart('klDivergence', 'pm', pm, 'pa', pa);
    return this.raw.kl_divergence_forward(a, b, c, rows, cols, invT, eps) as number;
  }
  /** dzm += scale · ∂ mean KL / ∂zm. Aliasing: dzm may be pa or pm itself (a row's sum is taken before the row is written). */
  klDivergenceBackward(dzm: F32, pa: F32, pm: F32, rows: number, cols: number, o: DivergenceOptions & { scale?: number } = {}): void {
    const invT = this.invT('klDivergenceBackward', o);
    this.eps('klDivergenceBackward', o);
    this.rowsCols('klDivergenceBackward', rows, cols);
    const a = this.rc('klDivergenceBackward', 'dzm', dzm, rows, cols),
      b = this.rc('klDivergenceBackward', 'pa', pa, rows, cols),
      c = this.rc('klDivergenceBackward', 'pm', pm, rows, cols);
    this.inPlace('klDivergenceBackward', 'dzm', dzm, 'pa', pa);
    this.inPlace('klDivergenceBackward', 'dzm', dzm, 'pm', pm);
    this.raw.kl_divergence_backward(a, b, c, rows, cols, invT, this.finite('klDivergenceBackward', 'scale', o.scale ?? 1));
  }
  /** Mean predictive entropy −Σ p log p over rows. Aliasing: writes nothing. */
  entropy(p: F32, rows: number, cols: number, eps = 1e-7): number {
    this.rowsCols('entropy', rows, cols);
    const a = this.rc('entropy', 'p', p, rows, cols);
    return this.raw.entropy(a, rows, cols, eps) as number;
  }

  // ---- the complementary (cross-correlation) loss ---------------------------------------------

  /**
   * xhat (rows,cols) = x standardised per column over rows; invstd (cols).
   * Aliasing: xhat may be x itself (a column's mean and variance are taken before the column is
   * written); invstd must not overlap x or xhat.
   */
  standardize(xhat: F32, invstd: F32, x: F32, rows: number, cols: number, eps = 1e-5): void {
    const op = 'standardize';
    this.rowsCols(op, rows, cols);
    const a = this.rc(op, 'xhat', xhat, rows, cols),
      b = this.rc(op, 'x', x, rows, cols),
      s = this.buf(op, 'invstd', invstd, cols, 'cols', cols);
    this.inPlace(op, 'xhat', xhat, 'x', x);
    this.apart(op, 'invstd', invstd, 'x', x);
    this.distinct(op, 'xhat', xhat, 'invstd', invstd);
    this.raw.standardize_forward(a, s, b, rows, cols, eps);
  }
  /**
   * dx (rows,cols) += invstd · (dxhat − mean(dxhat) − xhat · mean(dxhat ⊙ xhat)) per column.
   * Aliasing: dx may be dxhat or xhat itself (a column's sums are taken before the column is
   * written); dx must not overlap invstd.
   */
  standardizeBackward(dx: F32, dxhat: F32, xhat: F32, invstd: F32, rows: number, cols: number): void {
    const op = 'standardizeBackward';
    this.rowsCols(op, rows, cols);
    const a = this.rc(op, 'dx', dx, rows, cols),
      b = this.rc(op, 'dxhat', dxhat, rows, cols),
      c = this.rc(op, 'xhat', xhat, rows, cols),
      s = this.buf(op, 'invstd', invstd, cols, 'cols', cols);
    this.inPlace(op, 'dx', dx, 'dxhat', dxhat);
    this.inPlace(op, 'dx', dx, 'xhat', xhat);
    this.apart(op, 'dx', dx, 'invstd', invstd);
    this.raw.standardize_backward(a, b, c, s, rows, cols);
  }

  /**
   * Mean squared cross-correlation between standardised f (rows,d1) and ghat (rows,d2, already
   * standardised). Writes c (d1,d2), fhat (rows,d1), invstd (d1) for the backward pass.
   * Aliasing: fhat may be f itself (as standardize); c, fhat and invstd overlap nothing else (c is
   * written while fhat and ghat are read; c = f is correct today only because f is read first).
   */
  crossCorrelation(c: F32, fhat: F32, invstd: F32, f: F32, ghat: F32, rows: number, d1: number, d2: number, eps = 1e-5): number {
    const op = 'crossCorrelation';
    const cp = this.buf(op, 'c', c, d1 * d2, 'd1×d2', d1, d2),
      hp = this.buf(op, 'fhat', fhat, rows * d1, 'rows×d1', rows, d1),
      sp = this.buf(op, 'invstd', invstd, d1, 'd1', d1),
      fp = this.buf(op, 'f', f, rows * d1, 'rows×d1', rows, d1),
      gp = this.buf(op, 'ghat', ghat, rows * d2, 'rows×d2', rows, d2);
    this.apart(op, 'c', c, 'f', f);
    this.apart(op, 'c', c, 'ghat', ghat);
    this.inPlace(op, 'fhat', fhat, 'f', f);
    this.apart(op, 'fhat', fhat, 'ghat', ghat);
    this.apart(op, 'invstd', invstd, 'f', f);
    this.apart(op, 'invstd', invstd, 'ghat', ghat);
    this.distinct(op, 'c', c, 'fhat', fhat);
    this.distinct(op, 'c', c, 'invstd', invstd);
    this.distinct(op, 'fhat', fhat, 'invstd', invstd);
    return this.raw.cross_correlation_forward(cp, hp, sp, fp, gp, rows, d1, d2, eps) as number;
  }
  /**
   * df (rows,d1) += scale · ∂L/∂f; work is a (rows,d1) scratch buffer.
   * Aliasing: df may be fhat itself (as standardizeBackward's dx and xhat); work overlaps nothing
   * (it is written first, and df's old values are still needed); df overlaps nothing else.
   */
  crossCorrelationBackward(df: F32, c: F32, fhat: F32, invstd: F32, ghat: F32, rows: number, d1: number, d2: number, scale: number, work: F32): void {
    const op = 'crossCorrelationBackward';
    const dp = this.buf(op, 'df', df, rows * d1, 'rows×d1', rows, d1),
      cp = this.buf(op, 'c', c, d1 * d2, 'd1×d2', d1, d2),
      hp = this.buf(op, 'fhat', fhat, rows * d1, 'rows×d1', rows, d1),
      sp = this.buf(op, 'invstd', invstd, d1, 'd1', d1),
      gp = this.buf(op, 'ghat', ghat, rows * d2, 'rows×d2', rows, d2),
      k = this.finite(op, 'scale', scale),
      wp = this.buf(op, 'work', work, rows * d1, 'rows×d1', rows, d1);
    this.apart(op, 'df', df, 'c', c);
    this.inPlace(op, 'df', df, 'fhat', fhat);
    this.apart(op, 'df', df, 'invstd', invstd);
    this.apart(op, 'df', df, 'ghat', ghat);
    this.apart(op, 'work', work, 'c', c);
    this.apart(op, 'work', work, 'fhat', fhat);
    this.apart(op, 'work', work, 'invstd', invstd);
    this.apart(op, 'work', work, 'ghat', ghat);
    this.distinct(op, 'df', df, 'work', work);
    this.raw.cross_correlation_backward(dp, cp, hp, sp, gp, rows, d1, d2, k, wp);
  }

  // ---- convolution and pooling ----------------------------------------------------------------

  /** Check a convolution's shape and return its geometry (this.cg, overwritten by the next call). */
  private conv(op: string, s: ConvShape): { ho: number; wo: number; kk: number; rows: number; stride: number; pad: number } {
    this.size(op, 'batch', s.batch);
    this.size(op, 'h', s.h);
    this.size(op, 'w', s.w);
    this.size(op, 'c', s.c);
    this.size(op, 'outChannels', s.outChannels);
    this.size(op, 'kh', s.kh);
    this.size(op, 'kw', s.kw);
    const stride = s.stride ?? 1,
      pad = s.pad ?? 0;
    if (!(Number.isInteger(stride) && stride >= 1)) throw new ShapeError(`${op}: stride must be a whole number >= 1, got ${stride}`);
    if (!(Number.isInteger(pad) && pad >= 0)) throw new ShapeError(`${op}: pad must be a whole number >= 0, got ${pad}`);
    const { ho, wo } = convOutputSize(s);
    if (ho < 1 || wo < 1) throw new ShapeError(`${op}: a ${dims(s.kh, s.kw)} kernel with pad ${pad} does not fit a ${dims(s.h, s.w)} input`);
    const g = this.cg;
    g.ho = ho;
    g.wo = wo;
    g.kk = s.kh * s.kw * s.c;
    g.rows = s.batch * ho * wo;
    g.stride = stride;
    g.pad = pad;
    return g;
  }
  private convMatmul(m: number, n: number, k: number, layout: MatmulLayout, bias: F32 | undefined, accumulate: boolean): MatmulOptions {
    const o = this.cm;
    o.m = m;
    o.n = n;
    o.k = k;
    o.layout = layout;
    o.bias = bias;
    o.accumulate = accumulate;
    return o;
  }

  /** The arguments im2col (col, x, ...) and col2im (dx, dcol, ...) share; their range (r0 r1 or b0 b1) follows. */
  private convArgs(name: 'im2col' | 'col2im', p0: number, p1: number, s: ConvShape, g: { stride: number; pad: number; ho: number; wo: number }): number[] {
    const v = this.argv[name]; // p0 p1 batch h w c kh kw stride pad ho wo
    v[0] = p0;
    v[1] = p1;
    v[2] = s.batch;
    v[3] = s.h;
    v[4] = s.w;
    v[5] = s.c;
    v[6] = s.kh;
    v[7] = s.kw;
    v[8] = g.stride;
    v[9] = g.pad;
    v[10] = g.ho;
    v[11] = g.wo;
    return v;
  }

  /**
   * out (batch,ho,wo,outChannels) = conv(x (batch,h,w,c), w (kh·kw·c, outChannels)) + bias; col is (batch·ho·wo, kh·kw·c) scratch.
   * Aliasing: out and col overlap nothing (im2col writes col while x is read; the matmul writes out
   * while col, w and bias are read; out = x is correct today only because im2col runs first).
   */
  conv2d(out: F32, x: F32, w: F32, bias: F32 | null, col: F32, s: ConvShape): void {
    const op = 'conv2d';
    const g = this.conv(op, s);
    const xp = this.buf(op, 'x', x, s.batch * s.h * s.w * s.c, 'batch×h×w×c', s.batch, s.h, s.w, s.c);
    const colp = this.buf(op, 'col', col, g.rows * g.kk, '(batch·ho·wo)×(kh·kw·c)', g.rows, g.kk);
    this.apart(op, 'out', out, 'x', x);
    this.apart(op, 'out', out, 'w', w);
    this.apart(op, 'out', out, 'bias', bias);
    this.apart(op, 'col', col, 'x', x);
    this.apart(op, 'col', col, 'w', w);
    this.apart(op, 'col', col, 'bias', bias);
    this.distinct(op, 'out', out, 'col', col);
    this.split('im2col', this.convArgs('im2col', colp, xp, s, g), 12, g.rows, 1, g.rows * g.kk * 8, -1);
    this.matmul(out, col, w, this.convMatmul(g.rows, s.outChannels, g.kk, 'nn', bias ?? undefined, false));
  }

  /**
   * dw += colᵀ·dout, dbias += Σ dout, dx += col2im(dout·wᵀ) (dx may be null for a first layer); dcol is scratch like col.
   * Aliasing: dx, dw, dbias and dcol (used only with dx) overlap nothing: not each other, nor dout, col or w.
   */
  conv2dBackward(dx: F32 | null, dw: F32, dbias: F32 | null, dout: F32, col: F32, w: F32, dcol: F32, s: ConvShape): void {
    const op = 'conv2dBackward';
    const g = this.conv(op, s);
    const { rows, kk } = g;
    const dc = dx ? dcol : null;
    this.readOnly(op, 'dx', dx, dout, col, w);
    this.readOnly(op, 'dw', dw, dout, col, w);
    this.readOnly(op, 'dbias', dbias, dout, col, w);
    this.readOnly(op, 'dcol', dc, dout, col, w);
    this.distinct(op, 'dx', dx, 'dw', dw);
    this.distinct(op, 'dx', dx, 'dbias', dbias);
    this.distinct(op, 'dx', dx, 'dcol', dc);
    this.distinct(op, 'dw', dw, 'dbias', dbias);
    this.distinct(op, 'dw', dw, 'dcol', dc);
    this.distinct(op, 'dbias', dbias, 'dcol', dc);
    this.matmul(dw, col, dout, this.convMatmul(kk, s.outChannels, rows, 'tn', undefined, true));
    if (dbias) this.biasAddBackward(dbias, dout, rows, s.outChannels);
    if (!dx) return;
    this.matmul(dcol, dout, w, this.convMatmul(rows, kk, s.outChannels, 'nt', undefined, false));
    const dxp = this.buf(op, 'dx', dx, s.batch * s.h * s.w * s.c, 'batch×h×w×c', s.batch, s.h, s.w, s.c);
    // g is still this convolution's geometry: matmul does not touch it.
    this.split('col2im', this.convArgs('col2im', dxp, dcol.ptr, s, g), 12, s.batch, 1, rows * kk * 8, -1);
  }
  /** conv2dBackward's written buffer b must not overlap its inputs dout, col and w. */
  private readOnly(op: string, name: string, b: F32 | null, dout: F32, col: F32, w: F32): void {
    this.apart(op, name, b, 'dout', dout);
    this.apart(op, name, b, 'col', col);
    this.apart(op, name, b, 'w', w);
  }

  /**
   * out, argmax (batch,ho,wo,c) = k×k max-pooling of x (batch,h,w,c), stride defaults to k.
   * Aliasing: out and argmax overlap nothing (windows of x are read after earlier outputs are stored).
   */
  maxPool(out: F32, argmax: I32, x: F32, s: PoolShape): void {
    const op = 'maxPool';
    this.size(op, 'batch', s.batch);
    this.size(op, 'h', s.h);
    this.size(op, 'w', s.w);
    this.size(op, 'c', s.c);
    this.size(op, 'k', s.k);
    const stride = s.stride ?? s.k;
    if (s.k < 1 || stride < 1 || s.k > s.h || s.k > s.w) throw new ShapeError(`maxPool: window ${s.k} (stride ${stride}) does not fit a ${dims(s.h, s.w)} input`);
    const { ho, wo } = poolOutputSize(s);
    const n = s.batch * ho * wo * s.c;
    const v = this.argv.max_pool_forward; // out argmax x batch h w c k stride ho wo b0 b1
    v[0] = this.buf(op, 'out', out, n, 'batch×ho×wo×c', s.batch, ho, wo, s.c);
    v[1] = this.ibuf(op, 'argmax', argmax, n, 'batch×ho×wo×c', s.batch, ho, wo, s.c);
    v[2] = this.buf(op, 'x', x, s.batch * s.h * s.w * s.c, 'batch×h×w×c', s.batch, s.h, s.w, s.c);
    this.apart(op, 'out', out, 'x', x);
    this.apart(op, 'argmax', argmax, 'x', x);
    this.distinct(op, 'out', out, 'argmax', argmax);
    v[3] = s.batch;
    v[4] = s.h;
    v[5] = s.w;
    v[6] = s.c;
    v[7] = s.k;
    v[8] = stride;
    v[9] = ho;
    v[10] = wo;
    this.split('max_pool_forward', v, 11, s.batch, 1, n * s.k * s.k * 8, -1);
  }
  /**
   * dx[argmax[i]] += dout[i]; argmax must come from maxPool over a buffer the size of dx.
   * Aliasing: dx must not overlap dout (dx is scattered into while dout is read) nor argmax (its
   * checked indices could change under the writes).
   */
  maxPoolBackward(dx: F32, dout: F32, argmax: I32): void {
    const op = 'maxPoolBackward';
    const n = this.same(op, 'dout and argmax', dout, argmax);
    const idx = this.arena.viewI32(argmax);
    for (let i = 0; i < n; i++) if (!(idx[i] >= 0 && idx[i] < dx.length)) throw new RangeError(`${op}: argmax[${i}] = ${idx[i]} is outside dx (${dx.length} elements)`);
    const d = this.buf(op, 'dx', dx, dx.length),
      g = this.buf(op, 'dout', dout, n),
      a = this.ibuf(op, 'argmax', argmax, n);
    this.apart(op, 'dx', dx, 'dout', dout);
    this.apart(op, 'dx', dx, 'argmax', argmax);
    this.raw.max_pool_backward(d, g, a, n);
  }

  // ---- flat vectors ---------------------------------------------------------------------------

  /** Σ x·y. Aliasing: writes nothing (x may be y). */
  dot(x: F32, y: F32): number {
    const n = this.same('dot', 'x and y', x, y);
    return this.raw.dot(this.buf('dot', 'x', x, n), this.buf('dot', 'y', y, n), n) as number;
  }
  /** Σ x². Aliasing: writes nothing. */
  sumsq(x: F32): number {
    return this.raw.sumsq(this.buf('sumsq', 'x', x, x.length), x.length) as number;
  }
  /** y += a·x. Aliasing: y may be x itself (element-wise: y = (1 + a)·y). */
  axpy(y: F32, x: F32, a: number): void {
    const n = this.same('axpy', 'y and x', y, x);
    const v = this.argv.axpy; // y x n a
    v[0] = this.buf('axpy', 'y', y, n);
    v[1] = this.buf('axpy', 'x', x, n);
    this.inPlace('axpy', 'y', y, 'x', x);
    v[2] = n;
    v[3] = this.finite('axpy', 'a', a);
    this.elementwise('axpy', v, 2);
  }
  /** x *= a. Aliasing: one buffer, updated in place. */
  scale(x: F32, a: number): void {
    const v = this.argv.scale; // x n a
    v[0] = this.buf('scale', 'x', x, x.length);
    v[1] = x.length;
    v[2] = this.finite('scale', 'a', a);
    this.elementwise('scale', v, 1);
  }
  /** x = value. Aliasing: one buffer. */
  fill(x: F32, value: number): void {
    const v = this.argv.fill; // x n v
    v[0] = this.buf('fill', 'x', x, x.length);
    v[1] = x.length;
    v[2] = value;
    this.elementwise('fill', v, 1);
  }
  /**
   * dst = src. Aliasing: dst may be src itself (a no-op); a partial overlap is rejected: split over
   * the pool, one thread would overwrite source elements another has yet to read.
   */
  copy(dst: F32, src: F32): void {
    const n = this.same('copy', 'dst and src', dst, src);
    const v = this.argv.copy; // dst src n
    v[0] = this.buf('copy', 'dst', dst, n);
    v[1] = this.buf('copy', 'src', src, n);
    this.inPlace('copy', 'dst', dst, 'src', src);
    v[2] = n;
    this.elementwise('copy', v, 2);
  }

  // ---- audio ----------------------------------------------------------------------------------

  /** Frames of an STFT over `len` samples: the last frame is zero-padded so no sample is dropped. */
  static stftFrames(len: number, nfft: number, hop: number): number {
    return len <= nfft ? 1 : 1 + Math.ceil((len - nfft) / hop);
  }

  /** out (frames, nfft/2+1) = power spectrogram of signal with a periodic Hann window. Aliasing: out must not overlap signal (later frames are read after earlier rows of out are stored). */
  stftPower(out: F32, signal: F32, nfft: number, hop: number): number {
    const op = 'stftPower';
    if (!(Number.isInteger(nfft) && nfft >= 2 && (nfft & (nfft - 1)) === 0 && nfft <= 65536)) throw new RangeError(`${op}: nfft must be a power of two from 2 to 65536, got ${nfft}`);
    if (!(Number.isInteger(hop) && hop >= 1)) throw new RangeError(`${op}: hop must be a whole number >= 1, got ${hop}`);
    if (signal.length < 1) throw new ShapeError(`${op}: the signal is empty`);
    const frames = Kernels.stftFrames(signal.length, nfft, hop);
    const bins = nfft / 2 + 1;
    const o = this.buf(op, 'out', out, frames * bins, 'frames×(nfft/2+1)', frames, bins);
    const sp = this.buf(op, 'signal', signal, signal.length);
    this.apart(op, 'out', out, 'signal', signal);
    const mark = this.arena.mark();
    try {
      const scratch = this.arena.f32(8 * nfft);
      this.raw.stft_power(o, sp, signal.length, nfft, hop, frames, scratch.ptr);
    } finally {
      this.arena.release(mark);
    }
    return frames;
  }

  /** out = log(max(x, eps)). Aliasing: out may be x itself (element-wise). */
  logEps(out: F32, x: F32, eps = 1e-10): void {
    const n = this.same('logEps', 'out and x', out, x);
    if (!(eps > 0)) throw new RangeError(`logEps: eps must be > 0, got ${eps}`);
    const o = this.buf('logEps', 'out', out, n),
      i = this.buf('logEps', 'x', x, n);
    this.inPlace('logEps', 'out', out, 'x', x);
    this.raw.log_eps(o, i, n, eps);
  }

  /**
   * out (n, dim) = rows idx[i] of src (rows, dim): the batch gather, entirely in WebAssembly.
   * Aliasing: out must not overlap src (a row may be read after it is overwritten, by this or another
   * thread) nor idx (its checked indices could change under the writes).
   */
  gatherRows(out: F32, src: F32, idx: I32, n: number, dim: number): void {
    const op = 'gatherRows';
    this.size(op, 'n', n);
    this.size(op, 'dim', dim);
    if (dim === 0 || src.length % dim !== 0) throw new ShapeError(`${op}: src has ${src.length} elements, not a whole number of rows of ${dim}`);
    const rows = src.length / dim;
    const ip = this.ibuf(op, 'idx', idx, n, 'n', n);
    const iv = this.arena.heapI32,
      at = ip >> 2;
    for (let i = 0; i < n; i++) if (!(iv[at + i] >= 0 && iv[at + i] < rows)) throw new RangeError(`${op}: idx[${i}] = ${iv[at + i]} is outside the ${rows} rows of src`);
    const v = this.argv.gather_rows; // out src idx n dim r0 r1
    v[0] = this.buf(op, 'out', out, n * dim, 'n×dim', n, dim);
    v[1] = this.buf(op, 'src', src, src.length);
    v[2] = ip;
    this.apart(op, 'out', out, 'src', src);
    this.apart(op, 'out', out, 'idx', idx);
    v[3] = n;
    v[4] = dim;
    // Rows are copied from scattered places (memory latency bound): worth splitting like im2col.
    this.split('gather_rows', v, 5, n, 1, n * dim * 8, -1);
  }

  // ---- optimisers -----------------------------------------------------------------------------

  /**
   * SGD with momentum and L2 weight decay over flat buffers p, g, velocity v.
   * Aliasing: params or velocity may be grads itself (element-wise: g[i] is read before p[i] and
   * v[i] are written); params and velocity must not overlap.
   */
  sgdStep(p: F32, g: F32, v: F32, o: { lr: number; momentum?: number; weightDecay?: number; nesterov?: boolean }): void {
    const op = 'sgdStep';
    const n = this.same(op, 'params, grads and velocity', p, g, v);
    const a = this.argv.sgd_step; // p g v n lr momentum wd nesterov
    a[0] = this.buf(op, 'params', p, n);
    a[1] = this.buf(op, 'grads', g, n);
    a[2] = this.buf(op, 'velocity', v, n);
    this.inPlace(op, 'params', p, 'grads', g);
    this.inPlace(op, 'velocity', v, 'grads', g);
    this.distinct(op, 'params', p, 'velocity', v);
    a[3] = n;
    a[4] = this.finite(op, 'lr', o.lr);
    a[5] = this.finite(op, 'momentum', o.momentum ?? 0);
    a[6] = this.finite(op, 'weightDecay', o.weightDecay ?? 0);
    a[7] = o.nesterov ? 1 : 0;
    this.elementwise('sgd_step', a, 3);
  }

  /**
   * AdamW at step t >= 1 over flat buffers p, g, moments m and v.
   * Aliasing: params, m or v may be grads itself (element-wise: g[i] is read first); params, m and v
   * must not overlap one another.
   */
  adamwStep(p: F32, g: F32, m: F32, v: F32, o: { lr: number; step: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number }): void {
    const op = 'adamwStep';
    const n = this.same(op, 'params, grads, m and v', p, g, m, v);
    if (!(Number.isInteger(o.step) && o.step >= 1)) throw new RangeError(`${op}: step must be a whole number >= 1, got ${o.step}`);
    const b1 = o.beta1 ?? 0.9,
      b2 = o.beta2 ?? 0.999;
    if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1)) throw new RangeError(`${op}: beta1 and beta2 must be in [0, 1), got ${b1}, ${b2}`);
    const a = this.argv.adamw_step; // p g m v n lr beta1 beta2 eps wd t
    a[0] = this.buf(op, 'params', p, n);
    a[1] = this.buf(op, 'grads', g, n);
    a[2] = this.buf(op, 'm', m, n);
    a[3] = this.buf(op, 'v', v, n);
    this.inPlace(op, 'params', p, 'grads', g);
    this.inPlace(op, 'm', m, 'grads', g);
    this.inPlace(op, 'v', v, 'grads', g);
    this.distinct(op, 'params', p, 'm', m);
    this.distinct(op, 'params', p, 'v', v);
    this.distinct(op, 'm', m, 'v', v);
    a[4] = n;
    a[5] = this.finite(op, 'lr', o.lr);
    a[6] = b1;
    a[7] = b2;
    a[8] = o.eps ?? 1e-8;
    a[9] = this.finite(op, 'weightDecay', o.weightDecay ?? 0);
    a[10] = o.step;
    this.elementwise('adamw_step', a, 4);
  }

  // ---- random numbers -------------------------------------------------------------------------

  /** A new generator state (4 words) seeded from (seed, stream). Aliasing: takes no buffer. */
  rng(seed: number, stream = 0): I32 {
    if (!Number.isInteger(seed) || !Number.isInteger(stream)) throw new RangeError(`rng: seed and stream must be whole numbers, got ${seed}, ${stream}`);
    const state = this.arena.i32(4);
    this.raw.rng(state.ptr, seed | 0, stream | 0);
    return state;
  }
  /** Next raw u32 draw. Aliasing: one buffer (the state, updated in place). */
  rngNext(state: I32): number {
    return (this.raw.rng_next(this.ibuf('rngNext', 'state', state, 4)) as number) >>> 0;
  }
  /** out = uniform draws in [lo, hi). Aliasing: out and state are both written: they must not overlap. */
  uniform(out: F32, state: I32, lo = 0, hi = 1): void {
    const o = this.buf('uniform', 'out', out, out.length),
      s = this.ibuf('uniform', 'state', state, 4);
    this.distinct('uniform', 'out', out, 'state', state);
    this.raw.uniform(o, out.length, s, lo, hi);
  }
  /** out = normal draws. Aliasing: out and state are both written: they must not overlap. */
  normal(out: F32, state: I32, mean = 0, std = 1): void {
    const o = this.buf('normal', 'out', out, out.length),
      s = this.ibuf('normal', 'state', state, 4);
    this.distinct('normal', 'out', out, 'state', state);
    this.raw.normal(o, out.length, s, mean, std);
  }
  /** out = a random permutation of 0..n-1. Aliasing: out and state are both written: they must not overlap. */
  permutation(out: I32, state: I32): void {
    const o = this.ibuf('permutation', 'out', out, out.length),
      s = this.ibuf('permutation', 'state', state, 4);
    this.distinct('permutation', 'out', out, 'state', state);
    this.raw.permutation(o, out.length, s);
  }
}
