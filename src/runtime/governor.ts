/**
 * When to split a kernel call over the worker pool: a size threshold per kind of work, and a check
 * that splitting pays, so that threads should not make training slower than the calling thread alone,
 * also when other processes compete for the cores.
 *
 * Evidence, per split call: the caller times the chunks it ran itself (back to back, from publishing
 * the job) and the whole call (publish, own chunks, join). Its chunks are a known fraction of the call's work, so `own time / fraction`
 * estimates what the call would have cost on the calling thread alone, measured on the same data in
 * the same moment. Over a window of split calls (24 calls, and at least 10 ms of them) the governor
 * compares the summed actual times with the summed estimates; when splitting was slower than the
 * estimate in two windows in a row, it falls back to the calling thread for a backoff period, then
 * probes again with one window of split calls, which must save `minGain`; the backoff doubles after
 * each failed window (up to `maxBackoffMs`) and halves after each window that pays. A failed probe costs little:
 * chunks are claimed dynamically, so a worker that does not show up leaves its chunks to the caller.
 * Windows are long because short ones are noisy on a shared VM: one interrupt or page fault in 24
 * calls of 10-30 µs made a window look slower than one thread. Measured on a 2-core AMD EPYC VM,
 * five alternating rounds of whole UDI runs (AV-MNIST B, the MLP encoders of `npm run bench`; under
 * load capped at 4 epochs a stage, as in bench/contention.ts): windows of 24 calls alone fell back
 * 4-21 times per idle run, with a 10 ms floor 0-1 times, and the median 2-thread run took 1648 ms
 * against 1702 (1 thread: 2074); with two busy processes the two gave the same median (1518 ms;
 * 1 thread 1538), falling back 3-7 and 3-4 times.
 *
 * Two levels keep such windows, with the same rule:
 * - each size class (a kernel and the power of two of its work: a matmul of 2^23 multiply-adds is
 *   one class, of 2^17 another), because whether a split pays depends on the call's size: classes
 *   too small to gain fall back alone, while the large ones go on splitting (with one window over
 *   all calls, a window of small calls that did not pay switched off the large ones that did);
 * - all split calls together, because other processes busy on the cores slow every class at once:
 *   that fallback stops all splitting and lets the workers sleep (spinning workers would take CPU
 *   from the calling thread). Measured with two busy processes on 2 cores, per-class windows alone
 *   kept probing some class and the workers awake, and a CNN step took 1.8× its 1-thread time.
 * The windows see only the split calls, and on a loaded machine that is not enough: with one other
 * process busy on 2 cores the windows found splitting paying (mostly 1.0-1.8× by their estimate)
 * while the runs were slower than with no splitting at all (three busy threads on two cores: the
 * calling thread is descheduled in its serial code, a worker in its chunks). So the governor also
 * reads how busy the machine is (`load`) and holds splitting off while fewer cores are spare than it
 * has threads (spare < threads − 0.5, over about 200 ms; splitting resumes at spare ≥ threads −
 * 0.25). Node on Linux reads the machine's busy time (/proc/stat, Host.loadMeter); every other host
 * uses what the workers see of their own scheduling (preemptionMeter), which has no reading while
 * they sleep, so a hold there ends with a probe after 1-8 s (checkLoad).
 * The mode is 'serial' (the runtime lets the workers sleep) during a fallback of all calls, while
 * splitting is held off, or when every class seen is in its own fallback.
 *
 * Bits never depend on any of this: a call computes the same outputs split or not (src/runtime/pool.ts).
 * The clock is injected so the decisions are tested without timing (test/governor.test.ts).
 */

import type { OtherLoad } from './env.js';

export interface GovernorOptions {
  /** Split calls compared per decision (default 24), and the least summed time of those calls, ms (default 10: see the class comment). */
  window?: number;
  minWindowMs?: number;
  /** Fraction of the single-thread time a probe window must save to bring splitting back (default 0.05); outside probes, two windows in a row slower than one thread fall back. */
  minGain?: number;
  /** First fallback period, ms (default 250); doubles after each failed probe up to maxBackoffMs (default 8000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Split only calls with at least this many multiply-adds (matmul, im2col-like: default 2^17). */
  minMacs?: number;
  /** Split only element-wise calls over at least this many elements (default 2^16). */
  minElements?: number;
  /** Whether to fall back at all; false splits every call above the thresholds (tests, fixed benchmarks). */
  adaptive?: boolean;
  /** Milliseconds, monotonic (default performance.now). */
  clock?: () => number;
  /** Cores other processes keep busy (a Host.loadMeter, or preemptionMeter), and this runtime's threads; without load, no hold. */
  load?: () => OtherLoad | null;
  threads?: number;
}

export interface GovernorStats {
  /** 'serial' during a fallback of all calls or while every size class seen is in its own (the workers may sleep), else 'parallel'. */
  mode: 'parallel' | 'serial';
  /** Calls split and calls run on the calling thread only (because small or during a fallback). */
  splitCalls: number;
  serialCalls: number;
  /** Fallbacks so far, and probes that found splitting paying again (of any size class). */
  fallbacks: number;
  recoveries: number;
  /** Single-thread estimate / actual time of the last decided window (> 1: splitting paid). */
  lastSpeedup: number;
  /** Size classes that had a split-sized call, and those of them in a fallback now. */
  classes: number;
  classesSerial: number;
  /** The last fallback period applied, ms. */
  backoffMs: number;
  /** Whether splitting is held off now because other processes keep too many cores busy, and how often it was. */
  held: boolean;
  holds: number;
  minMacs: number;
  minElements: number;
}

const defaultClock = () => performance.now();

export class ThreadGovernor {
  readonly adaptive: boolean;
  minMacs: number;
  minElements: number;
  private readonly window: number;
  private readonly minWindowMs: number;
  private readonly minGain: number;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  private readonly clock: () => number;
  // Per window slot (a size class, see classOf, or ALL): fallback end (0: splitting), backoff,
  // calls in the window, whether the window is a probe, its summed actual and estimated times;
  // per class, the caller's recent time per unit of work.
  private readonly until = new Float64Array(SLOTS);
  private readonly backoff: Float64Array;
  private readonly n = new Int32Array(SLOTS);
  private readonly probing = new Uint8Array(SLOTS);
  private readonly actual = new Float64Array(SLOTS);
  private readonly estimate = new Float64Array(SLOTS);
  private readonly rates = new Float64Array(SLOTS).fill(Infinity);
  private readonly seen = new Uint8Array(SLOTS);
  /** Slower windows in a row (outside probes). */
  private readonly strikes = new Uint8Array(SLOTS);
  /** The class of the last call passed to split (record belongs to it). */
  private cur = 0;
  private readonly load: (() => OtherLoad | null) | null;
  private readonly threads: number;
  /** Kernel calls since the last look at the load, and when that was (ms). */
  private calls = 0;
  private loadAt = -Infinity;
  /** When splitting was last held off (ms); how long a hold lasts with no reading before a probe; whether splitting resumed as a probe. */
  private heldAt = 0;
  private holdMs = HOLD_MS;
  private probe = false;
  private readonly s: GovernorStats;
  /** Called when the mode changes (the runtime lets workers sleep during a fallback). */
  onChange: ((parallel: boolean) => void) | null = null;

  constructor(o: GovernorOptions = {}) {
    this.adaptive = o.adaptive ?? true;
    this.window = o.window ?? 24;
    this.minWindowMs = o.minWindowMs ?? 10;
    this.minGain = o.minGain ?? 0.05;
    this.minBackoff = o.backoffMs ?? 250;
    this.backoff = new Float64Array(SLOTS).fill(this.minBackoff);
    this.maxBackoff = o.maxBackoffMs ?? 8000;
    this.minMacs = o.minMacs ?? 1 << 17;
    this.minElements = o.minElements ?? 1 << 16;
    this.clock = o.clock ?? defaultClock;
    this.load = o.adaptive === false ? null : (o.load ?? null);
    this.load?.(); // a meter counts from its previous call: from now on
    this.threads = o.threads ?? 2;
    this.s = { mode: 'parallel', splitCalls: 0, serialCalls: 0, fallbacks: 0, recoveries: 0, lastSpeedup: NaN, classes: 0, classesSerial: 0, backoffMs: this.minBackoff, held: false, holds: 0, minMacs: this.minMacs, minElements: this.minElements };
  }

  /** The clock the governor reads (callers time their calls with the same one). */
  now(): number {
    return this.clock();
  }

  /**
   * Whether a call of `work` units (multiply-adds, or elements when `elementwise`) of kernel number
   * `kernel` (0-255) should be split now. A split call is then reported with `record`.
   */
  split(work: number, elementwise: boolean, kernel = 0): boolean {
    if (this.load !== null && (++this.calls & 255) === 0) this.checkLoad();
    if (work < (elementwise ? this.minElements : this.minMacs)) {
      this.s.serialCalls++;
      return false;
    }
    const c = (this.cur = classOf(kernel, work));
    if (this.seen[c] === 0) {
      this.seen[c] = 1;
      this.s.classes++;
    }
    if (this.s.held || !this.open(ALL) || !this.open(c)) {
      this.s.serialCalls++;
      return false;
    }
    this.s.splitCalls++;
    return true;
  }

  /** Whether slot k splits now; a slot whose backoff is over starts a probe window. */
  private open(k: number): boolean {
    if (this.until[k] === 0) return true;
    if (this.clock() < this.until[k]) return false;
    this.until[k] = 0;
    this.probing[k] = 1;
    if (k !== ALL) this.s.classesSerial--;
    this.updateMode();
    return true;
  }

  /**
   * Record the split call last passed to `split`: `actualMs` from publishing to the end of join,
   * `ownMs` from publishing (from after it, when it had to wake workers) to the end of the caller's
   * own chunks (they run back to back),
   * `ownFraction` the fraction of the call's work those chunks were; with `work`, the rest of the
   * call is costed at the caller's recent speed on this size class rather than at this call's: a
   * caller descheduled during its own chunks (a loaded machine) would otherwise inflate the estimate by that pause × (1/fraction − 1) and make
   * splitting look good exactly when it is not. The rate follows a fast call only part way (an
   * average with weight 0.2) and a slow one by at most 2% per call: jumping to the fastest call ever
   * seen made single-thread time look shorter than it is, and the governor fell back to one thread
   * on an idle machine where splitting paid 1.2-1.4× (measured on the MLP and CNN steps).
   */
  record(actualMs: number, ownMs: number, ownFraction: number, work = 0): void {
    const c = this.cur;
    if (!this.adaptive || this.until[c] !== 0 || this.until[ALL] !== 0) return;
    // A caller that ran no chunk (fast workers took them all) measured nothing to compare with.
    if (!(ownFraction > 0)) return;
    let estimate = ownMs / ownFraction;
    if (work > 0) {
      const rate = ownMs / (ownFraction * work);
      // A damped average: a faster call moves it by a fifth of the difference, a slower one by at most 2%.
      const prev = this.rates[c];
      const r = prev === Infinity ? rate : Math.min(prev * 1.02, 0.8 * prev + 0.2 * rate);
      this.rates[c] = r;
      estimate = ownMs + (1 - ownFraction) * work * r;
    }
    // All calls first: when they fall back together, the class's windows restart (same evidence).
    if (!this.add(ALL, actualMs, estimate)) this.add(c, actualMs, estimate);
  }

  /** Add a call to slot k's window and decide when the window is full; whether k fell back. */
  private add(k: number, actualMs: number, estimateMs: number): boolean {
    this.actual[k] += actualMs;
    this.estimate[k] += estimateMs;
    if (++this.n[k] < this.window || this.actual[k] < this.minWindowMs) return false;
    const speedup = this.actual[k] > 0 ? this.estimate[k] / this.actual[k] : Infinity;
    this.s.lastSpeedup = speedup;
    this.n[k] = 0;
    this.actual[k] = this.estimate[k] = 0;
    const probing = this.probing[k] === 1;
    this.probing[k] = 0;
    // Outside a probe, a slot falls back after two windows in a row slower than one thread; a probe
    // after a fallback must save minGain (one lucky window on a loaded machine must not bring the
    // splitting back), and a passing window only halves the backoff: a machine that keeps flipping
    // between loaded and idle then stays mostly on the calling thread.
    if (speedup >= 1 / (1 - (probing ? 1 : 0) * this.minGain)) {
      if (probing) this.s.recoveries++;
      this.backoff[k] = Math.max(this.minBackoff, this.backoff[k] / 2);
      this.strikes[k] = 0;
      return false;
    }
    // (One window of a few ms is noisy on a shared VM: a single slow one among paying ones was a false fallback.)
    if (!probing && ++this.strikes[k] < 2) return false;
    this.strikes[k] = 0;
    this.until[k] = this.clock() + this.backoff[k];
    this.s.fallbacks++;
    this.s.backoffMs = this.backoff[k];
    this.backoff[k] = Math.min(this.maxBackoff, this.backoff[k] * 2);
    if (k !== ALL) this.s.classesSerial++;
    else this.n.fill(0), this.actual.fill(0), this.estimate.fill(0); // the classes' windows restart after it
    this.updateMode();
    return true;
  }

  /**
   * Every LOAD_MS at most (looked at every 256 kernel calls): hold splitting off while too few cores
   * are spare, with hysteresis. A meter with no reading while splitting is held off (preemptionMeter:
   * the workers sleep) gets a probe after `holdMs`: splitting resumes, and the next reading decides;
   * a hold that follows a probe lasts twice as long as the one before (from 1 s up to 8 s), any
   * other hold 1 s.
   */
  private checkLoad(): void {
    const t = this.clock();
    if (t - this.loadAt < LOAD_MS) return;
    const l = this.load!();
    if (l === null) {
      // No reading yet: look again after the next 256 calls, and at least RETRY_MS later (a meter's reading comes as soon as it has one).
      this.loadAt = t - LOAD_MS + RETRY_MS;
      if (this.s.held && t - this.heldAt >= this.holdMs) {
        this.s.held = false;
        this.probe = true;
        this.updateMode();
      }
      return;
    }
    this.loadAt = t;
    const spare = l.cores - l.others;
    const held = this.s.held ? spare < this.threads - 0.25 : spare < this.threads - 0.5;
    if (held === this.s.held) {
      this.probe = false;
      return;
    }
    this.s.held = held;
    if (held) {
      this.s.holds++;
      this.heldAt = t;
      this.holdMs = this.probe ? Math.min(MAX_HOLD_MS, 2 * this.holdMs) : HOLD_MS;
    }
    this.probe = false;
    this.updateMode();
  }

  /** 'serial' during a fallback of all calls, while splitting is held off, or while every class seen is in its own fallback. */
  private updateMode(): void {
    const parallel = !this.s.held && this.until[ALL] === 0 && this.s.classesSerial < this.s.classes;
    if (parallel === (this.s.mode === 'parallel')) return;
    this.s.mode = parallel ? 'parallel' : 'serial';
    this.onChange?.(parallel);
  }

  /** Leave every fallback now (the next split-sized call of each class probes). */
  reprobe(): void {
    for (let k = 0; k < SLOTS; k++) if (this.until[k] !== 0) this.until[k] = -Infinity;
  }

  get stats(): Readonly<GovernorStats> {
    this.s.minMacs = this.minMacs;
    this.s.minElements = this.minElements;
    return { ...this.s };
  }
}

/** The least time between two looks at the machine's load (ms), and after a look that had no reading. */
const LOAD_MS = 200;
const RETRY_MS = 20;
/** How long a hold with no reading lasts before a probe, at first and at most (ms). */
const HOLD_MS = 1000;
const MAX_HOLD_MS = 8000;

/**
 * A load meter for hosts that cannot read the machine's load (browsers, Deno, Node outside Linux), from
 * the workers themselves: a worker spinning for its next job looks at the clock every few µs, and a
 * pause longer than DESCHEDULED_MS between two looks means it was descheduled, its core given to
 * another thread (udiNextJob in src/runtime/pool-worker.ts). With `run` ms spent running and `lost`
 * ms descheduled (summed over the workers), x = lost/run is the time a worker loses to other threads
 * per unit of its own.
 * Readings of 50-120 ms on an idle 2-core AMD EPYC VM (2 threads, UDI runs) gave x = 0.05-0.25 in
 * Node and 0-0.7 in headless Chromium, with now and then a spike: 1.64 mid-run, and 1.65 and 1.70 as
 * the first reading of a runtime started right after another 2-thread runtime was disposed; one
 * other busy process gave 1.1-2.6 (one reading of 0.37). Up to NOISE of x is not counted, and the rest is
 * reported on ThreadGovernor's scale, others = 2·(x − NOISE) of `threads` cores, so that its hold
 * rule (others > 0.5) holds splitting off at x > 0.75 and resumes at x < 0.625, whatever the thread
 * count. A reading within STALE_MS of the one before is reported as the smaller of the two, so a
 * hold needs two busy readings in a row: the mid-run spike above, between readings of 0-0.14, had
 * held splitting off for 1.4 s of a 1.7 s run. A runtime's first reading, and one after the workers
 * slept (a hold, a fallback of the per-call governor), counts alone: a busy process keeps every
 * reading high, and waiting for a second one there cost more under load than it saved (the second
 * reading came up to 0.8 s later, the workers asleep in the meantime).
 * Null until the workers spun `minMs` since the last reading (they sleep between stages,
 * while splitting is held off and during the governor's fallbacks). Not used where the workers'
 * clock is too coarse to tell such a pause (WorkerPool.timed).
 */
export function preemptionMeter(read: () => { runUs: number; lostUs: number }, threads: number, minMs = 50, clock: () => number = defaultClock): () => OtherLoad | null {
  let base = read();
  let prev = 0,
    prevAt = -Infinity;
  return () => {
    const now = read();
    const run = ((now.runUs - base.runUs) >>> 0) / 1000,
      lost = ((now.lostUs - base.lostUs) >>> 0) / 1000;
    if (run + lost < minMs) return null;
    base = now;
    const others = 2 * Math.max(0, lost / Math.max(run, 1e-3) - NOISE);
    // The smaller of this reading and a recent one before it: one spike does not hold splitting off.
    const t = clock();
    const seen = t - prevAt <= STALE_MS ? Math.min(prev, others) : others;
    prev = others;
    prevAt = t;
    return { others: seen, cores: threads };
  };
}
const NOISE = 0.5;
/**
 * A reading this long after the one before (ms) is not paired with it: the governor looks every
 * LOAD_MS (200) or a little more, while workers that slept were away at least 250 ms (a fallback) or
 * 1 s (a hold), plus the 50 ms they must spin for a reading.
 */
const STALE_MS = 280;

/** Window slots: one per size class (256 kernels × 32 powers of two of the work), and ALL for every call. */
const ALL = 256 * 32;
const SLOTS = ALL + 1;
/** The size class of a call: its kernel (0-255) and ⌊log2 work⌋ (0-31). */
const classOf = (kernel: number, work: number): number => ((kernel & 255) << 5) | (31 - Math.clz32(Math.min(work, 0xffffffff) >>> 0));
