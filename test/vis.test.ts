// udi-wasm/vis without a browser: what the live chart plots (gathered from a real tiny training run),
// the worker relay (structured-cloned messages replay to the same data), progress and ETA.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, defaultConfig, makeDataset, Rng, type Runtime, train } from '../src/index.js';
import { CALLBACK_NAMES, type CallbackMessage, type CallbackName, describeProgress, estimate, formatDuration, relayCallbacks, replayCallback, trainingSeries } from '../src/vis/index.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime({ threads: 1 });
});
afterAll(() => rt.dispose());

function tiny() {
  const rng = new Rng(3);
  const n = 60;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  const view = (dim: number, noise: number) => Float32Array.from({ length: n * dim }, (_, j) => (j % dim === labels[Math.floor(j / dim)] ? 1 : 0) + noise * (rng.next() / 2 ** 32 - 0.5));
  const data = makeDataset({ a: { data: view(4, 0.5), dim: 4 }, b: { data: view(3, 2), dim: 3 } }, labels, 3);
  const cfg = defaultConfig({ a: { type: 'mlp', hidden: [8] }, b: { type: 'mlp', hidden: [8] } }, 0);
  for (const s of [cfg.solo, cfg.guided]) Object.assign(s, { epochs: 2, batchSize: 16, earlyStopping: false });
  return { data, cfg };
}

describe('trainingSeries: what a live chart plots', () => {
  it('gathers per-step losses, per-epoch validation figures, stage starts and totals from a real run', async () => {
    const { data, cfg } = tiny();
    let clock = 0;
    const s = trainingSeries({ metrics: ['loss', 'val_acc_*'], now: () => (clock += 10) });
    let calls = 0;
    s.onChange = () => calls++;
    const { result } = await train(rt, 'udi', { train: data }, cfg, { callbacks: s });
    const stages = result.cost.stages;
    const steps = stages.reduce((a, x) => a + x.steps, 0);
    expect(s.plan!.stages.length).toBe(3);
    expect(s.steps.x).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    expect([...s.steps.series.keys()]).toEqual(['loss']); // only what `metrics` asks for
    expect(s.steps.series.get('loss')!.every((v) => typeof v === 'number')).toBe(true);
    expect(s.epochs.x).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...s.epochs.series.keys()].sort()).toEqual(['val_acc_a', 'val_acc_b', 'val_acc_fused']);
    expect(s.steps.stages.map((m) => m.name)).toEqual(stages.map((x) => x.name));
    expect(s.epochs.stages.map((m) => m.x)).toEqual([0.5, 2.5, 4.5]);
    expect(s.ended).toBe(true);
    expect(s.estimate().fraction).toBe(1);
    expect(s.status()).toMatch(new RegExp(`^done: stage 3/3 guided:[ab] · epoch 2/2 · step ${steps}/${steps} · 100% · `));
    expect(calls).toBeGreaterThan(steps);
  });

  it('keeps a loss part that appears in a later stage aligned (null before it)', () => {
    const s = trainingSeries({ metrics: ['*'] });
    const p = { stage: 'x', stageIndex: 0, stageCount: 2, epoch: 0, epochs: 1, stepsPerEpoch: 2, step: 1, maxSteps: 2, runStep: 1, runMaxSteps: 4 };
    s.onBatchEnd(1, { loss: 1 }, 'x', p);
    s.onBatchEnd(2, { loss: 0.5 }, 'x', { ...p, step: 2, runStep: 2 });
    s.onBatchEnd(1, { loss: 2, js: 0.1 }, 'y', { ...p, stage: 'y', stageIndex: 1, step: 1, runStep: 3 });
    expect(s.steps.series.get('loss')).toEqual([1, 0.5, 2]);
    expect(s.steps.series.get('js')).toEqual([null, null, 0.1]);
  });
});

describe('relayCallbacks / replayCallback: callbacks across a Worker', () => {
  it('replays structured-cloned messages into the same data as direct callbacks', async () => {
    const { data, cfg } = tiny();
    const direct = trainingSeries({ metrics: ['*'], now: () => 0 });
    const messages: CallbackMessage[] = [];
    const relay = relayCallbacks((m) => messages.push(structuredClone(m)));
    // Both on one run: the relay's callbacks and the direct series see the same calls.
    const both = (k: CallbackName) => (...a: unknown[]) => {
      (relay[k] as (...x: unknown[]) => void)(...a);
      (direct[k] as (...x: unknown[]) => void)(...a);
    };
    await train(rt, 'udi', { train: data }, cfg, { callbacks: Object.fromEntries(CALLBACK_NAMES.map((k) => [k, both(k)])) });
    const replayed = trainingSeries({ metrics: ['*'], now: () => 0 });
    for (const m of messages) expect(replayCallback(m, replayed)).toBe(true);
    expect(messages[0].udiCallback).toBe('onTrainBegin');
    expect(messages[0].args[0]).toBeUndefined(); // the network stays in the worker
    expect(replayed.plan).toEqual(direct.plan);
    expect(replayed.steps).toEqual(direct.steps);
    expect(replayed.epochs).toEqual(direct.epochs);
    expect(replayed.status()).toBe(direct.status());
    expect(replayCallback({ type: 'mine' }, replayed)).toBe(false);
  });
});

describe('progress and ETA', () => {
  const p = { stage: 'solo:a', stageIndex: 0, stageCount: 3, epoch: 3, epochs: 30, stepsPerEpoch: 10, step: 40, maxSteps: 300, runStep: 40, runMaxSteps: 900 };
  it('estimates the time left from the speed so far (an upper bound)', () => {
    expect(estimate(p, 4000)).toEqual({ fraction: 40 / 900, etaMs: 86_000 });
    expect(estimate({ runStep: 0, runMaxSteps: 10 }, 0).etaMs).toBeNaN();
  });
  it('formats one status line', () => {
    expect(describeProgress(p, 4000)).toBe('stage 1/3 solo:a · epoch 4/30 · step 40/900 · 4% · ETA ≤ 1 min 26 s');
    expect(describeProgress({ ...p, epoch: 7 }, 4000, true)).toMatch(/epoch 7\/30/);
    expect([formatDuration(NaN), formatDuration(42_400), formatDuration(185_000), formatDuration(3_725_000)]).toEqual(['?', '42 s', '3 min 05 s', '1 h 02 min']);
  });
});
