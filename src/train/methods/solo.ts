/**
 * The solo stage, and the two methods made of it alone.
 *
 *   solo stage of modality m   L_m = CE(softmax(h_m(ψ_m(x_m))), y)   (encoder ψ_m, linear head h_m)
 *   unimodal                   every modality alone; the "fused" prediction is the modality with the
 *                              best validation accuracy
 *   ensemble                   every modality alone, then late fusion of their probabilities (UDI
 *                              without its guided stage: the key ablation)
 *
 * Each modality's stage trains only its own groups (enc:m, head:m); the others are frozen, so their
 * validation probabilities are computed once per stage.
 */
import { scores } from '../metrics.js';
import { MultimodalNet } from '../net.js';
import type { Run } from '../run.js';
import { infer } from '../infer.js';
import type { Stage } from '../trainer.js';
import { finishLateFusion, fusionHeadPlan } from './late-fusion.js';
import type { PlanStage, Recipe } from './recipe.js';

/** The solo stage of modality m: cross-entropy of its own head. */
export function soloStage(run: Run, m: string): Stage {
  const net = run.net;
  const frozen = { names: run.names.filter((x) => x !== m), probs: {} };
  return {
    name: `solo:${m}`,
    trainable: MultimodalNet.groups(m),
    modalities: [m],
    step: (n) => {
      const b = net.forward(m, n, true);
      const loss = net.headLoss(b, n);
      net.encoderBackward(b, n, net.ceBackward(b, n));
      return { loss };
    },
    validate: () => run.validation(m, 'none', frozen),
  };
}

/** Every modality's solo stage, in order; returns each one's accuracy on the evaluation split. */
export async function soloAll(run: Run): Promise<Record<string, number>> {
  for (const m of run.names) await run.stage(soloStage(run, m), run.cfg.solo, [m]);
  return run.memo('soloAcc', () => {
    const out = infer(run.net, run.evalSet, run.names);
    return Object.fromEntries(run.names.map((m) => [m, scores(out.probs[m], run.evalSet.labels, run.net.classes).acc])) as Record<string, number>;
  });
}

/** The plan of the solo stages: one per modality, in order. */
export const soloPlan = (stage: PlanStage, modalities: readonly string[]) => modalities.map((m) => stage('solo', `solo:${m}`, 'solo'));

export const unimodal: Recipe = {
  minModalities: 1,
  plan: soloPlan,
  run: async (run) => {
    const soloAcc = await soloAll(run);
    const C = run.net.classes;
    // The unimodal "fused" prediction is the best single modality, chosen on validation.
    const acc = Object.fromEntries(run.names.map((m) => [m, run.valAcc(m).acc]));
    const best = [...run.names].sort((a, b) => acc[b] - acc[a])[0];
    const out = infer(run.net, run.evalSet, [best]);
    return { result: { fused: scores(out.probs[best], run.evalSet.labels, C), soloAcc, inModelAcc: soloAcc }, model: { modalities: [best], fusion: 'mean' } };
  },
};

export const ensemble: Recipe = {
  minModalities: 2,
  plan: (stage, modalities, cfg) => [...soloPlan(stage, modalities), ...fusionHeadPlan(stage, cfg)],
  run: async (run) => {
    const soloAcc = await soloAll(run);
    const f = await finishLateFusion(run, run.cfg.fusion);
    return {
      result: { fused: f.fused, soloAcc, inModelAcc: f.inModel, fusionWeights: f.weights, fusionTemperatures: f.temperatures },
      model: { modalities: run.names, fusion: run.cfg.fusion, fusionWeights: f.weights, fusionTemperatures: f.temperatures },
    };
  },
};
