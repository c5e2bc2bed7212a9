/**
 * The one owner of WebAssembly memory. Kernels never allocate: every buffer is laid out here and
 * passed to them as a byte offset. Only the arena grows memory, and views are created fresh on each
 * access, because growing a non-shared memory detaches every earlier view.
 */

/** An f32 buffer in WebAssembly memory: `length` elements starting at byte offset `ptr`. */
export interface F32 {
  readonly ptr: number;
  readonly length: number;
  readonly kind: 'f32';
}
/** An i32 buffer in WebAssembly memory. */
export interface I32 {
  readonly ptr: number;
  readonly length: number;
  readonly kind: 'i32';
}

const PAGE = 65536;
/** Offsets below this are never handed out, so 0 can mean "no buffer" (e.g. no bias). */
export const ARENA_BASE = 1024;
const ALIGN = 64;

import { MemoryLimitError } from '../errors.js';
export { MemoryLimitError };

export class Arena {
  private top = ARENA_BASE;
  private peak = ARENA_BASE;

  constructor(
    readonly memory: WebAssembly.Memory,
    readonly limitBytes: number,
  ) {}

  /** Bytes handed out so far (the high-water mark of `used` is `peakBytes`). */
  get usedBytes(): number {
    return this.top;
  }
  get peakBytes(): number {
    return this.peak;
  }
  get capacityBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Reserve `bytes` bytes aligned to 64 and return their offset. Grows memory if needed. */
  allocBytes(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`Arena.allocBytes: size must be a whole number >= 0, got ${bytes}`);
    const ptr = Math.ceil(this.top / ALIGN) * ALIGN;
    const end = ptr + bytes;
    this.ensure(end);
    this.top = end;
    this.peak = Math.max(this.peak, end);
    return ptr;
  }

  f32(length: number): F32 {
    return { ptr: this.allocBytes(length * 4), length, kind: 'f32' };
  }

  i32(length: number): I32 {
    return { ptr: this.allocBytes(length * 4), length, kind: 'i32' };
  }

  /** An f32 buffer holding a copy of `data`. */
  f32From(data: ArrayLike<number>): F32 {
    const b = this.f32(data.length);
    this.viewF32(b).set(data);
    return b;
  }

  i32From(data: ArrayLike<number>): I32 {
    const b = this.i32(data.length);
    this.viewI32(b).set(data);
    return b;
  }

  /** Current allocation point; `release(mark)` frees everything allocated after it. */
  mark(): number {
    return this.top;
  }
  release(mark: number): void {
    if (mark < ARENA_BASE || mark > this.top) throw new RangeError(`Arena.release: ${mark} is not a mark of this arena`);
    this.top = mark;
  }

  private heap: Int32Array | null = null;
  /**
   * An Int32Array over all of WebAssembly memory, index = byte offset / 4; kept until memory grows,
   * so hot paths read i32 buffers without creating a view. Do not keep it across allocations.
   */
  get heapI32(): Int32Array {
    const buffer = this.memory.buffer;
    if (this.heap === null || this.heap.buffer !== buffer) this.heap = new Int32Array(buffer);
    return this.heap;
  }

  /** A fresh view of an f32 buffer (do not keep it across allocations). */
  viewF32(b: F32): Float32Array {
    return new Float32Array(this.memory.buffer, b.ptr, b.length);
  }
  viewI32(b: I32): Int32Array {
    return new Int32Array(this.memory.buffer, b.ptr, b.length);
  }

  /** Copy of an f32 buffer's contents. */
  read(b: F32): Float32Array {
    return this.viewF32(b).slice();
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    if (end > this.limitBytes) throw new MemoryLimitError(end, this.limitBytes);
    // Grow geometrically (at least 1.5x) to keep the number of grows small.
    const want = Math.min(this.limitBytes, Math.max(end, Math.floor(have * 1.5)));
    this.memory.grow(Math.ceil((want - have) / PAGE));
  }
}
