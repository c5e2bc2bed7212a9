// Callbacks carry totals: the plan (every stage and its budget) before the first step, and with every
// callback the stage's index and count, its epoch budget, steps per epoch and the run's step budget.
// Callbacks never change results: with and without them, the same bits.
// Training lets the event loop run (timers, abort signals) the cheapest way the host has.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pickYield } from '../src/runtime/env.js';
import { type Callbacks, createRuntime, defaultConfig, makeDataset, METHODS, type Method, planStages, Rng, type Runtime, stratifiedSplit, train, type TrainPlan, type TrainProgress } from '../src/index.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime({ threads: 1 });
});
afterAll(() => rt.dispose());

/** Three classes, two views: `a` informative, `b` noisy. 90 rows. */
function tinyData(seed = 1) {
  const rng = new Rng(seed);
  const u = () => rng.next() / 2 ** 32 - 0.5;
  const n = 90;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  const a = Float32Array.from({ length: n * 4 }, (_, i) => (Math.floor(i / 4) % 3 === i % 4 ? 1 : 0) + 0.3 * u());
  const b = Float32Array.from({ length: n * 3 }, (_, i) => (Math.floor(i / 3) % 3 === i % 3 ? 0.4 : 0) + u());
  return makeDataset({ a: { data: a, dim: 4 }, b: { data: b, dim: 3 } }, labels, 3);
}

function tinyConfig(epochs = 2) {
  const cfg = defaultConfig({ a: { type: 'mlp', hidden: [8] }, b: { type: 'mlp', hidden: [8] } }, 0);
  for (const s of [cfg.solo, cfg.guided, cfg.joint, cfg.fusionHead]) {
    s.epochs = epochs;
    s.batchSize = 16;
    s.earlyStopping = false;
  }
  return cfg;
}

/** Every callback with its arguments, in order. */
function recorder() {
  const events: { name: string; progress?: TrainProgress; plan?: TrainPlan; args: unknown[] }[] = [];
  const callbacks: Callbacks = {
    onTrainBegin: (_net, plan) => events.push({ name: 'trainBegin', plan, args: [] }),
    onTrainEnd: () => events.push({ name: 'trainEnd', args: [] }),
    onStageBegin: (stage, p) => events.push({ name: 'stageBegin', progress: p, args: [stage] }),
    onStageEnd: (stage, r, p) => events.push({ name: 'stageEnd', progress: p, args: [stage, r] }),
    onEpochBegin: (e, stage, p) => events.push({ name: 'epochBegin', progress: p, args: [e, stage] }),
    onEpochEnd: (e, log, p) => events.push({ name: 'epochEnd', progress: p, args: [e, log] }),
    onBatchEnd: (step, losses, stage, p) => events.push({ name: 'batchEnd', progress: p, args: [step, losses, stage] }),
  };
  return { events, callbacks };
}

describe('callbacks carry totals', () => {
  const ds = tinyData();
  const trainRows = stratifiedSplit(ds.labels, 0.1, 0).fit.length;

  it.each(METHODS.map((m) => [m]))('%s: the plan names every stage it runs, and each callback counts against it', async (method: Method) => {
    const cfg = tinyConfig();
    if (method === 'udi' || method === 'ensemble' || method === 'udi-paper') cfg.fusion = 'head'; // the plan must know the fusion-head stage (udi-paper fuses by the mean)
    const { events, callbacks } = recorder();
    const { result } = await train(rt, method, { train: ds }, cfg, { callbacks });
    const plan = events[0].plan!;
    expect(events[0].name).toBe('trainBegin');
    expect(events.at(-1)!.name).toBe('trainEnd');
    // The plan, computed before training, is what ran.
    expect(plan).toEqual(planStages(method, method === 'udi-paper' ? { ...cfg, fusion: 'mean' } : cfg, trainRows, ['a', 'b']));
    expect(plan.trainRows).toBe(trainRows);
    const ran = result.cost.stages;
    expect(plan.stages.length).toBe(ran.length);
    plan.stages.forEach((s, i) => {
      if (s.name !== null) expect(ran[i].name).toBe(s.name);
      else expect(ran[i].name).toMatch(new RegExp(`^${s.kind}:`));
      expect(ran[i].steps).toBe(s.maxSteps); // early stopping is off: every stage runs its budget
      expect(s.stepsPerEpoch).toBe(Math.ceil(trainRows / 16));
    });
    expect(plan.maxSteps).toBe(ran.reduce((a, s) => a + s.steps, 0));
    // Every stage's callbacks carry its index, the count, its budgets and the run's.
    let runStep = 0;
    ran.forEach((stage, i) => {
      const mine = events.filter((e) => e.progress?.stage === stage.name && e.progress.stageIndex === i);
      const planned = plan.stages[i];
      expect(mine[0].name).toBe('stageBegin');
      expect(mine.at(-1)!.name).toBe('stageEnd');
      for (const e of mine) {
        expect(e.progress).toMatchObject({ stageCount: plan.stages.length, epochs: planned.epochs, stepsPerEpoch: planned.stepsPerEpoch, maxSteps: planned.maxSteps });
        expect(e.progress!.runStep).toBe(runStep + e.progress!.step);
        expect(e.progress!.runMaxSteps).toBe(plan.maxSteps);
      }
      const batches = mine.filter((e) => e.name === 'batchEnd');
      expect(batches.map((e) => e.progress!.step)).toEqual(Array.from({ length: stage.steps }, (_, k) => k + 1));
      expect(batches.map((e) => e.args[0])).toEqual(batches.map((e) => e.progress!.step));
      expect(mine.filter((e) => e.name === 'epochEnd').map((e) => e.progress!.epoch)).toEqual(Array.from({ length: planned.epochs }, (_, k) => k));
      expect(mine.at(-1)!.progress!.epoch).toBe(planned.epochs);
      runStep += stage.steps;
    });
    expect(events.filter((e) => e.name === 'batchEnd').at(-1)!.progress!.runStep).toBe(plan.maxSteps);
  });

  it('with early stopping, the run budget shrinks to what ran once a stage stops early', async () => {
    const cfg = tinyConfig(25);
    cfg.solo.earlyStopping = { patience: 1, minDelta: 0.5 }; // no epoch can improve by 50 points: stops after 2 epochs
    const { events, callbacks } = recorder();
    const { result } = await train(rt, 'ensemble', { train: ds }, { ...cfg, fusion: 'mean' }, { callbacks });
    const plan = events[0].plan!;
    const ends = events.filter((e) => e.name === 'stageEnd');
    expect(result.cost.stages.map((s) => s.epochs)).toEqual([2, 2]);
    expect(ends[0].progress).toMatchObject({ epoch: 2, epochs: 25, step: result.cost.stages[0].steps, runMaxSteps: result.cost.stages[0].steps + plan.stages[1].maxSteps });
    expect(ends[1].progress!.runMaxSteps).toBe(ends[1].progress!.runStep);
  });

  it('guided stages are planned without a name and counted in order', () => {
    const cfg = tinyConfig();
    const p = planStages('udi', cfg, 81, ['x', 'y', 'z']);
    expect(p.stages.map((s) => s.name)).toEqual(['solo:x', 'solo:y', 'solo:z', null, null]);
    expect(p.stages.map((s) => s.kind)).toEqual(['solo', 'solo', 'solo', 'guided', 'guided']);
    expect(p.stages[0]).toMatchObject({ epochs: 2, batchSize: 16, stepsPerEpoch: 6, maxSteps: 12 });
  });

  it('callbacks change nothing: the same weights, bit for bit, with and without them', async () => {
    const weights = async (callbacks?: Callbacks) => {
      const { model } = await train(rt, 'udi', { train: ds }, tinyConfig(3), { callbacks });
      return rt.arena.read(model.net.store.params);
    };
    const plain = await weights();
    const watched = await weights(recorder().callbacks);
    expect(Buffer.from(watched.buffer).equals(Buffer.from(plain.buffer))).toBe(true);
  });
});

describe('a training stage lets the event loop run', () => {
  it('a timer due while train() runs fires during training and can abort it', async () => {
    const cfg = tinyConfig(5000); // far longer than the 50 ms between yields
    const ac = new AbortController();
    let steps = 0;
    let stepsAtAbort = -1;
    setTimeout(() => {
      stepsAtAbort = steps;
      ac.abort();
    }, 0);
    const run = train(rt, 'joint', { train: tinyData() }, cfg, { signal: ac.signal, callbacks: { onBatchEnd: () => void steps++ } });
    await expect(run).rejects.toThrow(/abort|cancel/i);
    expect(stepsAtAbort).toBeGreaterThan(0); // the timer fired between steps, not before the first
    expect(steps).toBeLessThan(5000 * 6);
  });

  it('yields the cheapest way the host has: setImmediate, scheduler.yield, a MessageChannel message, setTimeout', async () => {
    const noop = () => {};
    expect(pickYield({ setImmediate: noop, scheduler: { yield: noop }, MessageChannel }).kind).toBe('setImmediate');
    expect(pickYield({ scheduler: { yield: noop }, MessageChannel }).kind).toBe('scheduler.yield');
    expect(pickYield({ scheduler: {}, MessageChannel }).kind).toBe('MessageChannel');
    expect(pickYield({}).kind).toBe('setTimeout');
    expect(rt.info.eventLoopYield).toBe('setImmediate'); // Node
    // Each way resumes (a MessageChannel's also when several yields are pending).
    for (const gl of [globalThis, { MessageChannel }, {}]) await pickYield(gl as Record<string, unknown>).yield();
    const { yield: viaChannel } = pickYield({ MessageChannel });
    let resumed = 0;
    await Promise.all([0, 1, 2].map(() => viaChannel().then(() => resumed++)));
    expect(resumed).toBe(3);
  });
});
