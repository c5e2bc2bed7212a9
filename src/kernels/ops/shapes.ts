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
