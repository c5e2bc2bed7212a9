/**
 * One table of kernel cases, shared by the tests: each case runs one or more kernels through the
 * typed wrappers on seeded random data and names its outputs; `expect()` gives the float64 reference
 * value and a per-element tolerance for each output. kernels.test.ts checks the forward cases and
 * gradients.test.ts the backward ones against the reference in both builds; bitwise.test.ts runs
 * every case in both builds and compares the bytes. One file per kernel family (./<family>.ts, named
 * like assembly/<family>.ts), collected by ./index.ts; this file holds what they share.
 *
 * Inputs are f32 (Float32Array), so the kernels and the reference see the same numbers; scalars the
 * kernels take as f32 are rounded with Math.fround before they reach the reference.
 */
import type { Runtime } from '../../src/index.js';
import type { F32, KernelName } from '../../src/engine.js';
import { EPS32, TINY } from '../helpers.js';

export type Got = Float32Array | Int32Array | number;
export interface Expected {
  ref: ArrayLike<number> | number;
  tol: ArrayLike<number> | number;
}
export interface KernelCase {
  /** The kernel or kernel pair, e.g. 'matmul_nn'; one summary line per group. */
  group: string;
  /** Exports of the module this case calls. */
  kernels: readonly KernelName[];
  /** Shape and options. */
  label: string;
  /** A backward pass (checked in gradients.test.ts). */
  backward: boolean;
  /** Run in a runtime (inside an arena scope) and return copies of every output. */
  run(rt: Runtime): Record<string, Got>;
  /** Reference value and tolerance per output (computed once). */
  expect(): Record<string, Expected>;
}

export const put = (rt: Runtime, a: ArrayLike<number>): F32 => rt.arena.f32From(a);
export const read = (rt: Runtime, b: F32): Float32Array => rt.arena.read(b);
export const f = Math.fround;

export function lazy<T>(fn: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= fn());
}

export function kcase(c: Omit<KernelCase, 'expect' | 'backward'> & { backward?: boolean; expect: () => Record<string, Expected> }): KernelCase {
  return { ...c, backward: c.backward ?? false, expect: lazy(c.expect) };
}

/** Exact comparison (tolerance 0). */
export const exact = (ref: ArrayLike<number> | number): Expected => ({ ref, tol: 0 });

/** Tolerance of a sum of K products whose absolute values add up to `mag`: 2·sqrt(K+2)·EPS32·mag. */
export const tolDot = (mag: ArrayLike<number>, K: number) => Float64Array.from(mag, (v) => 2 * Math.sqrt(K + 2) * EPS32 * v + TINY);
