/**
 * What every kernel wrapper shares: argument checks that name the shapes, the aliasing checks, and
 * the splitting of a kernel over the worker pool. The wrappers themselves are in ./<family>.ts,
 * composed into `Kernels` by ../ops.ts; all state of a Kernels object is declared here (the family
 * classes only contribute methods).
 */
import { ARENA_BASE, type Arena, type F32, type I32 } from '../../runtime/arena.js';
import type { WorkerPool } from '../../runtime/pool.js';
import { AliasingError, ShapeError } from '../../errors.js';
import { KERNEL_NAMES, KERNELS, type KernelName, type RawKernels } from '../spec.js';
import type { MatmulOptions } from './shapes.js';

/** Matmuls with fewer multiply-adds (and im2col calls with fewer element operations) than this run on the calling thread only. */
const PARALLEL_MIN_MACS = 1 << 17;
/** Element-wise kernels (optimiser steps) over fewer elements than this run on the calling thread only. */
const ELEMENTWISE_PARALLEL_MIN = 1 << 16;

export const dims = (...d: number[]) => d.join('×');

type Buf = F32 | I32;

/** Whether two buffers share a byte (empty ones share none). */
const overlaps = (a: Buf, b: Buf): boolean => a.length > 0 && b.length > 0 && a.ptr < b.ptr + 4 * b.length && b.ptr < a.ptr + 4 * a.length;
/** Whether two buffers are the very same one: same offset, length and kind. */
const identical = (a: Buf, b: Buf): boolean => a.ptr === b.ptr && a.length === b.length && a.kind === b.kind;


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

export class KernelBase {
  protected readonly index: Record<KernelName, number>;
  protected readonly scratchFloats: number;
  /** One reusable argument list per kernel, so a call allocates nothing. */
  protected readonly argv: Record<KernelName, number[]>;
  /** Base pointers of an element-wise call while it is split. */
  protected readonly bases = [0, 0, 0, 0, 0, 0, 0, 0];
  /** A convolution's geometry and its matmuls' options, reused (no object per call). */
  protected readonly cg = { ho: 0, wo: 0, kk: 0, rows: 0, stride: 0, pad: 0 };
  protected readonly cm: MatmulOptions = { m: 0, n: 0, k: 0 };

  constructor(
    readonly raw: RawKernels,
    protected readonly arena: Arena,
    protected readonly pool: WorkerPool | null,
    /** One matmul scratch buffer per thread (index 0 is the calling thread). */
    protected readonly scratch: F32[],
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
  protected buf(op: string, name: string, b: F32, expected: number, shape = '', d0 = -1, d1 = -1, d2 = -1, d3 = -1): number {
    return this.check(op, name, b, 'f32', expected, shape, d0, d1, d2, d3);
  }
  /** Check an i32 buffer of `expected` elements and return its offset. */
  protected ibuf(op: string, name: string, b: I32, expected: number, shape = '', d0 = -1, d1 = -1, d2 = -1, d3 = -1): number {
    return this.check(op, name, b, 'i32', expected, shape, d0, d1, d2, d3);
  }

  protected check(op: string, name: string, b: F32 | I32, kind: 'f32' | 'i32', expected: number, shape: string, d0: number, d1: number, d2: number, d3: number): number {
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
  protected rc(op: string, name: string, b: F32, rows: number, cols: number): number {
    return this.buf(op, name, b, rows * cols, 'rows×cols', rows, cols);
  }

  protected size(op: string, name: string, v: number): number {
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new ShapeError(`${op}: ${name} must be a whole number >= 0, got ${v}`);
    return v;
  }

  protected same(op: string, names: string, a: F32 | I32, b: F32 | I32, c?: F32 | I32, d?: F32 | I32): number {
    const n = a.length;
    if (b.length !== n || (c !== undefined && c.length !== n) || (d !== undefined && d.length !== n)) {
      throw new ShapeError(`${op}: ${names} must have the same length, got ${[a, b, c, d].filter((x) => x !== undefined).map((x) => x!.length).join(', ')}`);
    }
    return n;
  }

  protected finite(op: string, name: string, v: number): number {
    if (!Number.isFinite(v)) throw new RangeError(`${op}: ${name} must be a finite number, got ${v}`);
    return v;
  }

  // ---- aliasing -------------------------------------------------------------------------------
  // Allocation-free on success (a few comparisons per pair); the message is built only on failure.
  // A missing optional buffer (null or undefined) overlaps nothing.

  /** The written buffer w must not overlap the input b: the kernel is not safe in place for them. */
  protected apart(op: string, wn: string, w: Buf | null | undefined, bn: string, b: Buf | null | undefined): void {
    if (w != null && b != null && overlaps(w, b)) this.aliased(op, wn, w, bn, b, 0);
  }
  /** The written buffer w may be the input b itself (the kernel is safe in place for them); any other overlap is rejected. */
  protected inPlace(op: string, wn: string, w: Buf, bn: string, b: Buf): void {
    if (overlaps(w, b) && !identical(w, b)) this.aliased(op, wn, w, bn, b, 1);
  }
  /** Two written buffers must not overlap at all. */
  protected distinct(op: string, an: string, a: Buf | null | undefined, bn: string, b: Buf | null | undefined): void {
    if (a != null && b != null && overlaps(a, b)) this.aliased(op, an, a, bn, b, 2);
  }
  /** why: 0 not safe in place, 1 only b itself, 2 both written. */
  protected aliased(op: string, an: string, a: Buf, bn: string, b: Buf, why: 0 | 1 | 2): never {
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
  protected split(name: KernelName, argv: number[], at: number, extent: number, align: number, work: number, scratchAt: number): void {
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
  protected elementwise(name: KernelName, argv: number[], nptrs: number): void {
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
  protected finish(name: KernelName, argv: number[], posted: boolean, work: number): void {
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

  /** Check rows and cols of a (rows, cols) kernel. */
  protected rowsCols(op: string, rows: number, cols: number): void {
    this.size(op, 'rows', rows);
    this.size(op, 'cols', cols);
  }
}
