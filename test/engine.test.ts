// Trainer mechanics: schedules, early stopping with restore-best, cancellation, seeded generators,
// fusion, every baseline's report, and the errors a user meets first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, defaultConfig, makeDataset, METHODS, predict, Rng, type Runtime, train } from '../src/index.js';
import { learningRate } from '../src/train/trainer.js';
import { fitFusionWeights, fuseEntropy, fuseMean } from '../src/train/fusion.js';
import { dcosHalfTurn, dexp, dlog, dtanh } from '../src/util/detmath.js';
import { Rand } from './helpers.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime({ threads: 1 });
});
afterAll(() => rt.dispose());

/** Two synthetic modalities: `a` carries the label strongly, `b` weakly. */
function synthetic(n = 300, seed = 1) {
  const rng = new Rng(seed);
  const u = () => rng.next() / 2 ** 32 - 0.5;
  const labels = Int32Array.from({ length: n }, () => rng.below(4));
  const a = Float32Array.from({ length: n * 8 }, (_, i) => (i % 8 === labels[Math.floor(i / 8)] ? 1.5 : 0) + u());
  const b = Float32Array.from({ length: n * 5 }, (_, i) => (i % 5 === labels[Math.floor(i / 5)] ? 0.6 : 0) + 2 * u());
  return makeDataset({ a: { data: a, dim: 8 }, b: { data: b, dim: 5 } }, labels, 4);
}

const cfg = (epochs = 6) => {
  const c = defaultConfig({ a: { type: 'mlp', hidden: [16] }, b: { type: 'mlp', hidden: [16] } }, 2);
  for (const s of [c.solo, c.guided, c.joint, c.fusionHead]) {
    s.epochs = epochs;
    s.optimizer = { type: 'adamw', lr: 1e-2 };
  }
  return c;
};

describe('deterministic maths and generators', () => {
  it('detmath agrees with Math to within a few ulps', () => {
    for (let x = -30; x <= 30; x += 0.37) {
      expect(Math.abs(dexp(x) - Math.exp(x)) / Math.exp(x)).toBeLessThan(1e-14);
      expect(Math.abs(dtanh(x) - Math.tanh(x))).toBeLessThan(1e-15);
    }
    for (let x = 1e-30; x < 1e30; x *= 7.3) expect(Math.abs(dlog(x) - Math.log(x))).toBeLessThan(1e-13 * Math.max(1, Math.abs(Math.log(x))));
    for (let x = 0; x <= Math.PI; x += 0.01) expect(Math.abs(dcosHalfTurn(x) - Math.cos(x))).toBeLessThan(1e-15);
  });

  it('dexp and dlog give the bits of their plain form (coefficient loops, powers of two by squaring)', () => {
    // The algorithms as first written, before their Horner steps were unrolled and 2^n tabled.
    const pow2 = (n: number) => {
      let r = 1;
      let b = n >= 0 ? 2 : 0.5;
      for (let e = Math.abs(n); e > 0; e >>= 1, b *= b) if (e & 1) r *= b;
      return r;
    };
    const plainExp = (x: number) => {
      if (Number.isNaN(x)) return x;
      if (x > 709) return Infinity;
      if (x < -745) return 0;
      const n = Math.round(x * 1.4426950408889634);
      const r = x - n * 6.9314718036912382e-1 - n * 1.9082149292705877e-10;
      let p = 1 / 479001600;
      for (const c of [1 / 39916800, 1 / 3628800, 1 / 362880, 1 / 40320, 1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5, 1, 1]) p = p * r + c;
      return n < -1000 ? p * pow2(n + 1000) * pow2(-1000) : p * pow2(n);
    };
    const plainLog = (x: number) => {
      if (!(x > 0)) return x === 0 ? -Infinity : NaN;
      if (x === Infinity) return x;
      let e = 0,
        m = x;
      for (; m >= 2; e++) m *= 0.5;
      for (; m < 1; e--) m *= 2;
      if (m > Math.SQRT2) (m *= 0.5), e++;
      const s = (m - 1) / (m + 1),
        s2 = s * s;
      let p = 1 / 19;
      for (const c of [1 / 17, 1 / 15, 1 / 13, 1 / 11, 1 / 9, 1 / 7, 1 / 5, 1 / 3, 1]) p = p * s2 + c;
      return e * 0.6931471805599453 + 2 * s * p;
    };
    const r = new Rand(5);
    const xs = [0, -0, 1, -1, 709, 709.1, -745, -745.1, -744.9, -708.4, -720, 1e-310, 5e-324, Infinity, -Infinity, NaN];
    for (let i = 0; i < 20000; i++) xs.push((r.next() - 0.7) * (i % 5 === 0 ? 1600 : 60));
    for (const x of xs) expect(Object.is(dexp(x), plainExp(x)), `dexp(${x})`).toBe(true);
    for (const x of xs.map(Math.abs).concat([1e-320, 2, Math.SQRT2, 1e300])) expect(Object.is(dlog(x), plainLog(x)), `dlog(${x})`).toBe(true);
  });

  it('the TypeScript Rng and the WebAssembly generator give the same sequence for a (seed, stream)', () => {
    for (const [seed, stream] of [[0, 0], [42, 7], [-5, 123456]]) {
      const ts = new Rng(seed, stream);
      const st = rt.kernels.rng(seed, stream);
      for (let i = 0; i < 50; i++) expect(rt.kernels.rngNext(st)).toBe(ts.next());
      const perm = rt.arena.i32(97);
      const ts2 = new Rng(seed, stream + 1);
      rt.kernels.permutation(perm, rt.kernels.rng(seed, stream + 1));
      expect(Array.from(rt.arena.viewI32(perm))).toEqual(Array.from(ts2.permutation(97)));
    }
  });

  it('learning-rate schedules', () => {
    expect(learningRate(0.1, { type: 'constant' }, 3, 30, 100)).toBe(0.1);
    expect(learningRate(0.1, { type: 'step', everyEpochs: 2, gamma: 0.5 }, 5, 0, 100)).toBeCloseTo(0.025, 15);
    expect(learningRate(0.1, { type: 'cosine' }, 0, 0, 100)).toBe(0.1);
    expect(learningRate(0.1, { type: 'cosine' }, 0, 50, 100)).toBeCloseTo(0.05, 15);
    expect(learningRate(0.1, { type: 'cosine' }, 0, 100, 100)).toBeCloseTo(0, 15);
  });
});

describe('trainer', () => {
  it('early stopping restores the weights of the best validation epoch', async () => {
    const ds = synthetic();
    const logs: { stage: string; monitor: number }[] = [];
    const c = cfg(12);
    c.solo.earlyStopping = { patience: 2, minDelta: 0 };
    const { result } = await train(rt, 'unimodal', { train: ds }, c, { callbacks: { onEpochEnd: (_, log) => logs.push({ stage: log.stage, monitor: log.monitor }) } });
    for (const m of ['a', 'b']) {
      const stage = result.cost.stages.find((s) => s.name === `solo:${m}`)!;
      const mine = logs.filter((l) => l.stage === `solo:${m}`).map((l) => l.monitor);
      expect(mine.length).toBe(stage.epochs);
      // Evaluated on validation (no test split given), the restored model scores the best epoch's accuracy.
      expect(result.inModelAcc[m]).toBe(Math.max(...mine));
    }
  });

  it("a stage evaluates the modalities it does not train once; their figures equal the stage that trained them", async () => {
    const ds = synthetic();
    const c = cfg(5);
    for (const s of [c.solo, c.guided]) s.earlyStopping = { patience: 100, minDelta: 0 }; // never stops; restores the best epoch
    const { result } = await train(rt, 'udi', { train: ds }, c);
    const logs = (stage: string) => result.history.filter((l) => l.stage === stage);
    // The epoch early stopping restores: the first one with the highest monitor.
    const best = (stage: string) => logs(stage).reduce((a, b) => (b.monitor > a.monitor ? b : a));
    expect(result.anchor?.name).toBe('a');
    for (const stage of ['solo:b', 'guided:b']) {
      expect(logs(stage).length).toBe(5);
      for (const l of logs(stage)) {
        expect([l.val_acc_a, l.val_f1_a], `${stage} epoch ${l.epoch}: a as solo:a left it`).toEqual([best('solo:a').val_acc_a, best('solo:a').val_f1_a]);
      }
    }
  });

  it('cancels with an AbortSignal, and the runtime stays usable', async () => {
    const ds = synthetic();
    const ac = new AbortController();
    let batches = 0;
    const p = train(rt, 'udi', { train: ds }, cfg(50), { signal: ac.signal, callbacks: { onBatchEnd: () => ++batches === 5 && ac.abort() } });
    await expect(p).rejects.toThrow(/abort/i);
    expect(batches).toBe(5);
    const { result } = await train(rt, 'ensemble', { train: ds }, cfg(2));
    expect(result.fused.acc).toBeGreaterThan(0.25);
  });

  it('stops a diverging stage, restores the last good weights and says which step and what to try', async () => {
    const ds = synthetic();
    const c = cfg(3);
    c.solo.optimizer = { type: 'sgd', lr: 1e30, momentum: 0 };
    c.solo.clipNorm = 0;
    let net: import('../src/train/net.js').MultimodalNet | null = null;
    let atStart: Float32Array | null = null;
    const p = train(rt, 'unimodal', { train: ds }, c, {
      callbacks: { onTrainBegin: (n) => (net = n), onStageBegin: () => (atStart = rt.arena.read(net!.store.params)) },
    });
    await expect(p).rejects.toMatchObject({ code: 'DIVERGED', message: expect.stringMatching(/at step \d+ .*restored.*lower learning rate/) });
    const after = rt.arena.read(net!.store.params);
    expect(after.every(Number.isFinite)).toBe(true);
    expect(Buffer.from(after.buffer).equals(Buffer.from(atStart!.buffer))).toBe(true);
  });

  it('rejects a class with no training or validation example', async () => {
    const ds = synthetic();
    const labels = Int32Array.from(ds.labels, (y) => (y === 3 ? 2 : y));
    const missing = makeDataset(ds.modalities as never, labels, 4);
    await expect(train(rt, 'ensemble', { train: missing }, cfg(1))).rejects.toMatchObject({ code: 'CLASS_ABSENT', message: expect.stringMatching(/class 3 has no example in the training split/) });
  });

  it('rejects one modality for a multimodal method, and unknown modalities, by name', async () => {
    const ds = synthetic();
    await expect(train(rt, 'udi', { train: ds }, defaultConfig({ a: { type: 'mlp', hidden: [4] } }))).rejects.toThrow(/at least two modalities/);
    await expect(train(rt, 'joint', { train: ds }, defaultConfig({ a: { type: 'mlp', hidden: [4] }, zz: { type: 'mlp', hidden: [4] } }))).rejects.toThrow(/"zz"/);
    await expect(train(rt, 'nope' as never, { train: ds }, cfg())).rejects.toThrow(/unknown method/);
  });
});

describe('every method reports fused and per-modality accuracy on the same engine', () => {
  it.each(METHODS)('%s', async (method) => {
    const ds = synthetic(400, 3);
    const test = synthetic(200, 4);
    const { result, model } = await train(rt, method, { train: ds, test }, cfg(8));
    expect(result.evaluatedOn).toBe('test');
    expect(result.fused.acc).toBeGreaterThan(0.5);
    expect(Object.keys(result.inModelAcc).sort()).toEqual(method === 'unimodal' ? ['a', 'b'] : ['a', 'b']);
    for (const m of ['a', 'b']) expect(result.cost.updates[m]).toBeGreaterThan(0);
    if (method === 'udi') {
      expect(result.anchor?.name).toBe('a');
      expect(result.lambdaTrace.length).toBeGreaterThan(0);
    }
    const probs = predict(model, test);
    expect(probs.length).toBe(test.size * 4);
  });
});

describe('fusion', () => {
  const probs = {
    a: Float32Array.from([0.9, 0.1, 0.2, 0.8, 0.6, 0.4]),
    b: Float32Array.from([0.3, 0.7, 0.5, 0.5, 0.1, 0.9]),
  };
  it('mean and weighted mean', () => {
    const expected = probs.a.map((x, i) => (x + probs.b[i]) / 2);
    expect(Array.from(fuseMean(probs, 3, 2))).toEqual(Array.from(expected));
    expect(Array.from(fuseMean(probs, 3, 2, { a: 1, b: 0 }))).toEqual(Array.from(probs.a));
  });
  it('entropy weighting favours the confident modality', () => {
    const f = fuseEntropy({ a: Float32Array.from([0.99, 0.01]), b: Float32Array.from([0.4, 0.6]) }, 1, 2);
    expect(f[0]).toBeGreaterThan(0.7);
  });
  it('validation-fitted weights reach the best achievable accuracy on that split', () => {
    const labels = Int32Array.from([0, 1, 0]);
    const w = fitFusionWeights(probs, labels, 2);
    const fused = fuseMean(probs, 3, 2, w);
    const acc = [0, 1, 2].filter((i) => (fused[2 * i + 1] > fused[2 * i] ? 1 : 0) === labels[i]).length / 3;
    expect(acc).toBe(1);
  });
});
