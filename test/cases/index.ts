// The kernel case table: one file per kernel family (test/cases/<family>.ts, as assembly/<family>.ts),
// collected here in one order from one seed. See ./case.ts for what a case is.
import { expect } from 'vitest';
import type { Runtime } from '../../src/index.js';
import { compare, type Comparison, describeComparison, fmt, Rand, scoped } from '../helpers.js';
import type { KernelCase } from './case.js';
import { activationCases } from './activations.js';
import { audioCases } from './audio.js';
import { convCases } from './conv.js';
import { divergenceCases } from './divergence.js';
import { f64Cases } from './f64.js';
import { matmulCases } from './matmul.js';
import { optimiserCases } from './optim.js';
import { rngCases } from './rng.js';
import { softmaxCases } from './softmax.js';
import { gatherCases, vectorCases } from './vector.js';
import { xcorrCases } from './xcorr.js';

export type { Expected, Got, KernelCase } from './case.js';
export { convGeometry } from './conv.js';

/** Every case, from one seed: the same list in every test file. */
export function kernelCases(seed = 20240607): KernelCase[] {
  const r = new Rand(seed);
  return [...matmulCases(r), ...activationCases(r), ...softmaxCases(r), ...divergenceCases(r), ...xcorrCases(r), ...convCases(r), ...vectorCases(r), ...optimiserCases(r), ...rngCases(r), ...audioCases(r), ...gatherCases(r), ...f64Cases(r)];
}

/** Cases grouped by `group`, in first-seen order. */
export function groupCases(cases: KernelCase[]): Map<string, KernelCase[]> {
  const m = new Map<string, KernelCase[]>();
  for (const c of cases) {
    if (!m.has(c.group)) m.set(c.group, []);
    m.get(c.group)!.push(c);
  }
  return m;
}

/** Run every case of a group in `rt`, compare each output with the reference, log the largest error and the worst error/tolerance, and assert. */
export function checkGroup(rt: Runtime, group: string, list: KernelCase[]): void {
  let worst: { c: Comparison; where: string } | null = null;
  let largest: { c: Comparison; where: string } | null = null;
  const failures: string[] = [];
  for (const kc of list) {
    const got = scoped(rt, () => kc.run(rt));
    const exp = kc.expect();
    for (const [name, e] of Object.entries(exp)) {
      const g = got[name];
      if (g === undefined) throw new Error(`${group} ${kc.label}: the case returned no output "${name}"`);
      const c = compare(g, e.ref, e.tol);
      const where = `[${kc.label}] ${name}`;
      if (c.at >= 0 && (!worst || c.worst > worst.c.worst)) worst = { c, where };
      if (c.at >= 0 && (!largest || c.maxErr > largest.c.maxErr)) largest = { c, where };
      if (!(c.worst <= 1)) failures.push(describeComparison(`${group} ${where}`, c));
    }
  }
  if (worst && largest) {
    console.log(
      `[${rt.info.build}] ${group}, ${list.length} cases: largest |err| ${fmt(largest.c.maxErr)} (tol there ${fmt(largest.c.tolAtMaxErr)}) in ${largest.where}; ` +
        `worst err/tol ${fmt(worst.c.worst)} in ${worst.where} (got ${worst.c.got}, ref ${worst.c.ref}, tol ${fmt(worst.c.tol)})`,
    );
  }
  expect(failures, failures.join('\n')).toEqual([]);
}
