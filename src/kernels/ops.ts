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
 */
import { ARENA_BASE, type Arena, type F32, type I32 } from '../runtime/arena.js';
import type { WorkerPool } from '../runtime/pool.js';
import { KERNEL_NAMES, KERNELS, type KernelName, type RawKernels } from './spec.js';

export class ShapeError extends Error {
  readonly code = 'SHAPE_MISMATCH';
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

  /** C (m,n) = (accumulate ? C : 0) + bias + op(A)·op(B); see MatmulOptions for the layouts. */
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

  /** out (rows,cols) = x + bias (cols). */
  biasAdd(out: F32, x: F32, bias: F32, rows: number, cols: number): void {
    this.rowsCols('biasAdd', rows, cols);
    this.raw.bias_add_forward(this.rc('biasAdd', 'out', out, rows, cols), this.rc('biasAdd', 'x', x, rows, cols), this.buf('biasAdd', 'bias', bias, cols, 'cols', cols), rows, cols);
  }
  /** dbias (cols) += column sums of dout (rows,cols). */
  biasAddBackward(dbias: F32, dout: F32, rows: number, cols: number): void {
    this.rowsCols('biasAddBackward', rows, cols);
    this.raw.bias_add_backward(this.buf('biasAddBackward', 'dbias', dbias, cols, 'cols', cols), this.rc('biasAddBackward', 'dout', dout, rows, cols), rows, cols);
  }

  relu(out: F32, x: F32): void {
    const n = this.same('relu', 'out and x', out, x);
    const v = this.argv.relu_forward; // out x n
    v[0] = this.buf('relu', 'out', out, n);
    v[1] = this.buf('relu', 'x', x, n);
    v[2] = n;
    this.elementwise('relu_forward', v, 2);
  }
  reluBackward(dx: F32, dout: F32, x: F32): void {
    const n = this.same('reluBackward', 'dx, dout and x', dx, dout, x);
    const v = this.argv.relu_backward; // dx dout x n
    v[0] = this.buf('reluBackward', 'dx', dx, n);
    v[1] = this.buf('reluBackward', 'dout', dout, n);
    v[2] = this.buf('reluBackward', 'x', x, n);
    v[3] = n;
    this.elementwise('relu_backward', v, 3);
  }

  gelu(out: F32, x: F32): void {
    const n = this.same('gelu', 'out and x', out, x);
    const v = this.argv.gelu_forward; // out x n
    v[0] = this.buf('gelu', 'out', out, n);
    v[1] = this.buf('gelu', 'x', x, n);
    v[2] = n;
    this.elementwise('gelu_forward', v, 2);
  }
  geluBackward(dx: F32, dout: F32, x: F32): void {
    const n = this.same('geluBackward', 'dx, dout and x', dx, dout, x);
    const v = this.argv.gelu_backward; // dx dout x n
    v[0] = this.buf('geluBackward', 'dx', dx, n);
    v[1] = this.buf('geluBackward', 'dout', dout, n);
    v[2] = this.buf('geluBackward', 'x', x, n);
    v[3] = n;
    this.elementwise('gelu_backward', v, 3);
  }

  /** Inverted dropout with drop probability p in [0, 1); mask is kept for the backward pass. */
  dropout(out: F32, mask: F32, x: F32, p: number, rng: I32): void {
    const n = this.same('dropout', 'out, mask and x', out, mask, x);
    if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
    this.raw.dropout_forward(this.buf('dropout', 'out', out, n), this.buf('dropout', 'mask', mask, n), this.buf('dropout', 'x', x, n), n, p, this.ibuf('dropout', 'rng', rng, 4));
  }
  dropoutBackward(dx: F32, dout: F32, mask: F32): void {
    const n = this.same('dropoutBackward', 'dx, dout and mask', dx, dout, mask);
    this.raw.dropout_backward(this.buf('dropoutBackward', 'dx', dx, n), this.buf('dropoutBackward', 'dout', dout, n), this.buf('dropoutBackward', 'mask', mask, n), n);
  }

  // ---- softmax and losses ---------------------------------------------------------------------

  private rowsCols(op: string, rows: number, cols: number): void {
    this.size(op, 'rows', rows);
    this.size(op, 'cols', cols);
  }

  softmax(out: F32, x: F32, rows: number, cols: number): void {
    this.rowsCols('softmax', rows, cols);
    const o = this.rc('softmax', 'out', out, rows, cols),
      i = this.rc('softmax', 'x', x, rows, cols);
    this.raw.softmax_forward(o, i, rows, cols);
  }
  softmaxBackward(dx: F32, dy: F32, y: F32, rows: number, cols: number): void {
    this.rowsCols('softmaxBackward', rows, cols);
    const a = this.rc('softmaxBackward', 'dx', dx, rows, cols),
      b = this.rc('softmaxBackward', 'dy', dy, rows, cols),
      c = this.rc('softmaxBackward', 'y', y, rows, cols);
    this.raw.softmax_backward(a, b, c, rows, cols);
  }
  logSoftmax(out: F32, x: F32, rows: number, cols: number): void {
    this.rowsCols('logSoftmax', rows, cols);
    const o = this.rc('logSoftmax', 'out', out, rows, cols),
      i = this.rc('logSoftmax', 'x', x, rows, cols);
    this.raw.log_softmax_forward(o, i, rows, cols);
  }
  logSoftmaxBackward(dx: F32, dy: F32, y: F32, rows: number, cols: number): void {
    this.rowsCols('logSoftmaxBackward', rows, cols);
    const a = this.rc('logSoftmaxBackward', 'dx', dx, rows, cols),
      b = this.rc('logSoftmaxBackward', 'dy', dy, rows, cols),
      c = this.rc('logSoftmaxBackward', 'y', y, rows, cols);
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

  /** probs = softmax(logits); returns the mean cross-entropy over rows. */
  softmaxCrossEntropy(probs: F32, logits: F32, labels: I32, rows: number, cols: number): number {
    this.rowsCols('softmaxCrossEntropy', rows, cols);
    const p = this.rc('softmaxCrossEntropy', 'probs', probs, rows, cols),
      z = this.rc('softmaxCrossEntropy', 'logits', logits, rows, cols);
    return this.raw.softmax_xent_forward(p, z, this.labels('softmaxCrossEntropy', labels, rows, cols), rows, cols) as number;
  }
  /** dlogits += scale · (probs − onehot) / rows. */
  softmaxCrossEntropyBackward(dlogits: F32, probs: F32, labels: I32, rows: number, cols: number, scale = 1): void {
    this.rowsCols('softmaxCrossEntropyBackward', rows, cols);
    const d = this.rc('softmaxCrossEntropyBackward', 'dlogits', dlogits, rows, cols),
      p = this.rc('softmaxCrossEntropyBackward', 'probs', probs, rows, cols);
    this.raw.softmax_xent_backward(d, p, this.labels('softmaxCrossEntropyBackward', labels, rows, cols), rows, cols, this.finite('softmaxCrossEntropyBackward', 'scale', scale));
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

  /** pm = softmax(zm/T); returns mean Jensen-Shannon divergence JS(pa || pm). */
  jsDivergence(pm: F32, pa: F32, zm: F32, rows: number, cols: number, o: DivergenceOptions = {}): number {
    const invT = this.invT('jsDivergence', o),
      eps = this.eps('jsDivergence', o);
    this.rowsCols('jsDivergence', rows, cols);
    const a = this.rc('jsDivergence', 'pm', pm, rows, cols),
      b = this.rc('jsDivergence', 'pa', pa, rows, cols),
      c = this.rc('jsDivergence', 'zm', zm, rows, cols);
    return this.raw.js_forward(a, b, c, rows, cols, invT, eps) as number;
  }
  /** dzm += scale · ∂ mean JS / ∂zm (the anchor pa is constant). */
  jsDivergenceBackward(dzm: F32, pa: F32, pm: F32, rows: number, cols: number, o: DivergenceOptions & { scale?: number } = {}): void {
    const invT = this.invT('jsDivergenceBackward', o),
      eps = this.eps('jsDivergenceBackward', o);
    this.rowsCols('jsDivergenceBackward', rows, cols);
    const a = this.rc('jsDivergenceBackward', 'dzm', dzm, rows, cols),
      b = this.rc('jsDivergenceBackward', 'pa', pa, rows, cols),
      c = this.rc('jsDivergenceBackward', 'pm', pm, rows, cols);
    this.raw.js_backward(a, b, c, rows, cols, invT, eps, this.finite('jsDivergenceBackward', 'scale', o.scale ?? 1));
  }
  /** pm = softmax(zm/T); returns mean KL(pa || pm). */
  klDivergence(pm: F32, pa: F32, zm: F32, rows: number, cols: number, o: DivergenceOptions = {}): number {
    const invT = this.invT('klDivergence', o),
      eps = this.eps('klDivergence', o);
    this.rowsCols('klDivergence', rows, cols);
    const a = this.rc('klDivergence', 'pm', pm, rows, cols),
      b = this.rc('klDivergence', 'pa', pa, rows, cols),
      c = this.rc('klDivergence', 'zm', zm, rows, cols);
    return this.raw.kl_forward(a, b, c, rows, cols, invT, eps) as number;
  }
  klDivergenceBackward(dzm: F32, pa: F32, pm: F32, rows: number, cols: number, o: DivergenceOptions & { scale?: number } = {}): void {
    const invT = this.invT('klDivergenceBackward', o);
    this.eps('klDivergenceBackward', o);
    this.rowsCols('klDivergenceBackward', rows, cols);
    const a = this.rc('klDivergenceBackward', 'dzm', dzm, rows, cols),
      b = this.rc('klDivergenceBackward', 'pa', pa, rows, cols),
      c = this.rc('klDivergenceBackward', 'pm', pm, rows, cols);
    this.raw.kl_backward(a, b, c, rows, cols, invT, this.finite('klDivergenceBackward', 'scale', o.scale ?? 1));
  }
  /** Mean predictive entropy −Σ p log p over rows. */
  entropy(p: F32, rows: number, cols: number, eps = 1e-7): number {
    this.rowsCols('entropy', rows, cols);
    const a = this.rc('entropy', 'p', p, rows, cols);
    return this.raw.entropy(a, rows, cols, eps) as number;
  }

  // ---- the complementary (cross-correlation) loss ---------------------------------------------

  /** xhat (rows,cols) = x standardised per column over rows; invstd (cols). */
  standardize(xhat: F32, invstd: F32, x: F32, rows: number, cols: number, eps = 1e-5): void {
    this.rowsCols('standardize', rows, cols);
    const a = this.rc('standardize', 'xhat', xhat, rows, cols),
      b = this.rc('standardize', 'x', x, rows, cols);
    this.raw.standardize_forward(a, this.buf('standardize', 'invstd', invstd, cols, 'cols', cols), b, rows, cols, eps);
  }
  standardizeBackward(dx: F32, dxhat: F32, xhat: F32, invstd: F32, rows: number, cols: number): void {
    this.rowsCols('standardizeBackward', rows, cols);
    const a = this.rc('standardizeBackward', 'dx', dx, rows, cols),
      b = this.rc('standardizeBackward', 'dxhat', dxhat, rows, cols),
      c = this.rc('standardizeBackward', 'xhat', xhat, rows, cols);
    this.raw.standardize_backward(a, b, c, this.buf('standardizeBackward', 'invstd', invstd, cols, 'cols', cols), rows, cols);
  }

  /**
   * Mean squared cross-correlation between standardised f (rows,d1) and ghat (rows,d2, already
   * standardised). Writes c (d1,d2), fhat (rows,d1), invstd (d1) for the backward pass.
   */
  crossCorrelation(c: F32, fhat: F32, invstd: F32, f: F32, ghat: F32, rows: number, d1: number, d2: number, eps = 1e-5): number {
    const op = 'crossCorrelation';
    return this.raw.xcorr_forward(
      this.buf(op, 'c', c, d1 * d2, 'd1×d2', d1, d2),
      this.buf(op, 'fhat', fhat, rows * d1, 'rows×d1', rows, d1),
      this.buf(op, 'invstd', invstd, d1, 'd1', d1),
      this.buf(op, 'f', f, rows * d1, 'rows×d1', rows, d1),
      this.buf(op, 'ghat', ghat, rows * d2, 'rows×d2', rows, d2),
      rows,
      d1,
      d2,
      eps,
    ) as number;
  }
  /** df (rows,d1) += scale · ∂L/∂f; work is a (rows,d1) scratch buffer. */
  crossCorrelationBackward(df: F32, c: F32, fhat: F32, invstd: F32, ghat: F32, rows: number, d1: number, d2: number, scale: number, work: F32): void {
    const op = 'crossCorrelationBackward';
    this.raw.xcorr_backward(
      this.buf(op, 'df', df, rows * d1, 'rows×d1', rows, d1),
      this.buf(op, 'c', c, d1 * d2, 'd1×d2', d1, d2),
      this.buf(op, 'fhat', fhat, rows * d1, 'rows×d1', rows, d1),
      this.buf(op, 'invstd', invstd, d1, 'd1', d1),
      this.buf(op, 'ghat', ghat, rows * d2, 'rows×d2', rows, d2),
      rows,
      d1,
      d2,
      this.finite(op, 'scale', scale),
      this.buf(op, 'work', work, rows * d1, 'rows×d1', rows, d1),
    );
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

  /** out (batch,ho,wo,outChannels) = conv(x (batch,h,w,c), w (kh·kw·c, outChannels)) + bias; col is (batch·ho·wo, kh·kw·c) scratch. */
  conv2d(out: F32, x: F32, w: F32, bias: F32 | null, col: F32, s: ConvShape): void {
    const op = 'conv2d';
    const g = this.conv(op, s);
    const xp = this.buf(op, 'x', x, s.batch * s.h * s.w * s.c, 'batch×h×w×c', s.batch, s.h, s.w, s.c);
    const colp = this.buf(op, 'col', col, g.rows * g.kk, '(batch·ho·wo)×(kh·kw·c)', g.rows, g.kk);
    this.split('im2col', this.convArgs('im2col', colp, xp, s, g), 12, g.rows, 1, g.rows * g.kk * 8, -1);
    this.matmul(out, col, w, this.convMatmul(g.rows, s.outChannels, g.kk, 'nn', bias ?? undefined, false));
  }

  /** dw += colᵀ·dout, dbias += Σ dout, dx += col2im(dout·wᵀ) (dx may be null for a first layer); dcol is scratch like col. */
  conv2dBackward(dx: F32 | null, dw: F32, dbias: F32 | null, dout: F32, col: F32, w: F32, dcol: F32, s: ConvShape): void {
    const op = 'conv2dBackward';
    const g = this.conv(op, s);
    const { rows, kk } = g;
    this.matmul(dw, col, dout, this.convMatmul(kk, s.outChannels, rows, 'tn', undefined, true));
    if (dbias) this.biasAddBackward(dbias, dout, rows, s.outChannels);
    if (!dx) return;
    this.matmul(dcol, dout, w, this.convMatmul(rows, kk, s.outChannels, 'nt', undefined, false));
    const dxp = this.buf(op, 'dx', dx, s.batch * s.h * s.w * s.c, 'batch×h×w×c', s.batch, s.h, s.w, s.c);
    // g is still this convolution's geometry: matmul does not touch it.
    this.split('col2im', this.convArgs('col2im', dxp, dcol.ptr, s, g), 12, s.batch, 1, rows * kk * 8, -1);
  }

  /** out, argmax (batch,ho,wo,c) = k×k max-pooling of x (batch,h,w,c), stride defaults to k. */
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
    const v = this.argv.maxpool_forward; // out argmax x batch h w c k stride ho wo b0 b1
    v[0] = this.buf(op, 'out', out, n, 'batch×ho×wo×c', s.batch, ho, wo, s.c);
    v[1] = this.ibuf(op, 'argmax', argmax, n, 'batch×ho×wo×c', s.batch, ho, wo, s.c);
    v[2] = this.buf(op, 'x', x, s.batch * s.h * s.w * s.c, 'batch×h×w×c', s.batch, s.h, s.w, s.c);
    v[3] = s.batch;
    v[4] = s.h;
    v[5] = s.w;
    v[6] = s.c;
    v[7] = s.k;
    v[8] = stride;
    v[9] = ho;
    v[10] = wo;
    this.split('maxpool_forward', v, 11, s.batch, 1, n * s.k * s.k * 8, -1);
  }
  /** dx[argmax[i]] += dout[i]; argmax must come from maxPool over a buffer the size of dx. */
  maxPoolBackward(dx: F32, dout: F32, argmax: I32): void {
    const op = 'maxPoolBackward';
    const n = this.same(op, 'dout and argmax', dout, argmax);
    const idx = this.arena.viewI32(argmax);
    for (let i = 0; i < n; i++) if (!(idx[i] >= 0 && idx[i] < dx.length)) throw new RangeError(`${op}: argmax[${i}] = ${idx[i]} is outside dx (${dx.length} elements)`);
    this.raw.maxpool_backward(this.buf(op, 'dx', dx, dx.length), this.buf(op, 'dout', dout, n), this.ibuf(op, 'argmax', argmax, n), n);
  }

  // ---- flat vectors ---------------------------------------------------------------------------

  dot(x: F32, y: F32): number {
    const n = this.same('dot', 'x and y', x, y);
    return this.raw.dot(this.buf('dot', 'x', x, n), this.buf('dot', 'y', y, n), n) as number;
  }
  sumsq(x: F32): number {
    return this.raw.sumsq(this.buf('sumsq', 'x', x, x.length), x.length) as number;
  }
  /** y += a·x */
  axpy(y: F32, x: F32, a: number): void {
    const n = this.same('axpy', 'y and x', y, x);
    const v = this.argv.axpy; // y x n a
    v[0] = this.buf('axpy', 'y', y, n);
    v[1] = this.buf('axpy', 'x', x, n);
    v[2] = n;
    v[3] = this.finite('axpy', 'a', a);
    this.elementwise('axpy', v, 2);
  }
  scale(x: F32, a: number): void {
    const v = this.argv.scale; // x n a
    v[0] = this.buf('scale', 'x', x, x.length);
    v[1] = x.length;
    v[2] = this.finite('scale', 'a', a);
    this.elementwise('scale', v, 1);
  }
  fill(x: F32, value: number): void {
    const v = this.argv.fill; // x n v
    v[0] = this.buf('fill', 'x', x, x.length);
    v[1] = x.length;
    v[2] = value;
    this.elementwise('fill', v, 1);
  }
  copy(dst: F32, src: F32): void {
    const n = this.same('copy', 'dst and src', dst, src);
    const v = this.argv.copy; // dst src n
    v[0] = this.buf('copy', 'dst', dst, n);
    v[1] = this.buf('copy', 'src', src, n);
    v[2] = n;
    this.elementwise('copy', v, 2);
  }

  // ---- audio ----------------------------------------------------------------------------------

  /** Frames of an STFT over `len` samples: the last frame is zero-padded so no sample is dropped. */
  static stftFrames(len: number, nfft: number, hop: number): number {
    return len <= nfft ? 1 : 1 + Math.ceil((len - nfft) / hop);
  }

  /** out (frames, nfft/2+1) = power spectrogram of signal with a periodic Hann window. */
  stftPower(out: F32, signal: F32, nfft: number, hop: number): number {
    const op = 'stftPower';
    if (!(Number.isInteger(nfft) && nfft >= 2 && (nfft & (nfft - 1)) === 0 && nfft <= 65536)) throw new RangeError(`${op}: nfft must be a power of two from 2 to 65536, got ${nfft}`);
    if (!(Number.isInteger(hop) && hop >= 1)) throw new RangeError(`${op}: hop must be a whole number >= 1, got ${hop}`);
    if (signal.length < 1) throw new ShapeError(`${op}: the signal is empty`);
    const frames = Kernels.stftFrames(signal.length, nfft, hop);
    const bins = nfft / 2 + 1;
    const o = this.buf(op, 'out', out, frames * bins, 'frames×(nfft/2+1)', frames, bins);
    const sp = this.buf(op, 'signal', signal, signal.length);
    const mark = this.arena.mark();
    try {
      const scratch = this.arena.f32(8 * nfft);
      this.raw.stft_power(o, sp, signal.length, nfft, hop, frames, scratch.ptr);
    } finally {
      this.arena.release(mark);
    }
    return frames;
  }

  /** out = log(max(x, eps)). */
  logEps(out: F32, x: F32, eps = 1e-10): void {
    const n = this.same('logEps', 'out and x', out, x);
    if (!(eps > 0)) throw new RangeError(`logEps: eps must be > 0, got ${eps}`);
    this.raw.log_eps(this.buf('logEps', 'out', out, n), this.buf('logEps', 'x', x, n), n, eps);
  }

  /** out (n, dim) = rows idx[i] of src (rows, dim): the batch gather, entirely in WebAssembly. */
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
    v[3] = n;
    v[4] = dim;
    // Rows are copied from scattered places (memory latency bound): worth splitting like im2col.
    this.split('gather_rows', v, 5, n, 1, n * dim * 8, -1);
  }

  // ---- optimisers -----------------------------------------------------------------------------

  /** SGD with momentum and L2 weight decay over flat buffers p, g, velocity v. */
  sgdStep(p: F32, g: F32, v: F32, o: { lr: number; momentum?: number; weightDecay?: number; nesterov?: boolean }): void {
    const op = 'sgdStep';
    const n = this.same(op, 'params, grads and velocity', p, g, v);
    const a = this.argv.sgd_step; // p g v n lr momentum wd nesterov
    a[0] = this.buf(op, 'params', p, n);
    a[1] = this.buf(op, 'grads', g, n);
    a[2] = this.buf(op, 'velocity', v, n);
    a[3] = n;
    a[4] = this.finite(op, 'lr', o.lr);
    a[5] = this.finite(op, 'momentum', o.momentum ?? 0);
    a[6] = this.finite(op, 'weightDecay', o.weightDecay ?? 0);
    a[7] = o.nesterov ? 1 : 0;
    this.elementwise('sgd_step', a, 3);
  }

  /** AdamW at step t >= 1 over flat buffers p, g, moments m and v. */
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

  /** A new generator state (4 words) seeded from (seed, stream). */
  rng(seed: number, stream = 0): I32 {
    if (!Number.isInteger(seed) || !Number.isInteger(stream)) throw new RangeError(`rng: seed and stream must be whole numbers, got ${seed}, ${stream}`);
    const state = this.arena.i32(4);
    this.raw.rng_seed(state.ptr, seed | 0, stream | 0);
    return state;
  }
  /** Next raw u32 draw. */
  rngNext(state: I32): number {
    return (this.raw.rng_next(this.ibuf('rngNext', 'state', state, 4)) as number) >>> 0;
  }
  uniform(out: F32, state: I32, lo = 0, hi = 1): void {
    this.raw.rng_uniform(this.buf('uniform', 'out', out, out.length), out.length, this.ibuf('uniform', 'state', state, 4), lo, hi);
  }
  normal(out: F32, state: I32, mean = 0, std = 1): void {
    this.raw.rng_normal(this.buf('normal', 'out', out, out.length), out.length, this.ibuf('normal', 'state', state, 4), mean, std);
  }
  permutation(out: I32, state: I32): void {
    this.raw.rng_permutation(this.ibuf('permutation', 'out', out, out.length), out.length, this.ibuf('permutation', 'state', state, 4));
  }
}
