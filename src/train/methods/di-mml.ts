/**
 * DI-MML (Fan et al., ACM MM 2024), simplified: detached per-modality training through one shared
 * classifier, a one-way contrastive term, then a fusion head on the frozen encoders.
 *
 *   L = Σ_m CE(softmax(h(f_m)), y) + w · Σ_{m≠s} InfoNCE(f̂_m → f̂_s)      (h: the shared head)
 *     s = the modality with the lowest CE on the batch (the strong one; no gradient flows to it)
 *     f̂ = f / (‖f‖ + 1e-12) per row (B × d),  S = f̂_m f̂_sᵀ / τ (B × B),
 *     InfoNCE = CE(softmax(S), diag): row i's positive is row i of the strong modality
 *   backward through the row normalisation: ∂f = (∂f̂ − f̂ (f̂·∂f̂)) / ‖f‖
 *   then the fusion-head stage (./late-fusion.ts) on the frozen encoders.
 *
 * A simplification: DI-MML's dimension-decoupled contrastive loss is replaced by plain InfoNCE.
 * Every encoder must give the same feature dimension (one shared classifier).
 */
import { prefix } from '../../nn/layers.js';
import { fuseMean } from '../fusion.js';
import { scores } from '../metrics.js';
import type { Run } from '../run.js';
import { infer } from '../infer.js';
import { type Stage, TrainingError } from '../trainer.js';
import { trainFusionHead } from './late-fusion.js';
import type { Recipe } from './recipe.js';

function dimmlStage(run: Run): Stage {
  const net = run.net;
  const K = net.rt.kernels;
  const arena = net.rt.arena;
  const C = net.classes;
  const B = net.maxBatch;
  if (!net.shared) throw new TrainingError('SHARED_HEAD_DIMS', `di-mml shares one classifier, so every encoder must output the same feature dimension (${net.branches.map((b) => `${b.name}: ${b.featureDim}`).join(', ')})`);
  const d = net.branches[0].featureDim;
  const { contrastWeight, temperature } = run.cfg.dimml;
  const hat = Object.fromEntries(net.branches.map((b) => [b.name, arena.f32(B * d)]));
  const S = arena.f32(B * B),
    P = arena.f32(B * B),
    dS = arena.f32(B * B),
    dHat = arena.f32(B * d);
  const diag = arena.i32From(Int32Array.from({ length: B }, (_, i) => i));
  const dfeat = Object.fromEntries(net.branches.map((b) => [b.name, arena.f32(B * d)]));

  const feat = (m: string, n: number) => prefix(net.branch(m).feat!, n * d);
  /** Row-normalise a branch's features into hat[m]. */
  const normalise = (m: string, n: number) => K.rowNormalize(prefix(hat[m], n * d), feat(m, n), n, d);

  return {
    name: 'di-mml',
    trainable: [...run.names.map((m) => `enc:${m}`), 'head:shared'],
    modalities: run.names,
    step: (n) => {
      const ce: Record<string, number> = {};
      for (const m of run.names) {
        const b = net.forward(m, n, true, 'shared');
        ce[m] = net.headLoss(b, n);
        K.copy(prefix(dfeat[m], n * d), net.ceBackward(b, n, { head: 'shared' }));
      }
      // One-way contrast: every other modality's features towards the strongest one's (no gradient to it).
      const strong = [...run.names].sort((a, b) => ce[a] - ce[b])[0];
      let con = 0;
      if (n > 1 && contrastWeight > 0) {
        normalise(strong, n);
        for (const m of run.names) {
          if (m === strong) continue;
          normalise(m, n);
          const s = prefix(S, n * n),
            p = prefix(P, n * n),
            ds = prefix(dS, n * n),
            dh = prefix(dHat, n * d);
          K.matmul(s, prefix(hat[m], n * d), prefix(hat[strong], n * d), { m: n, n, k: d, layout: 'nt' });
          K.scale(s, 1 / temperature);
          const l = K.softmaxCrossEntropy(p, s, { ...diag, length: n }, n, n);
          con += l;
          K.fill(ds, 0);
          K.softmaxCrossEntropyBackward(ds, p, { ...diag, length: n }, n, n, contrastWeight / temperature);
          K.matmul(dh, ds, prefix(hat[strong], n * d), { m: n, n: d, k: n });
          // Through the row normalisation: df += (dh − h (h·dh)) / |f|.
          K.rowNormalizeBackward(prefix(dfeat[m], n * d), dh, prefix(hat[m], n * d), feat(m, n), n, d);
        }
      }
      for (const m of run.names) net.encoderBackward(net.branch(m), n, prefix(dfeat[m], n * d));
      const total = Object.values(ce).reduce((a, b) => a + b, 0) + contrastWeight * con;
      return { loss: total, con, ...Object.fromEntries(Object.entries(ce).map(([m, v]) => [`ce_${m}`, v])) };
    },
    validate: () => {
      const out = infer(net, run.val, run.names, { head: 'shared' });
      const metrics: Record<string, number> = {};
      for (const m of run.names) metrics[`val_acc_${m}`] = scores(out.probs[m], run.val.labels, C).acc;
      const f = scores(fuseMean(out.probs, run.val.size, C), run.val.labels, C);
      metrics.val_acc_fused = f.acc;
      metrics.val_f1_fused = f.f1;
      return { monitor: f.acc, metrics };
    },
  };
}

export const dimml: Recipe = {
  minModalities: 2,
  plan: (stage) => [stage('di-mml', 'di-mml', 'joint'), stage('fusion-head', 'fusion-head', 'fusionHead')],
  run: async (run) => {
    const C = run.net.classes;
    await run.stage(dimmlStage(run), run.cfg.joint, run.names);
    await trainFusionHead(run);
    const out = infer(run.net, run.evalSet, run.names, { joint: true, head: 'shared' });
    const inModelAcc = Object.fromEntries(run.names.map((m) => [m, scores(out.probs[m], run.evalSet.labels, C).acc]));
    return { result: { fused: scores(out.joint!, run.evalSet.labels, C), soloAcc: {}, inModelAcc }, model: { modalities: run.names, fusion: 'head' } };
  },
};
