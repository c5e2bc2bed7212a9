/** Float64 twins of random numbers (assembly/rng.ts); conventions in ./index.ts. */
import type { Vec } from './math.js';

const MASK64 = (1n << 64n) - 1n;

function splitmix64(x: bigint): bigint {
  x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return x ^ (x >> 31n);
}

/** The generator state (4 u32 words, as the kernels store it) for a 32-bit seed and stream id. */
export function rng(seed: number, stream: number): Uint32Array {
  let x = (BigInt(seed >>> 0) << 32n) | BigInt(stream >>> 0);
  x = (x + 0x9e3779b97f4a7c15n) & MASK64;
  const a = splitmix64(x);
  x = (x + 0x9e3779b97f4a7c15n) & MASK64;
  const b = splitmix64(x);
  const s = new Uint32Array([Number(a & 0xffffffffn), Number(a >> 32n), Number(b & 0xffffffffn), Number(b >> 32n)]);
  if ((a | b) === 0n) s[0] = 1;
  return s;
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** Next u32 of the generator (advances `state`). */
export function rngNext(state: Uint32Array): number {
  const s1 = state[1];
  const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
  const t = (s1 << 9) >>> 0;
  state[2] ^= state[0];
  state[3] ^= state[1];
  state[1] ^= state[2];
  state[0] ^= state[3];
  state[2] ^= t;
  state[3] = rotl(state[3], 11);
  return result;
}

/** The top 24 bits of the next draw as a number in [0, 1). */
export const uniform24 = (state: Uint32Array) => (rngNext(state) >>> 8) * 2 ** -24;

/** out (n) = lo + (hi − lo)·u, u uniform in [0, 1) from the top 24 bits of each draw. */
export function uniform(n: number, state: Uint32Array, lo = 0, hi = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * uniform24(state);
  return out;
}

/** out (n) = normal(mean, std) by Marsaglia's polar method, two values per accepted pair. */
export function normal(n: number, state: Uint32Array, mean = 0, std = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; ) {
    const u = uniform24(state) * 2 - 1,
      v = uniform24(state) * 2 - 1;
    const s = u * u + v * v;
    if (s >= 1 || s === 0) continue;
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    out[i++] = mean + std * u * f;
    if (i < n) out[i++] = mean + std * v * f;
  }
  return out;
}

/** out (n) = a uniformly random permutation of 0..n−1 by Fisher-Yates, rejecting draws above the largest multiple of i+1. */
export function permutation(n: number, state: Uint32Array): Int32Array {
  const out = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const bound = i + 1;
    const limit = 2 ** 32 - (2 ** 32 % bound) - 1;
    let r = rngNext(state);
    while (r > limit) r = rngNext(state);
    const j = r % bound;
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
