/**
 * The project's seeded generator on the TypeScript side (splits, shuffles of data files): the same
 * xoshiro128** seeded by splitmix64 as assembly/rng.ts, in integer arithmetic, so a (seed, stream)
 * pair gives the same sequence here and inside WebAssembly (a test checks this).
 */
import { UdiError } from '../errors.js';
const M64 = (1n << 64n) - 1n;

function splitmix(x: bigint): bigint {
  x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & M64;
  return x ^ (x >> 31n);
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

export class Rng {
  private s = new Uint32Array(4);

  constructor(seed: number, stream = 0) {
    if (!Number.isInteger(seed) || !Number.isInteger(stream)) throw new UdiError('BAD_OPTIONS', `Rng: seed and stream must be whole numbers, got ${seed}, ${stream}`);
    let x = ((BigInt(seed >>> 0) << 32n) | BigInt(stream >>> 0)) & M64;
    x = (x + 0x9e3779b97f4a7c15n) & M64;
    const a = splitmix(x);
    x = (x + 0x9e3779b97f4a7c15n) & M64;
    const b = splitmix(x);
    this.s[0] = Number(a & 0xffffffffn);
    this.s[1] = Number(a >> 32n);
    this.s[2] = Number(b & 0xffffffffn);
    this.s[3] = Number(b >> 32n);
    if ((a | b) === 0n) this.s[0] = 1;
  }

  /** Next u32. */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform whole number in [0, bound), unbiased (rejection), bound <= 2^32. */
  below(bound: number): number {
    if (!(Number.isInteger(bound) && bound >= 1 && bound <= 2 ** 32)) throw new UdiError('BAD_OPTIONS', `Rng.below: bound must be a whole number in [1, 2^32], got ${bound}`);
    const limit = 2 ** 32 - (2 ** 32 % bound) - 1;
    let r = this.next();
    while (r > limit) r = this.next();
    return r % bound;
  }

  /** Shuffle in place (Fisher-Yates), the same order as the WebAssembly `permutation` kernel. */
  shuffle<T extends { length: number; [i: number]: any }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}
