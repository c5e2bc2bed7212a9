/**
 * The end of the late-fusion methods (ensemble, udi, udi-paper): fuse the modalities' own-head
 * probabilities, or train a fusion head on the frozen encoders, and score the fused prediction.
 *
 *   mean / entropy / validation / calibrated   p = fuse(p_1 … p_M)  (see ../fusion.ts); weights or
 *                                              temperatures fitted on validation
 *   head (fusion-head stage)                   p = softmax(b + Σ_m f_m W_m), only W, b trained (group
 *                                              head:joint), L = CE(p, y); the encoders are frozen
 */
import { type FusionKind, fuseProbs } from '../fusion.js';
import { scores, type Scores } from '../metrics.js';
import type { Run } from '../run.js';
import { infer } from '../infer.js';
import type { PlannedStage } from '../trainer.js';
import type { PlanConfig, PlanStage } from './recipe.js';

/** The fusion-head stage, when the config fuses with a head. */
export function fusionHeadPlan(stage: PlanStage, cfg: PlanConfig): PlannedStage[] {
  return cfg.fusion === 'head' ? [stage('fusion-head', 'fusion-head', 'fusionHead')] : [];
}

/** Train the linear fusion head (group head:joint) on the frozen encoders' features. */
export async function trainFusionHead(run: Run): Promise<void> {
  const net = run.net;
  await run.stage(
    {
      name: 'fusion-head',
      trainable: ['head:joint'],
      modalities: run.names,
      step: (n) => {
        for (const m of run.names) net.forward(m, n, false);
        const loss = net.jointLoss(n);
        net.ceBackward('joint', n);
        return { loss };
      },
      validate: () => run.validation('fused', 'heads'),
    },
    run.cfg.fusionHead,
    [],
  );
}

/** Fit the fusion on validation (or train its head) and score it on the evaluation split. */
export async function finishLateFusion(run: Run, kind: FusionKind): Promise<{ fused: Scores; weights?: Record<string, number>; temperatures?: Record<string, number>; inModel: Record<string, number> }> {
  const C = run.net.classes;
  const { weights, temperatures } = kind === 'validation' || kind === 'calibrated' ? run.lateFuse(infer(run.net, run.val, run.names).probs, kind) : {};
  if (kind === 'head') await trainFusionHead(run);
  const out = infer(run.net, run.evalSet, run.names, { joint: kind === 'head' });
  const probs = kind === 'head' ? out.joint! : fuseProbs(out.probs, run.evalSet.size, C, { fusion: kind, fusionWeights: weights, fusionTemperatures: temperatures });
  const inModel = Object.fromEntries(run.names.map((m) => [m, scores(out.probs[m], run.evalSet.labels, C).acc]));
  return { fused: scores(probs, run.evalSet.labels, C), weights, temperatures, inModel };
}
