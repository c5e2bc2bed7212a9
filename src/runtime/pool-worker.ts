/**
 * The worker pool's shared control buffer (its layout: one word per 128-byte line) and the script each
 * worker runs (src/runtime/pool.ts has the protocol, and the caller's side of it).
 */
/** Int32 words per control line (128 bytes: a cache line and its adjacent-line prefetch partner). */
export const LINE = 32;
export const GEN = 0 * LINE;
export const CLAIM = 1 * LINE;
export const DONE = 2 * LINE;
export const CALLER_ASLEEP = 3 * LINE;
export const SLEEPERS = 4 * LINE;
export const STAGE = 5 * LINE;
/** Job header, written by the caller before publishing: kernel, argument count, scratch index, error, stop (the chunk count is CLAIM's back end). */
const HEAD = 6 * LINE;
export const H_FN = HEAD,
  H_NARGS = HEAD + 1,
  H_SCRATCH_AT = HEAD + 2,
  H_ERROR = HEAD + 3,
  H_STOP = HEAD + 4;
/**
 * From here, a line per worker, apart from the hot words above and from each other: the first two
 * words are the microseconds it spent spinning for a job while running, and while descheduled
 * (mod 2^32).
 */
export const SCHED = 7 * LINE;

/** Arguments of one chunk (a kernel has at most this many). */
export const CHUNK_ARGS = 16;
/** Chunks of one job at most. */
export const MAX_CHUNKS = 64;
/**
 * The CLAIM word: (job number mod 2^18) << 14 | front << 7 | back. Chunks [front, back) are
 * unclaimed: the caller claims from the front, workers from the back, so each thread keeps to its
 * end of every range (the caller the low rows or elements, the workers the high ones) and meets the
 * same data in cache from one kernel to the next. front = back = 0 while a job is being written.
 * Measured against one shared counter (chunks in claim order) on a 2-core AMD EPYC VM, 2 threads,
 * three alternating process pairs: the image MLP trainer step 0.585-0.589 ms against 0.613-0.617.
 */
export const TAG_MASK = 0x3ffff;
export const TAG_SHIFT = 14;
export const FRONT = 1 << 7;
export const END_MASK = 127;

/** How long an idle worker spins before it sleeps outside a stage (µs), and in one (ms after its last job). */
export const WORKER_SPIN_US = 300;
export const STAGE_SPIN_MS = 50;
/** How long the caller spins for workers before it sleeps (µs). */
export const CALLER_SPIN_US = 2000;
/**
 * A pause longer than this (ms) between two looks at the clock of a spinning worker (about 1,024
 * loads apart, a few µs) means the worker was descheduled: another thread had its core. The
 * scheduler's time slices are longer (Linux: 0.75 ms and up).
 */
const DESCHEDULED_MS = 0.5;

/**
 * The worker's script: small functions (V8 optimises a function that never returns, udiWorker, only
 * by on-stack replacement; the spin and the claims are separate functions it calls), and udiCall
 * passes a chunk's arguments positionally from a Float64Array, as invoke does on the caller's side
 * (Function.prototype.apply on an array boxed every argument). A fresh 2-thread runtime takes
 * several hundred steps to reach its speed (a 1-thread one about 100; what that is and is not:
 * README, Performance, issue 13's targets). Measured on the image MLP trainer step, 4 alternating process pairs on a 2-core AMD EPYC VM: the
 * first 500 steps took 0.76-0.88 ms each against 0.87-0.95 with one loop calling `apply`, the later
 * ones the same (0.53-0.61 ms).
 */
export const WORKER_BODY = `
function udiCall(fn, a, n) {
  switch (n) {
${Array.from({ length: CHUNK_ARGS + 1 }, (_, n) => `    case ${n}: fn(${Array.from({ length: n }, (_, i) => `a[${i}]`).join(', ')}); return;`).join('\n')}
  }
}
/**
 * Wait for a job number other than seen: spin (the next call usually comes within microseconds; in a
 * stage, within a step), then sleep. Each interval between two looks at the clock while spinning
 * is added to sched[0] (ms running), or to sched[1] when longer than DESCHEDULED_MS (descheduled):
 * the preemption meter (src/runtime/governor.ts). sched is null when the clock is too coarse.
 */
function udiNextJob(ctl, seen, last, sched) {
  let g = Atomics.load(ctl, ${GEN});
  let t = last;
  for (let i = 1; g === seen; i++) {
    g = Atomics.load(ctl, ${GEN});
    if ((i & 1023) === 0) {
      const now = performance.now();
      if (sched !== null) sched[now - t > ${DESCHEDULED_MS} ? 1 : 0] += now - t;
      t = now;
      if (now - last > (Atomics.load(ctl, ${STAGE}) !== 0 ? ${STAGE_SPIN_MS} : ${WORKER_SPIN_US / 1000})) {
        // Count this worker asleep before re-checking, so the caller either sees it and notifies,
        // or its new job number is seen here (sequentially consistent atomics).
        Atomics.add(ctl, ${SLEEPERS}, 1);
        g = Atomics.load(ctl, ${GEN});
        while (g === seen) { Atomics.wait(ctl, ${GEN}, seen); g = Atomics.load(ctl, ${GEN}); }
        Atomics.sub(ctl, ${SLEEPERS}, 1);
        t = performance.now(); // time asleep is not spinning
      }
    }
  }
  if (sched !== null) {
    const now = performance.now();
    sched[now - t > ${DESCHEDULED_MS} ? 1 : 0] += now - t;
  }
  return g;
}
/** The smallest step of performance.now() seen over a few of its steps (browsers may coarsen it), ms. */
function udiClockStep() {
  let step = Infinity, t = performance.now();
  for (let seen = 0, i = 0; seen < 5 && i < 1e7; i++) {
    const u = performance.now();
    if (u !== t) { step = Math.min(step, u - t); t = u; seen++; }
  }
  return step;
}
/** Claim chunks of job g from the back and run them until none is left. */
function udiRunJob(ctl, args, local, fns, w, g) {
  const tag = g & ${TAG_MASK};
  for (;;) {
    const v = Atomics.load(ctl, ${CLAIM});
    if ((v >>> ${TAG_SHIFT}) !== tag) return;
    const front = (v >>> 7) & ${END_MASK}, back = v & ${END_MASK};
    if (front >= back) return;
    const c = back - 1;
    // Read the chunk before claiming it: a successful exchange proves nothing was rewritten since.
    const f = ctl[${H_FN}], nargs = ctl[${H_NARGS}], sa = ctl[${H_SCRATCH_AT}];
    for (let i = 0; i < nargs; i++) local[i] = args[c * ${CHUNK_ARGS} + i];
    if (sa >= 0) local[sa] = args[${MAX_CHUNKS * CHUNK_ARGS} + w + 1];
    if (Atomics.compareExchange(ctl, ${CLAIM}, v, v - 1) !== v) continue;
    try {
      udiCall(fns[f], local, nargs);
    } catch (e) {
      Atomics.store(ctl, ${H_ERROR}, w + 1);
    }
    Atomics.add(ctl, ${DONE}, 1);
    if (Atomics.load(ctl, ${CALLER_ASLEEP}) !== 0) Atomics.notify(ctl, ${DONE});
  }
}
function udiWorker(msg, post) {
  let fns, ctl, args, w;
  try {
    const instance = new WebAssembly.Instance(msg.module, { env: { memory: msg.memory } });
    fns = msg.names.map((n) => instance.exports[n]);
    ctl = new Int32Array(msg.ctl);
    args = new Float64Array(msg.args);
    w = msg.slot;
  } catch (e) {
    post({ ok: false, error: String(e && e.message || e) });
    return;
  }
  // Time spinning: only with a clock fine enough to tell a pause of DESCHEDULED_MS from its own steps.
  const sched = udiClockStep() < ${DESCHEDULED_MS / 5} ? new Float64Array(2) : null;
  post({ ok: true, timed: sched !== null });
  const local = new Float64Array(${CHUNK_ARGS});
  const at = ${SCHED} + ${LINE} * w;
  let seen = Atomics.load(ctl, ${GEN});
  let last = performance.now();
  for (;;) {
    seen = udiNextJob(ctl, seen, last, sched);
    if (Atomics.load(ctl, ${H_STOP}) !== 0) return;
    udiRunJob(ctl, args, local, fns, w, seen);
    if (sched !== null) {
      // After the job, not before it; plain stores (no fence): the caller reads these words now and then, and an aligned word is never torn.
      ctl[at] = (sched[0] * 1000) | 0;
      ctl[at + 1] = (sched[1] * 1000) | 0;
    }
    last = performance.now();
  }
}
`;
