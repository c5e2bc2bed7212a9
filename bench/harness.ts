/**
 * The timing harness shared by the benchmarks (bench/kernels.ts, bench/e2e.ts and its parts):
 *
 *   1. warm-up: a thing is run for --warm-ms (and at least a few calls) so V8's tiers have settled,
 *      then the calls per timed batch are sized from a short probe so one batch takes ~--batch-ms;
 *   2. rounds: each round times one batch of every contender back to back in a rotating order, so
 *      machine noise affects them alike (optional per-round extras, e.g. ceiling samples, follow);
 *   3. the machine is shared: a round during which other processes used more than OTHER_CPU_MAX
 *      cores (bench/meter.ts) is repeated, up to 3 x runs rounds; the figure is the median over the
 *      clean rounds (or over all of them when too few were clean, and the caller flags the row).
 *
 * Also here: the GC used before heap figures, and the machine metadata every JSON result carries.
 */
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { OTHER_CPU_MAX, OtherCpu } from './meter.js';

export const now = () => performance.now();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** A number with `d` digits, or '-' when absent or not finite. */
export const fmt = (v: number | null | undefined, d: number) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));

export interface HarnessOptions {
  /** Clean rounds wanted per measurement (the median is over them). */
  runs: number;
  /** Target duration of one timed batch. */
  batchMs: number;
  /** Warm-up duration before sizing a batch. */
  warmMs: number;
  /** Pause after a contended round, so a short burst of another process can pass (0: none). */
  backoffMs?: number;
}

/** One round: ms of each contender's batch, the extras' values, other processes' CPU in cores. */
export interface Round {
  ms: number[];
  extra: number[];
  other: number | null;
}

export class Harness {
  readonly meter = new OtherCpu();
  /** Every round timed so far (the kernel lab's ceiling is the median over the whole run). */
  readonly allRounds: Round[] = [];

  constructor(readonly o: HarnessOptions) {}

  static isClean(r: Round): boolean {
    return r.other === null || r.other <= OTHER_CPU_MAX;
  }

  /** The clean rounds if there are `runs` of them, else all (the caller flags the result). */
  usable(rounds: Round[]): Round[] {
    const clean = rounds.filter(Harness.isClean);
    return clean.length >= this.o.runs ? clean : rounds;
  }

  /** Warm `run(calls)` up, then return the calls per batch that take ~batchMs. */
  size(run: (calls: number) => void, minCalls = 2, maxProbe = 64): number {
    const t0 = now();
    let calls = 0;
    while (calls < minCalls || now() - t0 < this.o.warmMs) {
      run(1);
      calls++;
    }
    const probe = Math.max(1, Math.min(maxProbe, Math.round(calls / 4)));
    const t = now();
    run(probe);
    return Math.max(1, Math.round(this.o.batchMs / ((now() - t) / probe)));
  }

  /**
   * Rounds until `runs` were clean (or 3 x runs in all). Each times one call of every batch in a
   * rotating order, then calls every extra once (its return value is recorded, not its time).
   */
  async rounds(batches: (() => void)[], extras: (() => number)[] = []): Promise<Round[]> {
    const rounds: Round[] = [];
    const runs = this.o.runs;
    for (let r = 0; rounds.filter(Harness.isClean).length < runs && r < 3 * runs; r++) {
      if (r > 0 && this.o.backoffMs && !Harness.isClean(rounds[r - 1])) await sleep(this.o.backoffMs);
      this.meter.start();
      const ms = new Array<number>(batches.length).fill(0);
      for (let j = 0; j < batches.length; j++) {
        const i = (j + r) % batches.length;
        const t = now();
        batches[i]();
        ms[i] = now() - t;
      }
      const extra = extras.map((f) => f());
      rounds.push({ ms, extra, other: this.meter.stop() });
    }
    this.allRounds.push(...rounds);
    return rounds;
  }

  /**
   * Size and time `n` contenders in shared rounds: `run(i, calls)` runs `calls` calls of contender i.
   * Per contender: ms per call (median, min, max over the usable rounds) and the calls per batch;
   * for all: rounds used, rounds repeated, median cores used by other processes.
   */
  async time(n: number, run: (i: number, calls: number) => void, minCalls = 2, maxProbe = 64): Promise<Timing> {
    const calls = Array.from({ length: n }, (_, i) => this.size((c) => run(i, c), minCalls, maxProbe));
    const rounds = await this.rounds(calls.map((c, i) => () => run(i, c)));
    const used = this.usable(rounds);
    const others = used.map((r) => r.other).filter((o): o is number => o !== null);
    return {
      perCall: calls.map((c, i) => {
        const per = used.map((r) => r.ms[i] / c);
        return { median: median(per), min: Math.min(...per), max: Math.max(...per), calls: c };
      }),
      runs: used.length,
      roundsDiscarded: rounds.length - used.length,
      otherCpu: others.length ? median(others) : null,
    };
  }
}

export interface Timing {
  perCall: { median: number; min: number; max: number; calls: number }[];
  runs: number;
  roundsDiscarded: number;
  otherCpu: number | null;
}

// ---- GC ------------------------------------------------------------------------------------------

/** How the GC below was obtained: --expose-gc (npm run bench passes it), else V8's flag at run time. */
export let gcMethod = 'global.gc (--expose-gc)';
let gcFn: (() => void) | null = null;
/** Two full collections (the second collects what the first's finalisers freed). */
export function fullGc(): void {
  gcFn ??=
    (globalThis as { gc?: () => void }).gc ??
    (() => {
      gcMethod = 'v8.setFlagsFromString("--expose-gc") at run time';
      v8.setFlagsFromString('--expose-gc');
      return vm.runInNewContext('gc') as () => void;
    })();
  gcFn();
  gcFn();
}
export const heapUsed = () => process.memoryUsage().heapUsed;

// ---- metadata ------------------------------------------------------------------------------------

/** The machine and runtime a result was measured on (every benchmark's JSON metadata starts with it). */
export function machine(command: string): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.arch()}`,
    cpu: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    availableParallelism: os.availableParallelism(),
    command: `${command} ${process.argv.slice(2).join(' ')}`.trim(),
  };
}

/** The one-line header every benchmark prints first. */
export function banner(what: string, o: HarnessOptions, quick: boolean): string {
  const cpus = os.cpus();
  return `${what}: node ${process.version}, ${cpus[0]?.model ?? 'unknown cpu'} x${cpus.length}, runs ${o.runs}, batch ~${o.batchMs} ms${quick ? ', quick' : ''}`;
}
