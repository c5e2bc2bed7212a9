/**
 * Wrappers of the random number generator (assembly/rng.ts): shape checks, the aliasing contract, one export call each.
 * Composed into the one `Kernels` class by ../ops.ts; conventions there.
 */
import type { F32, I32 } from '../../runtime/arena.js';
import { KernelBase } from './base.js';

export class RngOps extends KernelBase {
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
