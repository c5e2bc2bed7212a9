// Seeded pseudo-random generator: xoshiro128** (Blackman & Vigna, 2018), seeded by splitmix64.
// The state is 4 u32 words at `state`, owned by the caller, so the module keeps no static data and
// every stream (initialisation, dropout, shuffling) is independent and reproducible.
//
// Aliasing: uniform, normal, permutation: out must not overlap state (both are written).

import { logd } from "./math";

// @ts-ignore: decorator
@inline function rotl(x: u32, k: u32): u32 {
  return (x << k) | (x >>> (32 - k));
}

/** Next u32 of the generator at `state` (advances it). */
// @ts-ignore: decorator
@inline export function next(state: usize): u32 {
  let s0 = load<u32>(state), s1 = load<u32>(state, 4), s2 = load<u32>(state, 8), s3 = load<u32>(state, 12);
  const result = rotl(s1 * 5, 7) * 9;
  const t = s1 << 9;
  s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11);
  store<u32>(state, s0); store<u32>(state, s1, 4); store<u32>(state, s2, 8); store<u32>(state, s3, 12);
  return result;
}

// @ts-ignore: decorator
@inline function splitmix(x: u64): u64 {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

/** Seed the generator at `state` (16 bytes) from a 32-bit seed and a 32-bit stream id. */
export function rng(state: usize, seed: i32, stream: i32): void {
  let x: u64 = (<u64>(<u32>seed) << 32) | <u64>(<u32>stream);
  x += 0x9e3779b97f4a7c15; const a = splitmix(x);
  x += 0x9e3779b97f4a7c15; const b = splitmix(x);
  store<u32>(state, <u32>a); store<u32>(state, <u32>(a >> 32), 4);
  store<u32>(state, <u32>b, 8); store<u32>(state, <u32>(b >> 32), 12);
  if ((a | b) == 0) store<u32>(state, 1); // the all-zero state is a fixed point
}

/** Next raw 32-bit draw, as a signed i32 (read it with `>>> 0` in JS). */
export function rng_next(state: usize): i32 {
  return <i32>next(state);
}

/** out (n) = uniform in [lo, hi): lo + (hi - lo)·u, u = top 24 bits / 2^24. */
export function uniform(out: usize, n: i32, state: usize, lo: f32, hi: f32): void {
  const w = hi - lo;
  for (let i = 0; i < n; i++) {
    const u = <f32>(next(state) >>> 8) * <f32>5.9604644775390625e-8;
    store<f32>(out + (<usize>i << 2), lo + w * u);
  }
}

/** out (n) = normal(mean, std) by Marsaglia's polar method (only log and sqrt, computed deterministically). */
export function normal(out: usize, n: i32, state: usize, mean: f32, std: f32): void {
  let i = 0;
  while (i < n) {
    const u = <f64>(next(state) >>> 8) * (2.0 / 16777216.0) - 1.0;
    const v = <f64>(next(state) >>> 8) * (2.0 / 16777216.0) - 1.0;
    const s = u * u + v * v;
    if (s >= 1.0 || s == 0.0) continue;
    const f = Math.sqrt(-2.0 * logd(s) / s);
    store<f32>(out + (<usize>i << 2), <f32>(<f64>mean + <f64>std * u * f));
    i++;
    if (i < n) {
      store<f32>(out + (<usize>i << 2), <f32>(<f64>mean + <f64>std * v * f));
      i++;
    }
  }
}

/** out (n, i32) = a uniformly random permutation of 0..n-1 (Fisher-Yates, unbiased by rejection). */
export function permutation(out: usize, n: i32, state: usize): void {
  for (let i = 0; i < n; i++) store<i32>(out + (<usize>i << 2), i);
  for (let i = n - 1; i > 0; i--) {
    const bound = <u32>(i + 1);
    const limit = <u32>(0x100000000 - <u64>(<u64>0x100000000 % <u64>bound)) - 1; // largest accepted value
    let r = next(state);
    while (r > limit) r = next(state);
    const j = <i32>(r % bound);
    const pi = out + (<usize>i << 2), pj = out + (<usize>j << 2);
    const t = load<i32>(pi);
    store<i32>(pi, load<i32>(pj));
    store<i32>(pj, t);
  }
}

import { logd } from './math';
