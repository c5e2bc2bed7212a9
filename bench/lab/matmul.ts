/**
 * The kernel lab's matmul contenders (bench/kernels.ts): udi-wasm's wrapper, tfjs-wasm, a plain JS
 * loop, each bound to one shape; and the float64 reference every one is validated against first.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import type { Runtime } from '../../src/index.js';

export interface Shape {
  m: number;
  n: number;
  k: number;
}

// ---- data and reference ------------------------------------------------------------------------

/** Deterministic uniform [-1, 1) floats (mulberry32). */
export function randomF32(len: number, seed: number): Float32Array {
  const out = new Float32Array(len);
  let s = seed >>> 0;
  for (let i = 0; i < len; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** C = A·B in float64, plus sum_k |a_ik·b_kj| per element (the scale for relative errors). */
export function reference(a: Float32Array, b: Float32Array, s: Shape): { c: Float64Array; scale: Float64Array } {
  const { m, n, k } = s;
  const c = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  const absB = Float64Array.from(b, Math.abs);
  for (let i = 0; i < m; i++) {
    const ro = i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      const aa = Math.abs(av);
      const bo = p * n;
      for (let j = 0; j < n; j++) {
        c[ro + j] += av * b[bo + j];
        scale[ro + j] += aa * absB[bo + j];
      }
    }
  }
  return { c, scale };
}

export function maxRelErr(got: Float32Array, ref: { c: Float64Array; scale: Float64Array }): number {
  if (got.length !== ref.c.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i] - ref.c[i]) / (ref.scale[i] || Number.MIN_VALUE);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e; // NaN (unwritten output) fails
  }
  return worst;
}

// ---- implementations ---------------------------------------------------------------------------

export interface Bound {
  /** Run `calls` matmuls; returns only when all have completed. */
  runBatch(calls: number): void;
  /** C after the last call. */
  output(): Float32Array;
  release(): void;
}
export interface Impl {
  name: string;
  threads: number;
  /** Skip shapes with more multiply-adds than this. */
  maxMacs?: number;
  bind(s: Shape, a: Float32Array, b: Float32Array): Bound;
}

/** udi-wasm's matmul wrapper on `rt`; shapes above maxMacs multiply-adds are skipped. */
export function udiImpl(rt: Runtime, maxMacs?: number): Impl {
  return {
    name: `udi-${rt.info.build}`,
    threads: rt.info.threads,
    maxMacs,
    bind(s, a, b) {
      const mark = rt.arena.mark();
      const A = rt.arena.f32From(a);
      const B = rt.arena.f32From(b);
      const C = rt.arena.f32(s.m * s.n);
      rt.arena.viewF32(C).fill(NaN); // an element the kernel does not write fails validation
      const o = { m: s.m, n: s.n, k: s.k };
      const kern = rt.kernels;
      return {
        runBatch(calls) {
          for (let i = 0; i < calls; i++) kern.matmul(C, A, B, o);
        },
        output: () => rt.arena.read(C),
        release: () => rt.arena.release(mark),
      };
    },
  };
}

export function tfjsImpl(): Impl {
  return {
    name: 'tfjs-wasm',
    threads: tfwasm.getThreadsCount(),
    bind(s, a, b) {
      const ta = tf.tensor2d(a, [s.m, s.k]);
      const tb = tf.tensor2d(b, [s.k, s.n]);
      return {
        // The wasm backend runs each kernel synchronously; dataSync() on the last result of the
        // batch makes completion explicit without adding a copy-out to every call.
        runBatch(calls) {
          for (let i = 0; i < calls; i++) {
            const c = tf.matMul(ta, tb);
            if (i === calls - 1) c.dataSync();
            c.dispose();
          }
        },
        output() {
          const c = tf.matMul(ta, tb);
          const d = Float32Array.from(c.dataSync() as Float32Array);
          c.dispose();
          return d;
        },
        release() {
          ta.dispose();
          tb.dispose();
        },
      };
    },
  };
}

/** The straightforward i-k-j loop on Float32Array. */
function matmulPlain(c: Float32Array, a: Float32Array, b: Float32Array, m: number, n: number, k: number): void {
  c.fill(0);
  for (let i = 0; i < m; i++) {
    const ro = i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      const bo = p * n;
      for (let j = 0; j < n; j++) c[ro + j] += av * b[bo + j];
    }
  }
}

/** Plain JS only up to this many multiply-adds per call (256^3; 1024^3 would take seconds per call). */
export const PLAIN_JS_MAX_MACS = 256 ** 3;

export function plainImpl(): Impl {
  return {
    name: 'plain-js',
    threads: 1,
    maxMacs: PLAIN_JS_MAX_MACS,
    bind(s, a, b) {
      const c = new Float32Array(s.m * s.n).fill(NaN);
      return {
        runBatch(calls) {
          for (let i = 0; i < calls; i++) matmulPlain(c, a, b, s.m, s.n, s.k);
        },
        output: () => c.slice(),
        release() {},
      };
    },
  };
}
