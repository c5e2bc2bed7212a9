// The aliasing contract of every kernel wrapper (src/kernels/ops/<family>.ts, "Aliasing:" in each doc comment).
// CONTRACTS (test/aliasing-contracts.ts) declares, per public method of Kernels, the buffers it writes and reads and the
// (written, read) pairs that may be the very same buffer. Then, in the scalar and SIMD builds and on
// 2 threads (simd-threads, shapes large enough that the element-wise and range kernels are split):
//   - every written buffer aliased exactly to every other buffer of the same length: a declared pair
//     gives the same bits as with a separate buffer holding the same values (and, on 2 threads, the
//     call was split); any other pair throws AliasingError (code ALIASED_BUFFERS) and runs no kernel;
//   - every written buffer shifted by one element against every other buffer (either direction)
//     throws AliasingError: a partial overlap is never allowed;
//   - two inputs of the same kind and length aliased: never rejected, same bits (inputs only read).
// A new wrapper or kernel without a contract fails the first test.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import { Kernels, KERNEL_NAMES, KERNELS, type KernelName } from '../src/engine.js';
import { AliasingError } from '../src/kernels/ops.js';
import { MATMUL_SCRATCH_FLOATS } from '../src/kernels/reference/index.js';
import type { RawKernels } from '../src/kernels/spec.js';
import type { WorkerPool } from '../src/runtime/pool.js';
import { type Buf, type Bufs, type Contract, CONTRACTS, type Data, type Shape, type Wrapper } from './aliasing-contracts.js';
import { firstBitDifference, Rand, scoped } from './helpers.js';

// ---- running a call with separate or aliased buffers --------------------------------------------

/** Kernels over a runtime's memory, module and pool whose calling-thread kernel calls are recorded. */
interface Harness {
  rt: Runtime;
  K: Kernels;
  calls: { name: KernelName; args: number[] }[];
}
function harness(rt: Runtime): Harness {
  const pool = (rt as unknown as { pool: WorkerPool | null }).pool;
  const calls: Harness['calls'] = [];
  const raw = { ...rt.kernels.raw } as RawKernels;
  for (const name of KERNEL_NAMES) {
    const fn = rt.kernels.raw[name];
    raw[name] = (...args: number[]) => {
      calls.push({ name, args });
      return fn(...args);
    };
  }
  const scratch = Array.from({ length: rt.kernels.threads }, () => rt.arena.f32(MATMUL_SCRATCH_FLOATS));
  return { rt, K: new Kernels(raw, rt.arena, pool, scratch), calls };
}

const kindOf = (d: Data): 'f32' | 'i32' => (d instanceof Float32Array ? 'f32' : 'i32');
/** Copy the bits of `d` to byte offset ptr. */
const poke = (rt: Runtime, ptr: number, d: Data) => new Int32Array(rt.memory.buffer, ptr, d.length).set(new Int32Array(d.buffer, d.byteOffset, d.length));
const peek = (rt: Runtime, b: Buf): Data => (b.kind === 'f32' ? rt.arena.read(b) : rt.arena.viewI32(b).slice());

/**
 * Lay out a shape's buffers, each in its own allocation, except with `alias` = [w, o, shift]: w and o
 * share one allocation, w starting `shift` elements after o (before it, for a negative shift); o's
 * values are written last, so where they overlap the buffers hold o's values.
 */
function place(rt: Runtime, data: Record<string, Data>, alias?: [string, string, number]): Bufs {
  const bufs: Bufs = {};
  for (const [name, d] of Object.entries(data)) {
    if (alias && (name === alias[0] || name === alias[1])) continue;
    const ptr = rt.arena.allocBytes(4 * d.length);
    poke(rt, ptr, d);
    bufs[name] = { ptr, length: d.length, kind: kindOf(d) } as Buf;
  }
  if (alias) {
    const [w, o, shift] = alias;
    const dw = data[w],
      dO = data[o];
    const start = Math.min(0, shift),
      end = Math.max(dO.length, shift + dw.length);
    const op = rt.arena.allocBytes(4 * (end - start)) - 4 * start,
      wp = op + 4 * shift;
    poke(rt, wp, dw);
    poke(rt, op, dO);
    bufs[w] = { ptr: wp, length: dw.length, kind: kindOf(dw) } as Buf;
    bufs[o] = { ptr: op, length: dO.length, kind: kindOf(dO) } as Buf;
  }
  return bufs;
}

interface Outcome {
  /** Final contents of the written buffers. */
  outs: Record<string, Data>;
  ret: number | void;
  error?: unknown;
  calls: Harness['calls'];
  /** Every byte of the shape's buffers before and after the call. */
  before: Data[];
  after: Data[];
}
function run(h: Harness, c: Contract, sh: Shape, data: Record<string, Data>, alias?: [string, string, number]): Outcome {
  return scoped(h.rt, () => {
    const bufs = place(h.rt, data, alias);
    const all = Object.values(bufs);
    const before = all.map((b) => peek(h.rt, b));
    h.calls.length = 0;
    let ret: number | void = undefined,
      error: unknown;
    try {
      ret = sh.call(h.K, bufs);
    } catch (e) {
      error = e;
    }
    const calls = h.calls.slice();
    const outs = Object.fromEntries(c.writes.filter((w) => !sh.unused?.includes(w)).map((w) => [w, peek(h.rt, bufs[w])]));
    return { outs, ret, error, calls, before, after: all.map((b) => peek(h.rt, b)) };
  });
}

/** Differences between two outcomes' written buffers and return values, as messages. */
function differences(a: Outcome, b: Outcome): string[] {
  const out: string[] = [];
  for (const name of Object.keys(a.outs)) {
    const i = firstBitDifference(a.outs[name], b.outs[name]);
    if (i >= 0) out.push(`${name} differs first at [${i}]: ${a.outs[name][i]} vs ${b.outs[name][i]}`);
  }
  if (typeof a.ret === 'number' || typeof b.ret === 'number') {
    const same = typeof a.ret === 'number' && typeof b.ret === 'number' && (Object.is(a.ret, b.ret) || firstBitDifference(a.ret, b.ret) < 0);
    if (!same) out.push(`returned ${a.ret} vs ${b.ret}`);
  }
  return out;
}

const ELEMENTWISE_SPLIT: readonly KernelName[] = ['relu_forward', 'relu_backward', 'gelu_forward', 'gelu_backward', 'axpy', 'scale', 'fill', 'copy', 'sgd_step', 'adamw_step'];

/**
 * Check every pair of one wrapper in one harness; returns the problems found and counts.
 * `threaded`: a declared in-place pair on a big shape must have been split over the pool.
 */
function checkWrapper(h: Harness, method: Wrapper, c: Contract, big: boolean, threaded: boolean): { problems: string[]; exact: Set<string>; counts: Record<string, number>; called: Set<KernelName> } {
  const problems: string[] = [];
  const exact = new Set<string>();
  const called = new Set<KernelName>();
  const counts = { inPlace: 0, rejected: 0, shifted: 0, inputs: 0 };
  const r = new Rand(method.length * 7919 + method.charCodeAt(0));
  const names = [...c.writes, ...c.reads];
  const allowed = (w: string, o: string) => c.inPlace.some(([a, b]) => a === w && b === o);
  const expectRejected = (what: string, got: Outcome, w: string, o: string) => {
    const e = got.error;
    if (!(e instanceof AliasingError) || e.code !== 'ALIASED_BUFFERS') {
      problems.push(`${what}: expected an AliasingError, got ${e === undefined ? 'no error' : String(e)}`);
      return;
    }
    const re = new RegExp(`^${method}: (${w} and ${o}|${o} and ${w}) (are the same buffer|overlap) \\(bytes \\d+\\.\\.\\d+`);
    if (!re.test(e.message)) problems.push(`${what}: the message does not name the kernel and both buffers: ${e.message}`);
    if (got.calls.length > 0) problems.push(`${what}: rejected after running ${got.calls.map((x) => x.name).join(', ')}`);
    const changed = got.before.findIndex((b, i) => firstBitDifference(b, got.after[i]) >= 0);
    if (changed >= 0) problems.push(`${what}: a rejected call changed memory`);
  };

  for (const sh of c.shapes(r, big)) {
    const sep = run(h, c, sh, sh.data);
    for (const x of sep.calls) called.add(x.name);
    if (sep.error !== undefined) {
      problems.push(`${method} [${sh.label}] with separate buffers threw ${String(sep.error)}`);
      continue;
    }
    const used = names.filter((n) => !sh.unused?.includes(n));
    for (const w of c.writes.filter((n) => used.includes(n))) {
      for (const o of used.filter((n) => n !== w)) {
        // Each unordered pair of written buffers once.
        if (c.writes.includes(o) && c.writes.indexOf(o) < c.writes.indexOf(w)) continue;
        const dw = sh.data[w],
          dO = sh.data[o];
        const what = (how: string) => `${method} [${sh.label}] ${w} ${how} ${o}`;
        if (dw.length === dO.length) {
          exact.add(`${w}|${o}`);
          const got = run(h, c, sh, sh.data, [w, o, 0]);
          if (!c.writes.includes(o) && allowed(w, o)) {
            counts.inPlace++;
            if (kindOf(dw) !== kindOf(dO)) problems.push(`${what('=')}: an in-place pair of an f32 and an i32 buffer`);
            if (got.error !== undefined) problems.push(`${what('=')}: declared safe in place, but threw ${String(got.error)}`);
            else {
              // The same call with a separate w holding o's values.
              const ref = run(h, c, sh, { ...sh.data, [w]: dO.slice() });
              for (const d of differences(got, ref)) problems.push(`${what('=')}: ${d}`);
              if (threaded && sh.big) {
                for (const x of got.calls.filter((x) => ELEMENTWISE_SPLIT.includes(x.name))) {
                  const n = x.args[KERNELS[x.name].args.findIndex((a) => a.startsWith('n:'))];
                  if (!(n < dw.length)) problems.push(`${what('=')}: ${x.name} was not split (the calling thread ran ${n} of ${dw.length} elements)`);
                }
              }
            }
          } else {
            counts.rejected++;
            expectRejected(what('='), got, w, o);
          }
        }
        // A partial overlap, either way round, is always rejected.
        for (const shift of [1, -1]) {
          if (shift === 1 ? dO.length < 2 : dw.length < 2) continue;
          counts.shifted++;
          expectRejected(what(shift === 1 ? 'one element after' : 'one element before'), run(h, c, sh, sh.data, [w, o, shift]), w, o);
        }
      }
    }
    // Two inputs of the same kind and length may be one buffer.
    for (const a of c.reads) {
      for (const b of c.reads.filter((n) => c.reads.indexOf(n) > c.reads.indexOf(a))) {
        const da = sh.data[a],
          db = sh.data[b];
        if (da.length !== db.length || kindOf(da) !== kindOf(db)) continue;
        counts.inputs++;
        const data = { ...sh.data, [b]: da.slice() };
        const got = run(h, c, sh, data, [b, a, 0]);
        if (got.error !== undefined) problems.push(`${method} [${sh.label}] inputs ${a} = ${b}: threw ${String(got.error)}`);
        else for (const d of differences(got, run(h, c, sh, data))) problems.push(`${method} [${sh.label}] inputs ${a} = ${b}: ${d}`);
      }
    }
  }
  return { problems, exact, counts, called };
}

// ---- tests ------------------------------------------------------------------------------------

it('every public wrapper of Kernels has a contract, naming the kernels it calls, and every kernel with a buffer is in one', () => {
  const dir = new URL('../src/kernels/ops/', import.meta.url);
  const src = [readFileSync(new URL('../src/kernels/ops.ts', import.meta.url), 'utf8'), ...readdirSync(dir).map((f) => readFileSync(new URL(f, dir), 'utf8'))].join('\n');
  const privates = new Set([...src.matchAll(/\b(?:private|protected) (?:readonly )?(\w+)/g)].map((m) => m[1]));
  const methods = Object.getOwnPropertyNames(Kernels.prototype).filter((n) => n !== 'constructor' && !privates.has(n) && typeof Object.getOwnPropertyDescriptor(Kernels.prototype, n)?.value === 'function');
  expect(
    methods.filter((n) => !(n in CONTRACTS)),
    'wrappers without an aliasing contract',
  ).toEqual([]);
  expect(
    Object.keys(CONTRACTS).filter((n) => !methods.includes(n)),
    'contracts of no wrapper',
  ).toEqual([]);
  const covered = new Set(Object.values(CONTRACTS).flatMap((c) => c.kernels));
  const withBuffers = KERNEL_NAMES.filter((k) => KERNELS[k].args.some((a) => a.endsWith(':ptr') || a.endsWith(':iptr')));
  expect(
    withBuffers.filter((k) => !covered.has(k)),
    'kernels with buffers that no contract covers',
  ).toEqual([]);
  for (const [method, c] of Object.entries(CONTRACTS)) {
    for (const [w, o] of c.inPlace) expect(c.writes.includes(w) && c.reads.includes(o), `${method}: in-place pair ${w} = ${o} must be (written, read)`).toBe(true);
    expect(new Set([...c.writes, ...c.reads]).size, `${method}: a buffer listed twice`).toBe(c.writes.length + c.reads.length);
  }
});

const builds = [
  { label: 'scalar build', options: { threads: 1, build: 'scalar' as const }, threaded: false },
  { label: 'simd build', options: { threads: 1, build: 'simd' as const }, threaded: false },
  { label: '2 threads (simd-threads build)', options: { threads: 2 }, threaded: true },
];

for (const { label, options, threaded } of builds) {
  describe(`aliasing contracts, ${label}`, () => {
    let rt: Runtime;
    let h: Harness;
    beforeAll(async () => {
      rt = await createRuntime(options);
      h = harness(rt);
    });
    afterAll(() => rt?.dispose());

    if (threaded) it('runs 2 threads', () => expect(h.K.threads).toBe(2));

    for (const [method, c] of Object.entries(CONTRACTS) as [Wrapper, Contract][]) {
      it(method, () => {
        const { problems, exact, counts, called } = checkWrapper(h, method, c, threaded, threaded);
        console.log(`${label} ${method}: ${counts.inPlace} in-place pairs equal, ${counts.rejected} same-buffer pairs rejected, ${counts.shifted} partial overlaps rejected, ${counts.inputs} aliased inputs; ${problems.length} problems`);
        expect(problems, problems.join('\n')).toEqual([]);
        // Every (written, other) pair was run as the very same buffer in some shape.
        const names = [...c.writes, ...c.reads];
        const missing = c.writes.flatMap((w, i) => names.filter((o) => o !== w && !(c.writes.includes(o) && c.writes.indexOf(o) < i)).map((o) => `${w}|${o}`)).filter((p) => !exact.has(p));
        expect(missing, `${method}: pairs no shape gives the same length`).toEqual([]);
        // The contract names exactly the kernels the wrapper runs (on this thread).
        expect([...called].sort(), `${method}: kernels called`).toEqual([...c.kernels].sort());
      });
    }
  });
}
