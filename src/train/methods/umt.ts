/**
 * UMT (Du et al., ICML 2023): unimodal teachers, then the joint stage with feature distillation.
 *
 *   1. solo stage per modality (the teachers); their training-set features t_m (N × d_m) are kept
 *   2. every modality's groups re-initialised (the student starts fresh)
 *   3. L = CE_joint + w · Σ_m MSE(f_m, t_m),  MSE(f, t) = (1/(B·d)) Σ (f − t)²  (t_m: the batch's rows of the teacher's)
 *      ∂/∂f_m += (2w/(B·d)) (f_m − t_m)
 */
import { prefix } from '../../nn/layers.js';
import { MultimodalNet } from '../net.js';
import { infer } from '../infer.js';
import { type JointHookFactory, runJoint } from './joint.js';
import type { Recipe } from './recipe.js';
import { soloAll, soloPlan } from './solo.js';

/**
 * Distillation towards each modality's teacher features (rows of the training set), copied into
 * WebAssembly memory once and gathered there by the batch's rows.
 */
export function distillation(teachers: Record<string, Float32Array>): JointHookFactory {
  return (run) => {
    const net = run.net;
    const K = net.rt.kernels;
    const arena = net.rt.arena;
    const w = run.cfg.umtWeight;
    const resident = Object.fromEntries(net.branches.map((b) => [b.name, arena.f32From(teachers[b.name])]));
    const diff = Object.fromEntries(net.branches.map((b) => [b.name, arena.f32(net.maxBatch * b.featureDim)]));
    return {
      perBranch: (b, n, df, parts) => {
        const d = b.featureDim;
        const dv = prefix(diff[b.name], n * d);
        K.gatherRows(dv, resident[b.name], net.batchRows(n), n, d);
        K.scale(dv, -1);
        K.axpy(dv, b.feat!, 1); // f − teacher
        const mse = K.sumsq(dv) / (n * d);
        parts[`kd_${b.name}`] = mse;
        K.axpy(df, dv, (2 * w) / (n * d));
        return w * mse;
      },
    };
  };
}

export const umt: Recipe = {
  minModalities: 2,
  plan: (stage, modalities) => [...soloPlan(stage, modalities), stage('umt', 'umt', 'joint')],
  run: async (run) => {
    const soloAcc = await soloAll(run);
    const teachers = run.memo('teachers', () => infer(run.net, run.train, run.names, { feats: true }).feats);
    if (run.nextStageIsNew()) run.names.forEach((m, i) => MultimodalNet.groups(m).forEach((g) => run.net.store.reinit(g, run.cfg.seed, 600 + i)));
    return runJoint(run, [distillation(teachers)], soloAcc);
  },
};
