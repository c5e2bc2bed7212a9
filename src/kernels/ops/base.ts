/**
 * What every kernel wrapper shares: argument checks that name the shapes, the aliasing checks, and
 * the splitting of a kernel over the worker pool. The wrappers themselves are in ./<family>.ts,
 * composed into `Kernels` by ../ops.ts; all state of a Kernels object is declared here (the family
 * classes only contribute methods).
 */
import { ARENA_BASE, type Arena, type F32, type I32 } from '../../runtime/arena.js';
import { ThreadGovernor } from '../../runtime/governor.js';
import type { WorkerPool } from '../../runtime/pool.js';
import { AliasingError, ShapeError } from '../../errors.js';
import { KERNEL_NAMES, KERNELS, type KernelName, type RawKernels } from '../spec.js';
import type { MatmulOptions } from './shapes.js';

/**
 * Chunks per thread of a split call. Threads claim chunks dynamically (src/runtime/pool.ts): with a
 * few per thread a worker that starts late, or is descheduled by another process, leaves its share
 * to the others instead of holding the caller in join for its whole share.
 */
const CHUNKS_PER_THREAD = 3;

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
  /** One reusable argument list per kernel, so a call allocates no argument array. */
  protected readonly argv: Record<KernelName, number[]>;
  /** Base pointers of an element-wise call while it is split. */
  protected readonly bases = [0, 0, 0, 0, 0, 0, 0, 0];
  /** A convolution's geometry and its matmuls' options, reused (no object per call). */
  protected readonly cg = { ho: 0, wo: 0, kk: 0, rows: 0, stride: 0, pad: 0 };
  /** A convolution block's patch size and pooled size, reused. */
  protected readonly cb = { kk: 0, hq: 0, wq: 0 };
  protected readonly cm: MatmulOptions = { m: 0, n: 0, k: 0 };

  constructor(
    readonly raw: RawKernels,
    protected readonly arena: Arena,
    protected readonly pool: WorkerPool | null,
    /** One matmul scratch buffer per thread (index 0 is the calling thread). */
    protected readonly scratch: F32[],
    /** When a call is split (size thresholds, fallback under contention); default: fixed thresholds, never falls back. */
    readonly governor: ThreadGovernor = new ThreadGovernor({ adaptive: false }),
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

  /** Whether a call of `work` units goes to the pool (a live pool, and the governor says it pays). */
  private splits(name: KernelName, work: number, elementwise: boolean): boolean {
    const pool = this.pool;
    return pool !== null && pool.alive && this.governor.split(work, elementwise, this.index[name]);
  }

  /**
   * Run a range-parallel kernel. `argv` is its whole argument list except the range: argv[at] and
   * argv[at+1] get [start, end) of each chunk of [0, extent) (chunks are multiples of `align`), and
   * argv[scratchAt] the running thread's matmul scratch buffer. Calls below the governor's size
   * threshold (work in multiply-adds, or element operations), and all calls during a fallback, run
   * whole on the calling thread. `perThread`: chunks per thread (default CHUNKS_PER_THREAD); 1 for a
   * kernel whose every chunk repeats work over the whole input (see convReluPoolBackward).
   */
  protected split(name: KernelName, argv: number[], at: number, extent: number, align: number, work: number, scratchAt: number, perThread = CHUNKS_PER_THREAD): void {
    if (extent < 2 * align || !this.splits(name, work, false)) {
      argv[at] = 0;
      argv[at + 1] = extent;
      if (scratchAt >= 0) argv[scratchAt] = this.scratch[0].ptr;
      invoke(this.raw[name], argv);
      return;
    }
    const pool = this.pool!;
    const chunks = Math.min(perThread * (pool.size + 1), Math.floor(extent / align));
    const chunk = Math.ceil(extent / chunks / align) * align;
    const count = Math.ceil(extent / chunk);
    pool.begin(this.index[name], scratchAt, this.scratch);
    for (let c = 0; c < count; c++) {
      argv[at] = c * chunk;
      argv[at + 1] = Math.min(extent, (c + 1) * chunk);
      pool.add(argv);
    }
    if (scratchAt >= 0) argv[scratchAt] = this.scratch[0].ptr;
    this.run(name, argv, at, -1, chunk, extent, work);
  }

  /**
   * Run an element-wise kernel whose arguments start with `nptrs` buffer offsets followed by the
   * element count n, split into contiguous chunks (multiples of 4) over the pool when n is large.
   * Element-wise arithmetic does not depend on the split, so the bits do not either.
   */
  protected elementwise(name: KernelName, argv: number[], nptrs: number): void {
    const n = argv[nptrs];
    if (n < 8 || !this.splits(name, n, true)) {
      invoke(this.raw[name], argv);
      return;
    }
    const pool = this.pool!;
    const chunks = CHUNKS_PER_THREAD * (pool.size + 1);
    const chunk = Math.ceil(n / chunks / 4) * 4;
    const count = Math.ceil(n / chunk);
    for (let i = 0; i < nptrs; i++) this.bases[i] = argv[i];
    pool.begin(this.index[name], -1, null);
    for (let c = 0; c < count; c++) {
      for (let i = 0; i < nptrs; i++) argv[i] = this.bases[i] + 4 * c * chunk;
      argv[nptrs] = Math.min(n, (c + 1) * chunk) - c * chunk;
      pool.add(argv);
    }
    this.run(name, argv, -1, nptrs, chunk, n, n);
  }

  /**
   * Publish the job, run chunks on the calling thread as long as any is unclaimed, join, and tell the
   * governor how it went. Chunk c of a range kernel sets argv[at..at+1]; of an element-wise one the
   * `nptrs` offsets (from this.bases) and the count. After an error in its own chunk the caller still
   * claims the rest (without running them) so the job ends; the error is rethrown after the join.
   */
  private run(name: KernelName, argv: number[], at: number, nptrs: number, chunk: number, extent: number, work: number): void {
    const pool = this.pool!;
    const fn = this.raw[name];
    const g = this.governor;
    const t0 = g.now();
    // The caller's chunks run back to back (a claim between them is one compare-exchange): timed as one
    // interval from the publish, or from after it when the publish had to wake workers (that cost is the split's).
    const tOwn = pool.start() ? g.now() : t0;
    let error: unknown = undefined;
    let own = 0;
    for (let c = pool.claim(); c >= 0; c = pool.claim()) {
      const lo = c * chunk,
        hi = Math.min(extent, lo + chunk);
      if (at >= 0) {
        argv[at] = lo;
        argv[at + 1] = hi;
      } else {
        for (let i = 0; i < nptrs; i++) argv[i] = this.bases[i] + 4 * lo;
        argv[nptrs] = hi - lo;
      }
      if (error === undefined) {
        try {
          invoke(fn, argv);
        } catch (e) {
          error = e;
        }
        own += hi - lo;
      }
      pool.complete();
    }
    const ownMs = g.now() - tOwn;
    if (nptrs >= 0) for (let i = 0; i < nptrs; i++) argv[i] = this.bases[i];
    pool.join(this.index[name], work, error);
    g.record(g.now() - t0, ownMs, own / extent, work);
  }

  /** Check rows and cols of a (rows, cols) kernel. */
  protected rowsCols(op: string, rows: number, cols: number): void {
    this.size(op, 'rows', rows);
    this.size(op, 'cols', cols);
  }
}
