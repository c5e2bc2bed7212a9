/**
 * When to split a kernel call over the worker pool: a size threshold per kind of work, and a check
 * that splitting pays, so that threads never make training slower than the calling thread alone,
 * also when other processes compete for the cores.
 *
 * Evidence, per split call: the caller times the chunks it ran itself and the whole call (publish,
 * own chunks, join). Its chunks are a known fraction of the call's work, so `own time / fraction`
 * estimates what the call would have cost on the calling thread alone, measured on the same data in
 * the same moment. Over a window of split calls the governor compares the summed actual times with
 * the summed estimates; when splitting was slower than the estimate (workers asleep, descheduled by
 * other processes, or the calls too small), it falls back to the calling thread for a backoff
 * period, then probes again with one window of split calls, which must save `minGain`;
 * the backoff doubles after each failed window (up to `maxBackoffMs`) and halves after each window
 * that pays. A failed probe costs little:
 * chunks are claimed dynamically, so a worker that does not show up leaves its chunks to the caller.
 *
 * Bits never depend on any of this: a call computes the same outputs split or not (src/runtime/pool.ts).
 * The clock is injected so the decisions are tested without timing (test/governor.test.ts).
 */

export interface GovernorOptions {
  /** Split calls compared per decision (default 24). */
  window?: number;
  /** Fraction of the single-thread time a probe window must save to bring splitting back (default 0.05); a normal window falls back only when slower than one thread. */
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
}

export interface GovernorStats {
  /** 'parallel' while calls are split (including probes), 'serial' during a fallback. */
  mode: 'parallel' | 'serial';
  /** Calls split and calls run on the calling thread only (because small or during a fallback). */
  splitCalls: number;
  serialCalls: number;
  /** Fallbacks so far, and probes that found splitting paying again. */
  fallbacks: number;
  recoveries: number;
  /** Single-thread estimate / actual time of the last decided window (> 1: splitting paid). */
  lastSpeedup: number;
  /** The last fallback period applied, ms. */
  backoffMs: number;
  minMacs: number;
  minElements: number;
}

const defaultClock = () => performance.now();

export class ThreadGovernor {
  readonly adaptive: boolean;
  minMacs: number;
  minElements: number;
  private readonly window: number;
  private readonly minGain: number;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  private readonly clock: () => number;
  private parallel = true;
  private until = 0;
  private backoff: number;
  private n = 0;
  private probing = false;
  /** The caller's best recent time per unit of work, per kernel (ms). */
  private readonly rates = new Float64Array(256).fill(Infinity);
  private actual = 0;
  private estimate = 0;
  private readonly s: GovernorStats;
  /** Called when the mode changes (the runtime lets workers sleep during a fallback). */
  onChange: ((parallel: boolean) => void) | null = null;

  constructor(o: GovernorOptions = {}) {
    this.adaptive = o.adaptive ?? true;
    this.window = o.window ?? 24;
    this.minGain = o.minGain ?? 0.05;
    this.minBackoff = this.backoff = o.backoffMs ?? 250;
    this.maxBackoff = o.maxBackoffMs ?? 8000;
    this.minMacs = o.minMacs ?? 1 << 17;
    this.minElements = o.minElements ?? 1 << 16;
    this.clock = o.clock ?? defaultClock;
    this.s = { mode: 'parallel', splitCalls: 0, serialCalls: 0, fallbacks: 0, recoveries: 0, lastSpeedup: NaN, backoffMs: this.backoff, minMacs: this.minMacs, minElements: this.minElements };
  }

  /** The clock the governor reads (callers time their calls with the same one). */
  now(): number {
    return this.clock();
  }

  /** Whether a call of `work` units (multiply-adds, or elements when `elementwise`) should be split now. */
  split(work: number, elementwise: boolean): boolean {
    if (work < (elementwise ? this.minElements : this.minMacs)) {
      this.s.serialCalls++;
      return false;
    }
    if (!this.parallel) {
      if (this.clock() < this.until) {
        this.s.serialCalls++;
        return false;
      }
      this.setMode(true); // probe: one window of split calls
      this.probing = true;
    }
    this.s.splitCalls++;
    return true;
  }

  /**
   * Record a split call: `actualMs` from publishing to the end of join, `ownMs` the caller's time in
   * its own chunks, `ownFraction` the fraction of the call's work those chunks were; with `kernel`
   * (an index below 256) and `work`, the rest of the call is costed at the caller's best recent
   * speed on that kernel rather than at this call's: a caller descheduled during its own chunks
   * (a loaded machine) would otherwise inflate the estimate by that pause × (1/fraction − 1) and
   * make splitting look good exactly when it is not. The rate follows a fast call only part way
   * (an average with weight 0.2) and a slow one by at most 2% per call: jumping to the fastest call
   * ever seen made single-thread time look shorter than it is, and the governor fell back to one
   * thread on an idle machine where splitting paid 1.2-1.4× (measured on the MLP and CNN steps).
   */
  record(actualMs: number, ownMs: number, ownFraction: number, kernel = -1, work = 0): void {
    if (!this.adaptive || !this.parallel) return;
    // A caller that ran no chunk (fast workers took them all) measured nothing to compare with.
    if (!(ownFraction > 0)) return;
    this.actual += actualMs;
    if (kernel >= 0 && kernel < 256 && work > 0) {
      const rate = ownMs / (ownFraction * work);
      // A damped average: a faster call moves it by a fifth of the difference, a slower one by at most 2%.
      const prev = this.rates[kernel];
      const best = prev === Infinity ? rate : Math.min(prev * 1.02, 0.8 * prev + 0.2 * rate);
      this.rates[kernel] = best;
      this.estimate += ownMs + (1 - ownFraction) * work * best;
    } else this.estimate += ownMs / ownFraction;
    if (++this.n < this.window) return;
    const speedup = this.actual > 0 ? this.estimate / this.actual : Infinity;
    this.s.lastSpeedup = speedup;
    this.n = 0;
    this.actual = this.estimate = 0;
    const probing = this.probing;
    this.probing = false;
    // A normal window falls back only when slower than one thread; a probe after a fallback must
    // save minGain (one lucky window on a loaded machine must not bring the splitting back), and a
    // passing window only halves the backoff: a machine that keeps flipping between loaded and idle
    // then stays mostly on the calling thread.
    if (speedup >= 1 / (1 - (probing ? 1 : 0) * this.minGain)) {
      if (probing) this.s.recoveries++;
      this.backoff = Math.max(this.minBackoff, this.backoff / 2);
    } else {
      this.until = this.clock() + this.backoff;
      this.s.fallbacks++;
      this.s.backoffMs = this.backoff;
      this.backoff = Math.min(this.maxBackoff, this.backoff * 2);
      this.setMode(false);
    }
  }

  private setMode(parallel: boolean): void {
    if (parallel === this.parallel) return;
    this.parallel = parallel;
    this.s.mode = parallel ? 'parallel' : 'serial';
    this.n = 0;
    this.actual = this.estimate = 0;
    this.onChange?.(parallel);
  }

  /** Leave a fallback now (the next split-sized call probes). */
  reprobe(): void {
    this.until = 0;
  }

  get stats(): Readonly<GovernorStats> {
    this.s.minMacs = this.minMacs;
    this.s.minElements = this.minElements;
    return { ...this.s };
  }
}
