// The engine against PyTorch: one step of UDI's guided stage and one of joint training, on a tiny
// two-modality network with the weights and batch of test/fixtures/torch-golden.json, made by
// scripts/torch-golden.py in float64 PyTorch (autograd, torch.optim.AdamW). No Python at test time.
//
// The engine runs black-box through train() (test/method-step.ts). The guided step's three gradient
// terms are separated by linearity from runs with the fixed controller (lambda_con = 1):
//   complementary 'none', keepCE off  -> g_con
//   complementary 'none', keepCE on   -> g_ce + g_con
//   complementary 'xcorr', keepCE off -> g_con + lambdaCom·g_com   (lambdaCom = 1)
// and the gradient-alignment run gives the controller's λ and the total gradient.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, defaultConfig, makeDataset, type MethodConfig, type Runtime, type Splits, type StageConfig } from '../src/index.js';
import { probeStep } from './method-step.js';

interface Fixture {
  torch: string;
  config: {
    modalities: Record<string, { dim: number; encoder: { type: 'mlp'; hidden: number[]; activation: 'relu' } }>;
    classes: number;
    anchor: string;
    follower: string;
    temperature: number;
    jsEps: number;
    adamw: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number };
  };
  inputs: { x: Record<string, number[][]>; labels: number[]; params: Record<string, number[]> };
  guided: {
    losses: { ce: number; con: number; com: number; loss: number };
    lambda: { lambdaCon: number; lambdaCom: number; cos: number };
    grads: Record<'ce' | 'con' | 'com', Record<string, number[]>>;
    total: Record<string, number[]>;
  };
  joint: { loss: number; grads: Record<string, number[]>; adamwUpdated: Record<string, number[]> };
}

const FX: Fixture = JSON.parse(readFileSync(new URL('./fixtures/torch-golden.json', import.meta.url), 'utf8'));
const F = FX.config.follower;

const LOSS_REL = 1e-5;
const GRAD_REL = 1e-4; // of the largest element of the (flattened) reference gradient
const LAMBDA_ABS = 1e-4;
const ADAMW_ABS = 1e-6;

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime({ threads: 1 });
});
afterAll(() => rt.dispose());

function splits(): Splits {
  const x = FX.inputs.x;
  const ds = makeDataset(Object.fromEntries(Object.keys(FX.config.modalities).map((m) => [m, x[m]])), FX.inputs.labels, FX.config.classes);
  // Validation = the same rows: the captured step's batch is then exactly the fixture's 12 rows.
  return { train: ds, val: ds };
}

function config(udi: Partial<MethodConfig['udi']> = {}): MethodConfig {
  const encoders = Object.fromEntries(Object.entries(FX.config.modalities).map(([m, s]) => [m, { ...s.encoder, dropout: 0 }]));
  const base = defaultConfig(encoders, 0);
  const stage: StageConfig = { ...base.solo, epochs: 1, batchSize: 16, clipNorm: 0, earlyStopping: false };
  return {
    ...base,
    solo: stage,
    guided: stage,
    joint: stage,
    udi: { ...base.udi, anchor: FX.config.anchor, temperature: FX.config.temperature, eps: FX.config.jsEps, ...udi },
  };
}

const setParams = (): Record<string, Float32Array> => Object.fromEntries(Object.entries(FX.inputs.params).map(([k, v]) => [k, Float32Array.from(v)]));

function relErr(got: number, ref: number): number {
  return Math.abs(got - ref) / Math.abs(ref);
}

/** Max |got − ref| over the named tensors, relative to the largest |ref| element over all of them; per tensor too. */
function gradErr(got: Record<string, ArrayLike<number>>, ref: Record<string, number[]>): { rel: number; perTensor: Record<string, number> } {
  let scale = 0;
  for (const v of Object.values(ref)) for (const r of v) scale = Math.max(scale, Math.abs(r));
  let worst = 0;
  const perTensor: Record<string, number> = {};
  for (const [name, r] of Object.entries(ref)) {
    const g = got[name];
    expect(g, `engine has no gradient for ${name}`).toBeDefined();
    expect(g.length, name).toBe(r.length);
    let e = 0;
    for (let i = 0; i < r.length; i++) e = Math.max(e, Math.abs(g[i] - r[i]));
    perTensor[name] = e / scale;
    worst = Math.max(worst, e / scale);
  }
  return { rel: worst, perTensor };
}

function report(what: string, e: { rel: number; perTensor: Record<string, number> }, tol: number): void {
  const parts = Object.entries(e.perTensor).map(([n, v]) => `${n} ${v.toExponential(2)}`);
  console.log(`${what}: max error ${e.rel.toExponential(2)} of max|ref| (tolerance ${tol.toExponential(0)}); ${parts.join(', ')}`);
}

const diff = (a: Record<string, Float64Array>, b: Record<string, Float64Array>, k = 1): Record<string, Float64Array> =>
  Object.fromEntries(Object.keys(a).map((n) => [n, Float64Array.from(a[n], (v, i) => (v - b[n][i]) / k)]));

describe(`engine vs PyTorch ${FX.torch} (float64 golden values, scripts/torch-golden.py)`, () => {
  it('fixture: the guided step exercises the min-norm branch of the controller', () => {
    expect(FX.guided.lambda.cos).toBeLessThan(0);
    expect(FX.guided.lambda.lambdaCon).toBeGreaterThan(0);
    expect(FX.guided.lambda.lambdaCon).toBeLessThan(1);
  });

  it('UDI guided step (gradient-alignment controller): losses, λ and the total gradient', async () => {
    const p = await probeStep(rt, 'udi', splits(), config(), `guided:${F}`, { setParams: setParams() });
    // The probe set the fixture's weights before the stage.
    for (const [n, v] of Object.entries(FX.inputs.params)) expect(Array.from(p.params[n]), n).toEqual(v);
    const L = FX.guided.losses;
    const got = { ce: p.losses.ce, con: p.losses.con, com: p.losses.com, loss: p.losses.loss };
    for (const k of ['ce', 'con', 'com', 'loss'] as const) {
      const e = relErr(got[k], L[k]);
      console.log(`guided loss ${k}: engine ${got[k]} torch ${L[k]} rel error ${e.toExponential(2)} (tolerance ${LOSS_REL.toExponential(0)})`);
      expect(e, k).toBeLessThanOrEqual(LOSS_REL);
    }
    expect(p.lambda, 'λ trace').toBeDefined();
    const lam = p.lambda!;
    const eCon = Math.abs(lam.lambdaCon - FX.guided.lambda.lambdaCon),
      eCom = Math.abs(lam.lambdaCom - FX.guided.lambda.lambdaCom),
      eCos = Math.abs(lam.cos - FX.guided.lambda.cos);
    console.log(`λ: engine con ${lam.lambdaCon} com ${lam.lambdaCom} cos ${lam.cos}; torch con ${FX.guided.lambda.lambdaCon} com ${FX.guided.lambda.lambdaCom} cos ${FX.guided.lambda.cos}; abs errors ${eCon.toExponential(2)}, ${eCom.toExponential(2)}, cos ${eCos.toExponential(2)} (tolerance ${LAMBDA_ABS.toExponential(0)})`);
    expect(eCon).toBeLessThanOrEqual(LAMBDA_ABS);
    expect(eCom).toBeLessThanOrEqual(LAMBDA_ABS);
    expect(eCos).toBeLessThanOrEqual(LAMBDA_ABS);
    const e = gradErr(p.grads, FX.guided.total);
    report('guided total gradient', e, GRAD_REL);
    expect(e.rel).toBeLessThanOrEqual(GRAD_REL);
  });

  it('UDI guided step: g_ce, g_con and g_com separately', async () => {
    const data = splits();
    const run = (udi: Partial<MethodConfig['udi']>) => probeStep(rt, 'udi', data, config({ controller: 'fixed', lambdaCom: 1, ...udi }), `guided:${F}`, { setParams: setParams() });
    const con = await run({ keepCE: false, complementary: 'none' });
    const ceCon = await run({ keepCE: true, complementary: 'none' });
    const conCom = await run({ keepCE: false, complementary: 'xcorr' });
    const got = { con: con.grads, ce: diff(ceCon.grads, con.grads), com: diff(conCom.grads, con.grads) };
    for (const t of ['ce', 'con', 'com'] as const) {
      const e = gradErr(got[t], FX.guided.grads[t]);
      report(`guided g_${t}`, e, GRAD_REL);
      expect(e.rel, t).toBeLessThanOrEqual(GRAD_REL);
    }
    // Each run's losses too (the terms do not depend on the weights given to them).
    for (const p of [con, ceCon, conCom]) {
      expect(relErr(p.losses.ce, FX.guided.losses.ce)).toBeLessThanOrEqual(LOSS_REL);
      expect(relErr(p.losses.con, FX.guided.losses.con)).toBeLessThanOrEqual(LOSS_REL);
    }
    expect(relErr(conCom.losses.com, FX.guided.losses.com)).toBeLessThanOrEqual(LOSS_REL);
  });

  it('joint step: loss and the gradients of both encoders and the joint head', async () => {
    const p = await probeStep(rt, 'joint', splits(), config(), 'joint', { setParams: setParams() });
    const e = relErr(p.losses.joint, FX.joint.loss);
    console.log(`joint loss: engine ${p.losses.joint} torch ${FX.joint.loss} rel error ${e.toExponential(2)} (tolerance ${LOSS_REL.toExponential(0)})`);
    expect(e).toBeLessThanOrEqual(LOSS_REL);
    const g = gradErr(p.grads, FX.joint.grads);
    report('joint gradient', g, GRAD_REL);
    expect(g.rel).toBeLessThanOrEqual(GRAD_REL);
  });

  it('AdamW kernel: one step on the joint gradients matches torch.optim.AdamW', () => {
    const o = FX.config.adamw;
    const a = rt.arena;
    const mark = a.mark();
    let worst = 0;
    const per: string[] = [];
    try {
      for (const [name, ref] of Object.entries(FX.joint.adamwUpdated)) {
        const n = ref.length;
        const p = a.f32From(FX.inputs.params[name]),
          g = a.f32From(FX.joint.grads[name]),
          m = a.f32From(new Float32Array(n)),
          v = a.f32From(new Float32Array(n));
        rt.kernels.adamwStep(p, g, m, v, { lr: o.lr, step: o.step, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay });
        const out = a.read(p);
        let e = 0;
        for (let i = 0; i < n; i++) e = Math.max(e, Math.abs(out[i] - ref[i]));
        per.push(`${name} ${e.toExponential(2)}`);
        worst = Math.max(worst, e);
      }
    } finally {
      a.release(mark);
    }
    console.log(`AdamW updated params: max abs error ${worst.toExponential(2)} (tolerance ${ADAMW_ABS.toExponential(0)}); ${per.join(', ')}`);
    expect(worst).toBeLessThanOrEqual(ADAMW_ABS);
  });
});
