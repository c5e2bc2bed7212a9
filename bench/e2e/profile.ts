/**
 * Where the time of a udi-wasm training step goes (bench/e2e.ts "profile").
 *
 * Uninstrumented: the step, its batch copy alone, and (1 thread) the step's recorded sequence of
 * WebAssembly calls replayed with nothing around it; JS = the rest. Instrumented (bench only): the
 * runtime's kernels object is wrapped with self-time accounting: every export of the module (the
 * names come from src/kernels/spec.ts; matmuls are told apart by their m, n, k arguments, found by
 * name in the spec), every method on the kernels object's prototype chain, and the worker pool's
 * start and join (2 threads). Nothing here names a wrapper: a first step run through the wrapped
 * object finds which methods the step calls from outside the kernels object (its entry points, e.g.
 * matmul, conv2d); those get their own line, and methods only ever called from inside another one
 * (argument checks, the thread split) are folded into their caller's self time. So renames and file
 * splits in src/kernels need no change here; what cannot be derived (the raw exports object, the
 * pool's start/join) fails loudly when missing.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import type { Runtime } from '../../src/runtime/runtime.js';
import { KERNEL_NAMES, KERNELS } from '../../src/kernels/spec.js';
import type { UdiStep } from '../steps.js';
import { now } from '../harness.js';
import { OTHER_CPU_MAX } from '../meter.js';
import { harness, quick, type Slot, timeSlots } from './context.js';

interface Acc {
  calls: number;
  self: number;
  total: number;
}

type Fn = (...a: unknown[]) => unknown;

/** Names of the function-valued properties of `obj` and its prototypes (Object.prototype and constructors excluded). */
function methodNames(obj: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = obj; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const n of Object.getOwnPropertyNames(p)) {
      const d = Object.getOwnPropertyDescriptor(p, n)!;
      if (n !== 'constructor' && typeof d.value === 'function') names.add(n);
    }
  }
  return [...names];
}

/** How an export's calls are told apart: a matmul-like one by its m, n, k arguments, a convolution block by h, wd, c, oc (found by name in its spec); null: by name only. */
function shapeKey(name: string): ((a: number[]) => string) | null {
  const args = (KERNELS as Record<string, { args: readonly string[] }>)[name].args.map((a) => a.split(':')[0]);
  const at = (xs: string[]) => {
    const i = xs.map((x) => args.indexOf(x));
    return i.every((j) => j >= 0) ? i : null;
  };
  const mnk = at(['m', 'n', 'k']);
  if (mnk) return (a) => `wasm:${name} ${a[mnk[0]]}x${a[mnk[1]]}x${a[mnk[2]]}`;
  const conv = at(['h', 'wd', 'c', 'oc']);
  if (conv) return (a) => `wasm:${name} ${a[conv[0]]}x${a[conv[1]]}x${a[conv[2]]}→${a[conv[3]]}`;
  return null;
}

/** Wraps rt.kernels (its methods, its raw exports, its pool's start and join) with self-time accounting; bench only. */
class Instrument {
  readonly acc = new Map<string, Acc>();
  /** Time inside top-level instrumented calls (everything else in a step is layer code and the like). */
  topLevel = 0;
  recording: [(...a: number[]) => unknown, number[]][] | null = null;
  /** Kernels methods the step calls from outside the kernels object; null while discovering them. */
  private entries: Set<string> | null = null;
  private stack: number[] = [];
  /** Kernels methods on the call stack (accounted or not). */
  private depth = 0;
  private undo: (() => void)[] = [];

  constructor(
    readonly rt: Runtime,
    discoveryStep: () => void,
  ) {
    const K = rt.kernels as unknown as Record<string, unknown>;
    const raw = K.raw as Record<string, (...a: number[]) => unknown> | undefined;
    if (!raw || typeof raw !== 'object') throw new Error('profile: rt.kernels has no `raw` exports object to instrument; update bench/e2e/profile.ts');
    const missing = KERNEL_NAMES.filter((n) => typeof raw[n] !== 'function');
    if (missing.length) throw new Error(`profile: rt.kernels.raw lacks the exports ${missing.join(', ')} of src/kernels/spec.ts`);
    const wrappedRaw: Record<string, (...a: number[]) => unknown> = {};
    for (const name of KERNEL_NAMES) {
      const f = raw[name];
      const rec = (...a: number[]) => {
        if (this.recording) this.recording.push([f, a.slice()]);
        return f(...a);
      };
      wrappedRaw[name] = this.wrap(shapeKey(name) ?? `wasm:${name}`, rec, null) as (...a: number[]) => unknown;
    }
    Object.defineProperty(K, 'raw', { value: wrappedRaw, writable: true, configurable: true, enumerable: true });
    this.undo.push(() => Object.defineProperty(K, 'raw', { value: raw, writable: true, configurable: true, enumerable: true }));
    for (const name of methodNames(K)) {
      const own = Object.getOwnPropertyDescriptor(K, name);
      const f = K[name] as Fn;
      K[name] = this.wrapMethod(name, f, K);
      this.undo.push(own ? () => Object.defineProperty(K, name, own) : () => delete K[name]);
    }
    const pool = ((rt as unknown as { pool?: unknown }).pool ?? K.pool ?? null) as Record<string, Fn> | null;
    if (rt.info.threads > 1) {
      if (!pool || typeof pool.start !== 'function' || typeof pool.join !== 'function') throw new Error(`profile: the ${rt.info.threads}-thread runtime has no worker pool with start() and join(); update bench/e2e/profile.ts`);
      for (const name of ['start', 'join'] as const) {
        pool[name] = this.wrap(`sync:pool.${name}`, pool[name], pool);
        this.undo.push(() => delete pool[name]);
      }
    }
    discoveryStep();
    this.entries = new Set([...this.acc.entries()].filter(([k, a]) => k.startsWith('js:') && a.calls > 0).map(([k]) => k.slice(3)));
    const wasmCalls = [...this.acc.entries()].filter(([k]) => k.startsWith('wasm:')).reduce((s, [, a]) => s + a.calls, 0);
    if (this.entries.size === 0 || wasmCalls === 0) throw new Error(`profile: a step made ${this.entries.size} kernel-method calls and ${wasmCalls} calls through rt.kernels.raw; the kernels object is no longer instrumentable this way, update bench/e2e/profile.ts`);
    this.reset();
  }

  private accFor(key: string): Acc {
    let a = this.acc.get(key);
    if (!a) this.acc.set(key, (a = { calls: 0, self: 0, total: 0 }));
    return a;
  }

  /** A kernels method: accounted when it is an entry point (or while discovering entry points at depth 0), else passed through. */
  private wrapMethod(name: string, f: Fn, thisArg: unknown): Fn {
    const timed = this.wrap(`js:${name}`, f, thisArg);
    const self = this;
    return function (this: unknown, ...args: unknown[]) {
      const account = self.entries === null ? self.depth === 0 : self.entries.has(name);
      self.depth++;
      try {
        return account ? timed.apply(this, args) : f.apply(thisArg, args);
      } finally {
        self.depth--;
      }
    };
  }

  private wrap<A extends unknown[]>(key: string | ((a: A) => string), f: (...a: A) => unknown, thisArg: unknown): (...a: A) => unknown {
    const fixed = typeof key === 'string' ? this.accFor(key) : null;
    const stack = this.stack;
    const self = this;
    return function (this: unknown, ...args: A) {
      stack.push(0);
      const t0 = performance.now();
      try {
        return f.apply(thisArg ?? this, args);
      } finally {
        const dt = performance.now() - t0;
        const child = stack.pop()!;
        const acc = fixed ?? self.accFor((key as (a: A) => string)(args));
        acc.calls++;
        acc.self += dt - child;
        acc.total += dt;
        if (stack.length) stack[stack.length - 1] += dt;
        else self.topLevel += dt;
      }
    };
  }

  reset(): void {
    for (const a of this.acc.values()) a.calls = a.self = a.total = 0;
    this.topLevel = 0;
  }
  uninstall(): void {
    for (const u of this.undo.reverse()) u();
  }
}

export interface ProfileRow {
  step: string;
  threads: number;
  /** Uninstrumented, median over rounds, ms per step. */
  stepMs: number;
  loadMs: number;
  /** 1 thread: the recorded sequence of WebAssembly calls of one step replayed directly (no JS around it). */
  replayMs: number | null;
  /** 1 thread: stepMs − loadMs − replayMs, the JavaScript around the kernels. */
  jsMs: number | null;
  /** Instrumented run, ms per step. */
  instrumentedStepMs: number;
  wasmMs: number;
  wrapperJsMs: number;
  layerJsMs: number;
  poolSyncMs: number;
  gcMs: number;
  kernelCallsPerStep: number;
  wasmCallsPerStep: number;
  byKernel: { name: string; calls: number; ms: number; share: number }[];
  byWrapper: { name: string; calls: number; selfMs: number }[];
  /** Median cores used by other processes during the uninstrumented rounds, and during the instrumented run. */
  otherCpu: number | null;
  otherCpuInstrumented: number | null;
}

async function gcMsDuring(fn: () => void): Promise<number> {
  const entries: { startTime: number; duration: number }[] = [];
  const obs = new PerformanceObserver((list) => entries.push(...list.getEntries()));
  obs.observe({ entryTypes: ['gc'] });
  const t0 = now();
  fn();
  const t1 = now();
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 10));
  obs.disconnect();
  return entries.filter((e) => e.startTime >= t0 && e.startTime <= t1).reduce((s, e) => s + e.duration, 0);
}

/** Profile a step inside a stage (workers awake between steps, as in the trainer's runStage). */
export async function profileStep(name: string, s: UdiStep): Promise<ProfileRow> {
  s.rt.threads.beginStage();
  try {
    return await profileInStage(name, s);
  } finally {
    s.rt.threads.endStage();
  }
}

async function profileInStage(name: string, s: UdiStep): Promise<ProfileRow> {
  const threads = s.rt.info.threads;
  // Uninstrumented: whole step, load only, and for 1 thread the replay of its WebAssembly calls.
  let log: [(...a: number[]) => unknown, number[]][] = [];
  if (threads === 1) {
    const ins = new Instrument(s.rt, () => void s.step());
    s.load();
    ins.recording = log;
    s.compute();
    ins.recording = null;
    ins.uninstall();
    log = log.slice();
  }
  const replay = () => {
    for (let i = 0; i < log.length; i++) log[i][0](...log[i][1]);
  };
  const slots: Slot[] = [
    { step: () => void s.step(), row: { name: 'step', impl: 'udi-wasm', threads, status: 'ok' } },
    { step: () => s.load(), row: { name: 'load', impl: 'udi-wasm', threads, status: 'ok' } },
  ];
  if (threads === 1) slots.push({ step: replay, row: { name: 'replay', impl: 'udi-wasm', threads, status: 'ok' } });
  await timeSlots(slots);
  const ms = (i: number) => slots[i].row.msPerStep!;

  // Instrumented: per kernel and per wrapper, with the GC time of the same steps.
  const ins = new Instrument(s.rt, () => void s.step());
  for (let i = 0; i < 20; i++) s.step();
  const n = Math.max(20, Math.round((quick ? 300 : 1500) / ms(0)));
  ins.reset();
  let t = 0;
  harness.meter.start();
  const gcMs = await gcMsDuring(() => {
    const t0 = now();
    for (let i = 0; i < n; i++) s.step();
    t = now() - t0;
  });
  const otherInstr = harness.meter.stop();
  ins.uninstall();
  const per = (x: number) => x / n;
  const entries = [...ins.acc.entries()].filter(([, a]) => a.calls > 0);
  const sum = (prefix: string, f: (a: Acc) => number) => entries.filter(([k]) => k.startsWith(prefix)).reduce((s2, [, a]) => s2 + f(a), 0);
  const wasm = sum('wasm:', (a) => a.self);
  const byKernel = entries
    .filter(([k]) => k.startsWith('wasm:'))
    .map(([k, a]) => ({ name: k.slice(5), calls: a.calls / n, ms: per(a.self), share: a.self / wasm }))
    .sort((a, b) => b.ms - a.ms);
  const byWrapper = entries
    .filter(([k]) => k.startsWith('js:'))
    .map(([k, a]) => ({ name: k.slice(3), calls: a.calls / n, selfMs: per(a.self) }))
    .sort((a, b) => b.selfMs - a.selfMs);
  return {
    step: name,
    threads,
    stepMs: ms(0),
    loadMs: ms(1),
    replayMs: threads === 1 ? ms(2) : null,
    jsMs: threads === 1 ? ms(0) - ms(1) - ms(2) : null,
    instrumentedStepMs: per(t),
    wasmMs: per(wasm),
    wrapperJsMs: per(sum('js:', (a) => a.self)),
    layerJsMs: per(t - ins.topLevel),
    poolSyncMs: per(sum('sync:', (a) => a.self)),
    gcMs: per(gcMs),
    kernelCallsPerStep: sum('js:', (a) => a.calls) / n,
    wasmCallsPerStep: sum('wasm:', (a) => a.calls) / n,
    byKernel,
    byWrapper,
    otherCpu: slots[0].row.otherCpu ?? null,
    otherCpuInstrumented: otherInstr,
  };
}

export function printProfile(p: ProfileRow): void {
  const pct = (x: number) => `${((100 * x) / p.stepMs).toFixed(0)}%`;
  const busy = (o: number | null) => (o === null ? '?' : `${o.toFixed(2)}${o > OTHER_CPU_MAX ? ' !' : ''}`);
  console.log(`  ${p.step}, ${p.threads} thread${p.threads > 1 ? 's' : ''}: step ${p.stepMs.toFixed(3)} ms (uninstrumented); other processes ${busy(p.otherCpu)} / ${busy(p.otherCpuInstrumented)} cores`);
  if (p.replayMs !== null && p.jsMs !== null) {
    console.log(`    = WebAssembly kernels ${p.replayMs.toFixed(3)} ms (${pct(p.replayMs)}; the step's ${p.wasmCallsPerStep.toFixed(0)} calls replayed alone) + batch copy ${p.loadMs.toFixed(3)} (${pct(p.loadMs)}) + JS around the kernels ${p.jsMs.toFixed(3)} (${pct(p.jsMs)})`);
  } else console.log(`    batch copy ${p.loadMs.toFixed(3)} ms (${pct(p.loadMs)})`);
  console.log(
    `    instrumented (${p.instrumentedStepMs.toFixed(3)} ms/step): wasm ${p.wasmMs.toFixed(3)}, kernel wrappers ${p.wrapperJsMs.toFixed(3)} (${p.kernelCallsPerStep.toFixed(0)} calls), layers+load ${p.layerJsMs.toFixed(3)}` +
      (p.threads > 1 ? `, pool dispatch+wait ${p.poolSyncMs.toFixed(3)}` : '') +
      `, GC ${p.gcMs.toFixed(3)}`,
  );
  console.log(`    by kernel: ${p.byKernel.slice(0, 10).map((k) => `${k.name} ${k.ms.toFixed(3)} (${(100 * k.share).toFixed(0)}%${k.calls > 1.01 ? `, ${k.calls.toFixed(0)}x` : ''})`).join(', ')}`);
  console.log(`    wrapper self time: ${p.byWrapper.slice(0, 5).map((w) => `${w.name} ${(1000 * w.selfMs).toFixed(0)} us${w.calls > 1.01 ? ` (${w.calls.toFixed(0)}x)` : ''}`).join(', ')}`);
}
