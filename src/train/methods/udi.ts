/**
 * UDI: the solo stage, anchor selection (./anchor.ts), then a guided stage per follower m ≠ a against
 * the frozen anchor's cached targets, then late fusion (./late-fusion.ts).
 *
 *   L_m = CE(p_m, y) + λ_con · JS_T(p_a ‖ p_m) + λ_com · X(f_m, f_a)
 *     p_m = softmax(z_m / T), p_a = softmax(z_a / T)   (B × C; the anchor's cached at temperature T)
 *     JS(p ‖ q) = ½ KL(p ‖ r) + ½ KL(q ‖ r), r = (p + q)/2, probabilities clamped to >= eps in logs
 *     X(f, g) = (1/(d·d_a)) Σ_jk C_jk²,  C = f̂ᵀ ĝ / B   (f̂, ĝ: the batch-standardised features,
 *               B × d and B × d_a): the mean squared cross-correlation, zero when uncorrelated [ours]
 *   λ from the controller (./controller.ts) every k steps, or fixed (λ_con = 1, λ_com = lambdaCom).
 *   The CE term is dropped with keepCE false. Only the follower's groups (enc:m, head:m) train.
 *
 * The gradient is linear in the weights: g = g_ce + λ_con·g_con + λ_com·g_com, each term's parameter
 * gradient flat over the follower's groups (g_com is zero on the head: X does not reach it). On a
 * controller step g_con and g_com are needed apart (their dot products give λ), so each term is
 * backpropagated once, alone: g_con (head and encoder), g_com (encoder), then g_ce accumulated onto
 * λ_com·g_com + λ_con·g_con (head and encoder; skipped with keepCE false). Three sources need three
 * passes through the encoder; the JS and X backwards run once each. Other steps (fixed controller,
 * steps between controller updates, no complementary term) take one combined backward pass.
 *
 * Followers train one after another, by solo validation accuracy (best first), all guided by the one
 * anchor (star). With the gate, a follower's weights from before its stage compete with the stage's
 * epochs on the monitor. udi-paper: the follower's own accuracy as the monitor, no gate, mean fusion.
 */
import type { F32 } from '../../runtime/arena.js';
import { prefix } from '../../nn/layers.js';
import { type CeBackwardOptions, MultimodalNet } from '../net.js';
import type { Run } from '../run.js';
import type { Stage } from '../trainer.js';
import type { MethodConfig, Result } from '../types.js';
import { type AnchorCache, cacheAnchor, selectAnchor } from './anchor.js';
import { alignmentWeights } from './controller.js';
import { finishLateFusion, fusionHeadPlan } from './late-fusion.js';
import type { PlanStage, Recipe } from './recipe.js';
import { soloAll, soloPlan } from './solo.js';

/** The paper's form of UDI (with the notes' [ours] defaults for what the paper leaves open): `udi-paper`. */
export function paperForm(cfg: MethodConfig): MethodConfig {
  return { ...cfg, udi: { ...cfg.udi, monitor: 'follower', gate: false }, fusion: 'mean' };
}

/** The guided stage of one follower, against the anchor's cached training-set probabilities and features. */
export function guidedStage(run: Run, follower: string, cache: AnchorCache): Stage {
  const net = run.net;
  const K = net.rt.kernels;
  const arena = net.rt.arena;
  const o = run.cfg.udi;
  const C = net.classes;
  const b = net.branch(follower);
  const d = b.featureDim,
    da = cache.dim,
    B = net.maxBatch;
  const groups = MultimodalNet.groups(follower);
  const frozen = { names: run.names.filter((x) => x !== follower), probs: {} };
  // Working buffers for the whole stage.
  const pa = arena.f32(B * C),
    pm = arena.f32(B * C);
  const g = arena.f32(B * da),
    ghat = arena.f32(B * da),
    ginv = arena.f32(da);
  const xc = arena.f32(d * da),
    fhat = arena.f32(B * d),
    finv = arena.f32(d),
    work = arena.f32(B * d);
  const gradSpan = net.store.span(groups, 'grads');
  const gCon = arena.f32(gradSpan.length);
  const useCom = o.complementary === 'xcorr';
  let lambdaCon = o.controller === 'fixed' ? 1 : 0.5;
  let lambdaCom = o.controller === 'fixed' ? o.lambdaCom : 0.5;
  let lastCos = Number.NaN;
  const div = { temperature: o.temperature, eps: o.eps };

  // The JS term's gradient with respect to the logits, times jsOpts.scale, added into dz: one
  // closure and one options object for the stage (a step allocates nothing for them).
  const jsOpts = { ...div, scale: 1 };
  let rows = 0;
  const addJs = (dz: F32) => K.jsDivergenceBackward(dz, prefix(pa, rows * C), prefix(pm, rows * C), rows, C, jsOpts);
  const ce: CeBackwardOptions = { scale: 1 };

  /** One backward pass of CE·wCE + JS·wCon + xcorr·wCom into the follower's gradients. */
  const backward = (n: number, wCE: number, wCon: number, wCom: number) => {
    let df: F32;
    if (wCE || wCon) {
      rows = n;
      jsOpts.scale = wCon;
      ce.scale = wCE;
      ce.add = wCon ? addJs : undefined;
      df = net.ceBackward(b, n, ce);
    } else {
      df = prefix(b.dfeat, n * d);
      K.fill(df, 0);
    }
    if (wCom && useCom) K.crossCorrelationBackward(df, prefix(xc, d * da), prefix(fhat, n * d), finv, prefix(ghat, n * da), n, d, da, wCom, prefix(work, n * d));
    net.encoderBackward(b, n, df);
  };

  return {
    name: `guided:${follower}`,
    trainable: groups,
    modalities: [follower],
    saveState: () => ({ lambdaCon, lambdaCom, lastCos: Number.isNaN(lastCos) ? null : lastCos }),
    loadState: (x) => {
      const st = x as { lambdaCon: number; lambdaCom: number; lastCos: number | null };
      ({ lambdaCon, lambdaCom } = st);
      lastCos = st.lastCos ?? Number.NaN;
    },
    step: (n, _idx, step) => {
      // The anchor's cached targets for the batch's rows.
      const rows = net.batchRows(n);
      K.gatherRows(prefix(pa, n * C), cache.probs, rows, n, C);
      if (useCom) K.gatherRows(prefix(g, n * da), cache.feats, rows, n, da);
      net.forward(follower, n, true);
      const ce = net.headLoss(b, n);
      const con = K.jsDivergence(prefix(pm, n * C), prefix(pa, n * C), b.logits!, n, C, div);
      let com = 0;
      if (useCom) {
        K.standardize(prefix(ghat, n * da), ginv, prefix(g, n * da), n, da);
        com = K.crossCorrelation(prefix(xc, d * da), prefix(fhat, n * d), finv, b.feat!, prefix(ghat, n * da), n, d, da);
      }
      if (o.controller === 'gradient-alignment' && useCom && step % o.controllerEvery === 0) {
        // The trainer zeroed the follower's gradients: each pass below leaves its term's gradient in gradSpan.
        backward(n, 0, 1, 0);
        K.copy(gCon, gradSpan);
        net.store.zeroGrads(groups);
        backward(n, 0, 0, 1);
        const cc = K.dot(gCon, gCon),
          mm = K.dot(gradSpan, gradSpan),
          cm = K.dot(gCon, gradSpan);
        ({ lambdaCon, lambdaCom, cos: lastCos } = alignmentWeights(cc, mm, cm));
        // gradSpan = λ_com·g_com + λ_con·g_con; the CE pass accumulates g_ce onto it.
        K.scale(gradSpan, lambdaCom);
        K.axpy(gradSpan, gCon, lambdaCon);
        if (o.keepCE) backward(n, 1, 0, 0);
      } else backward(n, o.keepCE ? 1 : 0, lambdaCon, useCom ? lambdaCom : 0);
      run.trace.push({ follower, step, lambdaCon, lambdaCom: useCom ? lambdaCom : 0, cos: o.controller === 'fixed' ? Number.NaN : lastCos });
      const loss = (o.keepCE ? ce : 0) + lambdaCon * con + (useCom ? lambdaCom * com : 0);
      return { loss, ce, con, com };
    },
    validate: () => run.validation(o.monitor === 'fused' ? 'fused' : follower, 'none', frozen, run.cfg.fusion),
  };
}

/** Solo stages, the anchor, a guided stage per follower, then late fusion. */
async function runUdi(run: Run) {
  const { cfg } = run;
  const o = cfg.udi;
  const soloAcc = await soloAll(run);
  const anchor = run.memo('anchor', () => selectAnchor(run, o));
  const cache = cacheAnchor(run, anchor.name, o.temperature);
  const followers = run.names.filter((m) => m !== anchor.name).sort((a, b) => anchor.validation[b].acc - anchor.validation[a].acc);
  const guided: NonNullable<Result['guided']> = [];
  for (const [i, f] of followers.entries()) {
    const isNew = run.nextStageIsNew();
    const stage = guidedStage(run, f, cache);
    // The gate's competitor: the follower's weights and monitor before the stage (before a scratch re-initialisation).
    const baseline = o.gate && isNew ? { monitor: stage.validate().monitor, snapshot: Object.fromEntries(stage.trainable.map((g) => [g, run.net.store.snapshot(g)])) } : undefined;
    if (o.followerInit === 'scratch' && isNew) for (const g of MultimodalNet.groups(f)) run.net.store.reinit(g, cfg.seed, 500 + i);
    const r = await run.stage({ ...stage, baseline }, cfg.guided, [f]);
    guided.push({ follower: f, kept: r.bestEpoch < 0 ? 'solo' : 'guided', bestEpoch: r.bestEpoch, monitor: r.bestMonitor });
  }
  const f = await finishLateFusion(run, cfg.fusion);
  return {
    result: { fused: f.fused, soloAcc, inModelAcc: f.inModel, anchor, guided, fusionWeights: f.weights, fusionTemperatures: f.temperatures },
    model: { modalities: run.names, fusion: cfg.fusion, fusionWeights: f.weights, fusionTemperatures: f.temperatures },
  };
}

const soloAndGuided = (stage: PlanStage, modalities: readonly string[]) => [...soloPlan(stage, modalities), ...modalities.slice(1).map(() => stage('guided', null, 'guided'))];

export const udi: Recipe = {
  minModalities: 2,
  plan: (stage, modalities, cfg) => [...soloAndGuided(stage, modalities), ...fusionHeadPlan(stage, cfg)],
  run: runUdi,
};

/** udi-paper fuses by the mean of probabilities (paperForm), so it never trains a fusion head. */
export const udiPaper: Recipe = {
  minModalities: 2,
  config: paperForm,
  plan: (stage, modalities) => soloAndGuided(stage, modalities),
  run: runUdi,
};
