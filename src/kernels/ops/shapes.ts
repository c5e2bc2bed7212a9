/** The option and shape types of the kernel wrappers, and the output sizes of a convolution and a pooling. */
import type { F32 } from '../../runtime/arena.js';

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

export function convOutputSize(s: ConvShape): { ho: number; wo: number } {
  return { ho: convOutputRows(s), wo: convOutputCols(s) };
}
/** convOutputSize's ho and wo apart (the kernel wrappers check shapes without allocating). */
export const convOutputRows = (s: ConvShape): number => Math.floor((s.h + 2 * (s.pad ?? 0) - s.kh) / (s.stride ?? 1)) + 1;
export const convOutputCols = (s: ConvShape): number => Math.floor((s.w + 2 * (s.pad ?? 0) - s.kw) / (s.stride ?? 1)) + 1;

export function poolOutputSize(s: PoolShape): { ho: number; wo: number } {
  const stride = s.stride ?? s.k;
  return { ho: Math.floor((s.h - s.k) / stride) + 1, wo: Math.floor((s.w - s.k) / stride) + 1 };
}

/** n rounded up to a multiple of 4. */
const r4 = (n: number) => (n + 3) & ~3;

/**
 * Floats of per-thread scratch the fused convolution block (convReluPool) needs for one sample, or
 * null when the shape is not such a block (a k×k 'same' convolution: kh = kw = 2·pad + 1, stride 1).
 */
export function convBlockScratch(s: ConvShape): number | null {
  const pad = s.pad ?? 0;
  if (s.kh !== s.kw || s.kh !== 2 * pad + 1 || (s.stride ?? 1) !== 1) return null;
  const hp = s.h + 2 * pad,
    wp = s.w + 2 * pad;
  // forward: a padded sample; weights: + one sample's dconv; input: w transposed + a padded dconv
  return Math.max(r4(hp * wp * s.c) + s.h * s.w * s.outChannels, r4(s.kh * s.kw * s.c * s.outChannels) + hp * wp * s.outChannels);
}
