// UDI's [ours] options beyond the paper: the guided stage's monitor, the do-no-harm gate, calibrated
// late fusion, and `udi-paper` (the paper's form) as a method of its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyStandardize, createRuntime, defaultConfig, deserializeModel, fitStandardize, loadMfeat, predict, type Runtime, serializeModel, stratifiedSplit, subset, train } from '../src/index.js';
import { fitTemperature, fuseCalibrated, temperatureScale } from '../src/train/fusion.js';
import { Rand } from './helpers.js';

const MFEAT = new URL('../../shared/data/mfeat', import.meta.url).pathname;

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime({ threads: 1 });
});
afterAll(() => rt.dispose());

/** Row-wise softmax in float64. */
function softmax(z: ArrayLike<number>, n: number, C: number, T = 1): Float64Array {
  const p = new Float64Array(n * C);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, z[i * C + c] / T);
    let s = 0;
    for (let c = 0; c < C; c++) s += p[i * C + c] = Math.exp(z[i * C + c] / T - m);
    for (let c = 0; c < C; c++) p[i * C + c] /= s;
  }
  return p;
}
const nll = (p: ArrayLike<number>, y: Int32Array, C: number) => -y.reduce((s, c, i) => s + Math.log(p[i * C + c]), 0) / y.length;

describe('temperature scaling (calibrated fusion)', () => {
  const r = new Rand(7);
  const n = 400,
    C = 5;
  const z = Float64Array.from({ length: n * C }, () => 4 * r.normal());
  const p = Float32Array.from(softmax(z, n, C));

  it('rescales probabilities as softmax(z / T) would', () => {
    for (const T of [0.5, 1, 3]) {
      const got = temperatureScale(p, n, C, T),
        want = softmax(z, n, C, T);
      const err = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
      expect(err, `T=${T}: max error ${err.toExponential(2)} vs 1e-6`).toBeLessThan(1e-6);
    }
  });

  it('fits the temperature that minimises NLL, and recovers the one the labels were drawn with', () => {
    // Labels drawn from softmax(z / 2.5): an over-confident model that needs T ≈ 2.5.
    const q = softmax(z, n, C, 2.5);
    const y = Int32Array.from({ length: n }, (_, i) => {
      let u = r.next();
      for (let c = 0; c < C; c++) if ((u -= q[i * C + c]) < 0) return c;
      return C - 1;
    });
    const T = fitTemperature(p, y, C);
    const at = (t: number) => nll(softmax(z, n, C, t), y, C);
    expect(at(T)).toBeLessThanOrEqual(at(T * 1.01));
    expect(at(T)).toBeLessThanOrEqual(at(T / 1.01));
    expect(T).toBeGreaterThan(2);
    expect(T).toBeLessThan(3.2);
  });

  it('calibrated fusion is the mean of the tempered probabilities', () => {
    const q = Float32Array.from(softmax(z.map((v) => -v), n, C));
    const f = fuseCalibrated({ a: p, b: q }, n, C, { a: 2, b: 0.5 });
    const pa = softmax(z, n, C, 2),
      pb = softmax(z.map((v) => -v), n, C, 0.5);
    const err = Math.max(...f.map((v, i) => Math.abs(v - (pa[i] + pb[i]) / 2)));
    expect(err).toBeLessThan(1e-6);
  });
});

describe('UDI options on real mfeat views', () => {
  async function data() {
    const all = await loadMfeat(MFEAT, ['fac', 'mor']);
    const { fit, val: test } = stratifiedSplit(all.labels, 0.25, 3);
    const tr = subset(all, fit);
    const stats = fitStandardize(tr);
    return { train: applyStandardize(tr, stats), test: applyStandardize(subset(all, test), stats) };
  }
  const cfg = (seed = 0) => {
    const c = defaultConfig({ fac: { type: 'mlp', hidden: [32] }, mor: { type: 'mlp', hidden: [32] } }, seed);
    for (const s of [c.solo, c.guided]) s.epochs = 6;
    return c;
  };
  const weights = (net: { rt: Runtime; store: { params: Parameters<Runtime['arena']['read']>[0] } }) => net.rt.arena.read(net.store.params);

  it('udi-paper is udi with the follower monitor, no gate and mean fusion: the same bits', async () => {
    const d = await data();
    const c = cfg();
    c.udi.monitor = 'follower';
    c.udi.gate = false;
    c.fusion = 'mean';
    const a = await train(rt, 'udi', d, c);
    const b = await train(rt, 'udi-paper', d, { ...cfg(), udi: { ...cfg().udi, monitor: 'fused', gate: true }, fusion: 'calibrated' });
    expect(b.result.method).toBe('udi-paper');
    expect(Buffer.from(weights(b.model.net).buffer).equals(Buffer.from(weights(a.model.net).buffer))).toBe(true);
    expect(b.result.fused).toEqual(a.result.fused);
  });

  it('the gate keeps the solo follower when the guided stage only hurts, bit for bit', async () => {
    const d = await data();
    const hurt = cfg();
    hurt.udi.gate = true;
    hurt.udi.monitor = 'fused';
    hurt.fusion = 'mean'; // calibration would temper a wrecked follower to near-uniform, and harmless
    hurt.guided.optimizer = { type: 'sgd', lr: 3, momentum: 0 }; // a guided stage that wrecks the follower
    hurt.guided.clipNorm = 0;
    const { result, model } = await train(rt, 'udi', d, hurt);
    const ens = await train(rt, 'ensemble', d, { ...cfg(), fusion: 'mean' });
    expect(result.guided).toHaveLength(1);
    expect(result.guided![0]).toMatchObject({ kept: 'solo', bestEpoch: -1 });
    // Every weight (anchor and follower) equals the solo models'.
    expect(Buffer.from(weights(model.net).buffer).equals(Buffer.from(weights(ens.model.net).buffer))).toBe(true);
    expect(result.fused).toEqual(ens.result.fused);
    // Without the gate the same stage changes the follower.
    const noGate = await train(rt, 'udi', d, { ...hurt, udi: { ...hurt.udi, gate: false } });
    expect(noGate.result.guided![0].kept).toBe('guided');
    expect(Buffer.from(weights(noGate.model.net).buffer).equals(Buffer.from(weights(ens.model.net).buffer))).toBe(false);
  });

  it("with monitor 'fused' the guided stage's early stopping watches the fused validation accuracy", async () => {
    const d = await data();
    const c = cfg();
    c.udi.monitor = 'fused';
    const { result } = await train(rt, 'udi', d, c);
    const guided = result.history.filter((h) => String(h.stage).startsWith('guided'));
    expect(guided.length).toBeGreaterThan(0);
    for (const h of guided) expect(h.monitor).toBe(h.val_acc_fused);
  });

  it('a calibrated model predicts the same probabilities after a checkpoint round trip', async () => {
    const d = await data();
    const c = cfg();
    c.fusion = 'calibrated';
    const { result, model } = await train(rt, 'udi', d, c);
    expect(Object.keys(result.fusionTemperatures!)).toEqual(['fac', 'mor']);
    for (const T of Object.values(result.fusionTemperatures!)) expect(T).toBeGreaterThan(0);
    const before = predict(model, d.test);
    const { model: back } = await deserializeModel(rt, await serializeModel(model));
    expect(back.fusionTemperatures).toEqual(result.fusionTemperatures);
    expect(Buffer.from(predict(back, d.test).buffer).equals(Buffer.from(before.buffer))).toBe(true);
  });
});
