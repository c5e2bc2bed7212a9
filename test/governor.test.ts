// When kernel calls are split over the worker pool (src/runtime/governor.ts), tested with an injected
// clock and recorded timings, never with real time: size thresholds, the fallback to the calling
// thread when split calls do not pay, probes with backoff, the workers kept awake only inside a stage
// and outside a fallback (src/runtime/runtime.ts, Threads); the default thread count per runtime; and
// bits equal to 1 thread while the fallback is toggled in the middle of a run of kernel calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import { Kernels } from '../src/engine.js';
import { MATMUL_SCRATCH_FLOATS } from '../src/kernels/reference/index.js';
import { preemptionMeter, ThreadGovernor } from '../src/runtime/governor.js';
import type { WorkerPool } from '../src/runtime/pool.js';
import { defaultThreads, Threads } from '../src/runtime/runtime.js';
import { otherLoadMeter } from '../src/runtime/node.js';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expectBitwise, Rand } from './helpers.js';

/** A governor on a clock the test moves by hand. */
function governor(o: ConstructorParameters<typeof ThreadGovernor>[0] = {}) {
  const clock = { t: 1000 };
  const g = new ThreadGovernor({ window: 4, minWindowMs: 0, minGain: 0.05, backoffMs: 100, maxBackoffMs: 400, clock: () => clock.t, ...o });
  /** One window of split calls, each taking `actual` ms where one thread would take `single` ms (the caller ran half). */
  const windowOf = (actual: number, single: number) => {
    for (let i = 0; i < 4; i++) {
      expect(g.split(1 << 20, false)).toBe(true);
      g.record(actual, single / 2, 0.5);
    }
  };
  return { g, clock, windowOf };
}

describe('ThreadGovernor', () => {
  it('splits only calls at or above the size thresholds', () => {
    const { g } = governor({ minMacs: 1000, minElements: 100 });
    expect(g.split(999, false)).toBe(false);
    expect(g.split(1000, false)).toBe(true);
    expect(g.split(99, true)).toBe(false);
    expect(g.split(100, true)).toBe(true);
    expect(g.stats).toMatchObject({ splitCalls: 2, serialCalls: 2, mode: 'parallel' });
  });

  it('goes on splitting while split calls pay', () => {
    const { g, windowOf } = governor();
    for (let w = 0; w < 5; w++) windowOf(6, 10);
    expect(g.stats).toMatchObject({ mode: 'parallel', fallbacks: 0 });
    expect(g.stats.lastSpeedup).toBeCloseTo(10 / 6, 10);
  });

  it('falls back to the calling thread when two windows in a row are slower than one thread, for the backoff period; a window saving little stays split', () => {
    const { g, clock, windowOf } = governor();
    const modes: boolean[] = [];
    g.onChange = (p) => modes.push(p);
    windowOf(9.8, 10); // saved 2 %: splitting still pays
    expect(g.stats).toMatchObject({ mode: 'parallel', fallbacks: 0 });
    windowOf(10.2, 10); // 2 % slower than one thread: once is noise
    windowOf(9.8, 10);
    windowOf(10.2, 10);
    expect(g.stats).toMatchObject({ mode: 'parallel', fallbacks: 0 });
    windowOf(10.2, 10); // twice in a row
    expect(g.stats).toMatchObject({ mode: 'serial', fallbacks: 1, backoffMs: 100 });
    expect(modes).toEqual([false]);
    clock.t += 99;
    expect(g.split(1 << 20, false)).toBe(false);
    clock.t += 1;
    expect(g.split(1 << 20, false)).toBe(true); // the probe
    expect(modes).toEqual([false, true]);
  });

  it('slower-than-one-thread windows (workers descheduled) fall back too', () => {
    const { g, windowOf } = governor();
    windowOf(25, 10);
    windowOf(25, 10);
    expect(g.stats.mode).toBe('serial');
    expect(g.stats.lastSpeedup).toBeCloseTo(0.4, 10);
  });

  it('failed probes double the backoff up to maxBackoffMs; a probe must save minGain; passing windows halve it', () => {
    const { g, clock, windowOf } = governor();
    windowOf(20, 10);
    windowOf(20, 10);
    const periods = [g.stats.backoffMs];
    for (let i = 0; i < 4; i++) {
      clock.t += g.stats.backoffMs;
      windowOf(20, 10); // the probe fails (one window decides a probe)
      periods.push(g.stats.backoffMs);
    }
    expect(periods).toEqual([100, 200, 400, 400, 400]);
    expect(g.stats.fallbacks).toBe(5);
    // A probe saving 3 % (less than minGain) does not bring splitting back.
    clock.t += 400;
    windowOf(9.7, 10);
    expect(g.stats).toMatchObject({ mode: 'serial', fallbacks: 6, recoveries: 0 });
    // One that saves 40 % does; later failures start from half the backoff.
    clock.t += 400;
    windowOf(6, 10);
    expect(g.stats).toMatchObject({ mode: 'parallel', recoveries: 1 });
    windowOf(20, 10);
    windowOf(20, 10);
    expect(g.stats).toMatchObject({ mode: 'serial', backoffMs: 200 });
  });

  it('costs the workers\' part at the caller\'s recent speed on the size class, not at a descheduled chunk\'s', () => {
    const { g } = governor({ window: 2, minMacs: 1 });
    expect(g.split(1000, false, 7)).toBe(true);
    g.record(5, 4, 0.5, 1000); // 4 ms for 500 units: 0.008 ms/unit; estimate 8 ms
    expect(g.split(1000, false, 7)).toBe(true);
    g.record(10, 8, 0.5, 1000); // the caller was paused: 0.016 ms/unit, but the workers' half is costed at 0.00816
    // estimate 8 + 8 + 500 × 0.00816 = 20.08 against 15 actual
    expect(g.stats.lastSpeedup).toBeCloseTo(20.08 / 15, 6);
  });

  it('decides per size class: small calls that do not pay fall back while large ones stay split', () => {
    const { g, clock } = governor();
    const modes: boolean[] = [];
    g.onChange = (p) => modes.push(p);
    const call = (kernel: number, work: number, actual: number, single: number) => {
      const split = g.split(work, false, kernel);
      if (split) g.record(actual, single / 2, 0.5);
      return split;
    };
    for (let i = 0; i < 8; i++) {
      expect(call(3, 1 << 23, 6, 10)).toBe(true); // a large matmul: pays
      expect(call(3, 1 << 17, 0.03, 0.02)).toBe(true); // a small one: slower than one thread (two windows)
    }
    expect(g.stats).toMatchObject({ mode: 'parallel', fallbacks: 1, classes: 2, classesSerial: 1 });
    expect(call(3, 1 << 17, 0.03, 0.02)).toBe(false); // the small class runs on the calling thread...
    expect(call(3, (1 << 18) - 1, 0.03, 0.02)).toBe(false); // ...for every size in its power of two
    expect(call(3, 1 << 23, 6, 10)).toBe(true); // the large one still splits
    expect(call(4, 1 << 17, 0.01, 0.02)).toBe(true); // another kernel of the same size is its own class
    expect(modes).toEqual([]);
    // Calls of every class slower than one thread (other processes took the cores): all splitting
    // stops at once and the workers may sleep, until the probe.
    let serialAfter = 0;
    for (let i = 0; i < 16 && g.stats.mode === 'parallel'; i++, serialAfter++) call(3, 1 << 23, 20, 10);
    expect(serialAfter).toBeLessThanOrEqual(8);
    expect(g.stats).toMatchObject({ mode: 'serial', fallbacks: 2, classesSerial: 1 });
    expect(modes).toEqual([false]);
    expect(call(4, 1 << 17, 0.01, 0.02)).toBe(false);
    clock.t += 100;
    expect(call(3, 1 << 23, 6, 10)).toBe(true); // the probe
    expect(modes).toEqual([false, true]);
  });

  it('a window lasts until its calls sum to minWindowMs: short calls slower than one thread need more of them to fall back', () => {
    const { g } = governor({ minWindowMs: 10 });
    const call = () => {
      expect(g.split(1 << 20, false)).toBe(true);
      g.record(0.5, 0.2, 0.5); // 0.5 ms where one thread would take 0.4
    };
    // Two windows of 4 calls would be 8 calls; windows of 0.5 ms calls need 20 calls each to reach 10 ms.
    for (let i = 0; i < 39; i++) call();
    expect(g.stats).toMatchObject({ mode: 'parallel', fallbacks: 0 });
    call();
    expect(g.stats).toMatchObject({ mode: 'serial', fallbacks: 1 });
    expect(g.stats.lastSpeedup).toBeCloseTo(0.8, 10);
  });

  it('holds splitting off while other processes leave fewer spare cores than it has threads, with hysteresis', () => {
    let load: { others: number; cores: number } | null = null;
    const { g, clock } = governor({ threads: 2, load: () => load });
    const modes: boolean[] = [];
    g.onChange = (p) => modes.push(p);
    // The load is looked at every 256 kernel calls, at most every 200 ms.
    const calls = (n: number) => {
      let split = false;
      for (let i = 0; i < n; i++) split = g.split(1 << 20, false);
      return split;
    };
    const look = (l: typeof load) => {
      load = l;
      clock.t += 200;
      return calls(256);
    };
    expect(look({ others: 0.2, cores: 2 })).toBe(true); // 1.8 spare cores for 2 threads: split
    expect(look({ others: 1, cores: 2 })).toBe(false); // one core busy elsewhere: hold
    expect(g.stats).toMatchObject({ held: true, holds: 1, mode: 'serial' });
    expect(modes).toEqual([false]);
    load = { others: 0, cores: 2 };
    expect(calls(256)).toBe(false); // not 200 ms since the last look: still held
    expect(look({ others: 0.4, cores: 2 })).toBe(false); // 1.6 spare: below 2 − 0.25, still held
    expect(look(null)).toBe(false); // unknown: no change
    expect(look({ others: 0.1, cores: 2 })).toBe(true); // 1.9 spare: split again
    expect(g.stats).toMatchObject({ held: false, holds: 1, mode: 'parallel' });
    expect(modes).toEqual([false, true]);
    expect(look({ others: 14, cores: 16 })).toBe(true); // 2 spare of 16 cores: enough for 2 threads
    // Not adaptive: never held.
    const fixed = governor({ adaptive: false, threads: 2, load: () => ({ others: 2, cores: 2 }) });
    for (let i = 0; i < 512; i++) {
      fixed.clock.t += 1;
      expect(fixed.g.split(1 << 20, false)).toBe(true);
    }
    expect(fixed.g.stats).toMatchObject({ held: false, holds: 0 });
  });

  it('a meter with no reading while held (the workers sleep) gets probes: after 1 s, then doubling up to 8 s while the machine stays busy', () => {
    let load: { others: number; cores: number } | null = null;
    const { g, clock } = governor({ threads: 2, load: () => load });
    const look = (l: typeof load, ms = 200) => {
      load = l;
      clock.t += ms;
      let split = false;
      for (let i = 0; i < 256; i++) split = g.split(1 << 20, false);
      return split;
    };
    const busy = { others: 1, cores: 2 };
    expect(look(busy)).toBe(false); // held
    expect(look(null, 800)).toBe(false); // 800 ms with no reading: still held
    expect(look(null)).toBe(true); // 1 s: the probe splits
    expect(g.stats).toMatchObject({ held: false, mode: 'parallel', holds: 1 });
    expect(look(null)).toBe(true); // no reading yet: the probe goes on
    expect(look(busy)).toBe(false); // still busy: held again, for 2 s now
    expect(look(null, 1800)).toBe(false);
    expect(look(null)).toBe(true); // 2 s
    expect(look(busy)).toBe(false); // 4 s now
    expect(look(null, 3800)).toBe(false);
    expect(look(null)).toBe(true);
    expect(look(busy)).toBe(false); // 8 s
    expect(look(null, 7800)).toBe(false);
    expect(look(null)).toBe(true);
    expect(look(busy)).toBe(false); // at most 8 s
    expect(look(null, 7800)).toBe(false);
    expect(look(null)).toBe(true);
    expect(look({ others: 0.1, cores: 2 })).toBe(true); // the machine is free: the next hold lasts 1 s again
    expect(look(busy)).toBe(false);
    expect(look(null, 800)).toBe(false);
    expect(look(null)).toBe(true);
    expect(g.stats.holds).toBe(6);
    // A meter that always reads (the machine's own) never gets a probe: held as long as it reads busy.
    const proc = governor({ threads: 2, load: () => busy });
    for (let i = 0; i < 100; i++) {
      proc.clock.t += 200;
      for (let j = 0; j < 256; j++) expect(proc.g.split(1 << 20, false)).toBe(i === 0 && j < 255);
    }
  });

  it('reprobe() ends a fallback at once', () => {
    const { g, windowOf } = governor();
    windowOf(20, 10);
    windowOf(20, 10);
    expect(g.split(1 << 20, false)).toBe(false);
    g.reprobe();
    expect(g.split(1 << 20, false)).toBe(true);
  });

  it('ignores calls in which the caller ran no chunk, and never falls back when not adaptive', () => {
    const { g } = governor();
    for (let i = 0; i < 20; i++) g.record(50, 0, 0);
    expect(g.stats).toMatchObject({ mode: 'parallel', fallbacks: 0 });
    const fixed = governor({ adaptive: false });
    fixed.windowOf(30, 10);
    fixed.windowOf(30, 10);
    expect(fixed.g.stats).toMatchObject({ mode: 'parallel', fallbacks: 0 });
  });
});

describe('Threads (the runtime side)', () => {
  it('keeps the workers awake only inside a stage and outside a fallback; stages nest', () => {
    const pool = { alive: true, size: 1, keepAwake: false } as unknown as WorkerPool;
    const { g, clock, windowOf } = governor();
    const th = new Threads(pool, g);
    expect(th.count).toBe(2);
    th.beginStage();
    expect(pool.keepAwake).toBe(true);
    th.beginStage();
    th.endStage();
    expect(pool.keepAwake).toBe(true);
    windowOf(20, 10);
    windowOf(20, 10); // fallback inside the stage: the workers may sleep
    expect(pool.keepAwake).toBe(false);
    expect(th.stats).toMatchObject({ mode: 'serial', inStage: true, threads: 2 });
    clock.t += 100;
    expect(g.split(1 << 20, false)).toBe(true); // probe: awake again
    expect(pool.keepAwake).toBe(true);
    th.endStage();
    expect(pool.keepAwake).toBe(false);
    th.endStage(); // an extra end is harmless
    expect(th.stats.inStage).toBe(false);
  });

  it('default threads: every core on servers, one fewer in a browser Worker from 3 cores up, at least 1', () => {
    expect(defaultThreads('node', 8)).toBe(8);
    expect(defaultThreads('deno', 2)).toBe(2);
    expect(defaultThreads('worker', 8)).toBe(7);
    expect(defaultThreads('worker', 3)).toBe(2);
    expect(defaultThreads('worker', 2)).toBe(2);
    expect(defaultThreads('worker', 1)).toBe(1);
    expect(defaultThreads('browser', 4)).toBe(3);
    expect(defaultThreads('node', 0)).toBe(1);
  });
});

describe('bits while the fallback toggles', () => {
  let one: Runtime, two: Runtime;
  beforeAll(async () => {
    [one, two] = await Promise.all([createRuntime({ threads: 1, build: 'simd' }), createRuntime({ threads: 2 })]);
  });
  afterAll(() => {
    one?.dispose();
    two?.dispose();
  });

  it('reports the calibration and the governor', () => {
    expect(two.info.adaptiveThreads).toBe(true);
    expect(two.info.calibration?.splitOverheadUs).toBeGreaterThan(0);
    expect(two.threads.stats.minMacs).toBeGreaterThanOrEqual(1 << 14);
    expect(two.threads.stats.minMacs).toBeLessThanOrEqual(1 << 20);
    expect(one.info.calibration).toBeUndefined();
    expect(one.threads.count).toBe(1);
  });

  it('a run of layer-sized kernel calls gives 1-thread bits with the fallback switched on and off mid-run', () => {
    const clock = { t: 0 };
    const g = new ThreadGovernor({ window: 1, backoffMs: 10, maxBackoffMs: 10, clock: () => clock.t });
    const pool = (two as unknown as { pool: WorkerPool }).pool;
    const scratch = [0, 1].map(() => two.arena.f32(MATMUL_SCRATCH_FLOATS));
    const K2 = new Kernels(two.kernels.raw, two.arena, pool, scratch, g);
    const th = new Threads(pool, g);
    const r = new Rand(21);
    const [B, I, H] = [64, 784, 256];
    const x0 = r.f32(B * I),
      w0 = r.f32(I * H),
      dy0 = r.f32(B * H);
    const run = (rt: Runtime, K: Kernels, toggle: (step: number) => void) => {
      const A = rt.arena;
      const mark = A.mark();
      try {
        const x = A.f32From(x0),
          w = A.f32From(w0),
          dy = A.f32From(dy0),
          h = A.f32(B * H),
          a = A.f32(B * H),
          dw = A.f32(I * H),
          vel = A.f32(I * H);
        K.fill(vel, 0);
        for (let step = 0; step < 6; step++) {
          toggle(step);
          K.matmul(h, x, w, { m: B, n: H, k: I }); // columns split
          K.relu(a, h);
          K.fill(dw, 0);
          toggle(step + 0.5);
          K.matmul(dw, x, dy, { m: I, n: H, k: B, layout: 'tn', accumulate: true }); // rows split
          K.axpy(dy, a, 0.001);
          K.sgdStep(w, dw, vel, { lr: 0.01, momentum: 0.9 });
        }
        return A.read(w);
      } finally {
        A.release(mark);
      }
    };
    const want = run(one, one.kernels, () => {});
    let fellBack = 0,
      probed = 0;
    const fallbacks = () => g.stats.fallbacks;
    th.beginStage();
    const got = run(two, K2, (step) => {
      // Every other half step: a window that did not pay (fallback for 10 ms), or the clock moved past it (probe).
      // (record and reprobe act on the size class of the last split-sized call, here the matmuls and sgdStep).
      if (step % 2 === 0.5) {
        const before = fallbacks();
        g.record(20, 10, 1);
        g.record(20, 10, 1);
        if (fallbacks() > before) fellBack++;
      } else if (step % 2 === 1) {
        clock.t += 10;
        if (g.stats.mode === 'serial' || g.stats.classesSerial > 0) probed++; // a fallback to end: the next calls probe
        g.reprobe();
      }
    });
    th.endStage();
    expectBitwise('6 steps, fallback toggled mid-step', want, got);
    expect(fellBack).toBeGreaterThan(0);
    expect(probed).toBeGreaterThan(0);
    expect(g.stats.serialCalls).toBeGreaterThan(0);
    expect(g.stats.splitCalls).toBeGreaterThan(0);
  });
});

describe('the preemption meter (hosts without Host.loadMeter)', () => {
  it('reports others = 2 × (time descheduled / time running − 0.5), whatever the thread count, once the workers spun minMs; a reading soon after another, the smaller of the two', () => {
    const c = { runUs: 0, lostUs: 0 };
    const clock = { t: 0 };
    const meter = preemptionMeter(() => ({ ...c }), 2, 50, () => clock.t);
    /** The workers spin runMs and lose lostMs, and the governor looks afterMs after its previous look. */
    const spin = (runMs: number, lostMs: number, afterMs = 200) => {
      c.runUs = (c.runUs + runMs * 1000) >>> 0;
      c.lostUs = (c.lostUs + lostMs * 1000) >>> 0;
      clock.t += afterMs;
      return meter();
    };
    expect(spin(20, 10)).toBeNull(); // 30 ms seen: too little, kept for the next reading
    expect(spin(20, 10)).toEqual({ others: 0, cores: 2 }); // 20/40 = 0.5: within the noise allowance
    // Each reading within 280 ms of the one before reports the smaller of the two: a busy one after a free one reports the free one.
    expect(spin(40, 30)).toEqual({ others: 0, cores: 2 }); // 2·(30/40 − 0.5) = 0.5, after 0
    expect(spin(80, 120)).toEqual({ others: 0.5, cores: 2 }); // descheduled 60% of the time: 2·(1.5 − 0.5) = 2, after 0.5
    expect(spin(80, 120)).toEqual({ others: 2, cores: 2 }); // busy twice in a row
    expect(spin(100, 0)).toEqual({ others: 0, cores: 2 }); // free again: at once
    expect(spin(30, 60)).toEqual({ others: 0, cores: 2 }); // a spike between free readings is never reported
    expect(spin(100, 0)).toEqual({ others: 0, cores: 2 });
    // A reading long after the one before (the workers slept: a hold, a fallback) counts alone, as a runtime's first does.
    expect(spin(40, 60, 300)).toEqual({ others: 2, cores: 2 }); // 2·(60/40 − 0.5), 300 ms after a free reading
    expect(spin(100, 0)).toEqual({ others: 0, cores: 2 });
    // The counters wrap at 2^32 µs (about 71 minutes of spinning).
    c.runUs = 2 ** 32 - 10_000;
    c.lostUs = 2 ** 32 - 1_000;
    const wrapped = preemptionMeter(() => ({ ...c }), 4, 50, () => clock.t);
    const on4 = (runMs: number, lostMs: number) => {
      c.runUs = (c.runUs + runMs * 1000) >>> 0;
      c.lostUs = (c.lostUs + lostMs * 1000) >>> 0;
      clock.t += 200;
      return wrapped();
    };
    expect(on4(40, 30)).toEqual({ others: 0.5, cores: 4 }); // 2·(0.75 − 0.5): the same hold threshold on 4 threads; a first reading counts alone
    expect(on4(40, 40)).toEqual({ others: 0.5, cores: 4 }); // 2·(1 − 0.5) = 1, after 0.5
    expect(on4(40, 50)).toEqual({ others: 1, cores: 4 }); // 2·(1.25 − 0.5) = 1.5, after 1
  });

  it('real workers forced to share a core are seen descheduled; the runtime says which meter it uses', async () => {
    const adaptive = await createRuntime({ threads: 2 });
    const timed = (adaptive as unknown as { pool: WorkerPool }).pool.timed;
    expect(timed).toBe(true); // Node's performance.now() has µs steps
    expect(adaptive.info.loadMeter).toBe(existsSync('/proc/stat') ? 'machine' : 'workers');
    adaptive.dispose();
    // Not adaptive: every call above the thresholds splits, whatever the load.
    const rt = await createRuntime({ threads: 2, adaptiveThreads: false });
    expect(rt.info.loadMeter).toBeNull();
    // Twice as many spinning processes as cores: every thread of this process loses its core about two thirds of the time.
    const { availableParallelism } = await import('node:os');
    const spinners: ReturnType<typeof spawn>[] = [];
    try {
      for (let i = 0; i < Math.min(64, 2 * availableParallelism()); i++) spinners.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
      const pool = (rt as unknown as { pool: WorkerPool }).pool;
      const x = rt.arena.f32(1 << 18);
      const before = pool.spinTimes();
      rt.threads.beginStage();
      const t = performance.now();
      // Split calls with serial work between them, so the worker spins between jobs.
      while (performance.now() - t < 1500) {
        rt.kernels.fill(x, 1);
        const e = performance.now() + 0.3;
        while (performance.now() < e) {}
      }
      rt.threads.endStage();
      const after = pool.spinTimes();
      const run = (after.runUs - before.runUs) >>> 0,
        lost = (after.lostUs - before.lostUs) >>> 0;
      expect(run + lost).toBeGreaterThan(50_000); // the worker spun
      expect(lost / run).toBeGreaterThan(0.75); // enough to hold; idle: about 0.02-0.25
    } finally {
      for (const sp of spinners) sp.kill('SIGKILL');
      rt.dispose();
    }
  });
});

describe("Node's load meter (Host.loadMeter)", () => {
  it.runIf(existsSync('/proc/stat'))("counts a busy process as other load, not this process's own threads", async () => {
    const meter = otherLoadMeter();
    expect(meter()).toBeNull(); // the first call only starts the count
    const spinner = spawn(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 3000) {}'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      meter();
      // This process busy too (its own time is subtracted): the spinner alone is about one core.
      const t = performance.now();
      while (performance.now() - t < 400) {}
      const l = meter();
      expect(l).not.toBeNull();
      expect(l!.cores).toBeGreaterThanOrEqual(1);
      expect(l!.others).toBeGreaterThan(0.3); // half a core even if it shares one core with this process
      // On 2 cores (this machine kind; test files run one at a time): the spinner's core, not this
      // process's too (about 2 if the own time were not subtracted).
      if (l!.cores === 2) expect(l!.others).toBeLessThan(1.6);
    } finally {
      spinner.kill();
    }
  });
});
