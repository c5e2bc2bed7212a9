/**
 * OGM-GE (Peng et al., CVPR 2022): the joint stage with on-the-fly gradient modulation and
 * generalisation enhancement (Gaussian noise).
 *
 *   score_m = Σ_i softmax(f_m,i W_m + b/M)[y_i]      (modality m's block of the joint logits, B × C)
 *   ρ_m = score_m / mean_{k≠m} score_k
 *   ρ_m > 1 (m dominates): per parameter tensor t of enc:m (as the reference code)
 *     g_t ← (1 − tanh(α·ρ_m)) · g_t + N(0, std(g_t) + 1e-8),  std the sample standard deviation
 *
 * The noise comes from the joint stage's generator, in parameter order.
 */
import { prefix } from '../../nn/layers.js';
import { dtanh } from '../../util/detmath.js';
import { type JointHookFactory, jointRecipe } from './joint.js';

export const gradientModulation: JointHookFactory = (run, noiseRng) => {
  const net = run.net;
  const K = net.rt.kernels;
  const arena = net.rt.arena;
  const C = net.classes;
  const B = net.maxBatch;
  const alpha = run.cfg.ogmAlpha;
  const blk = arena.f32(B * C),
    blkP = arena.f32(B * C);
  const noise = arena.f32(Math.max(...net.store.parameters.map((p) => p.length)));
  return {
    afterBackward: (n, parts) => {
      const lab = net.batchLabels(n);
      const score: number[] = net.branches.map((_, i) => {
        net.jointBlockLogits(i, n, prefix(blk, n * C));
        K.softmax(prefix(blkP, n * C), prefix(blk, n * C), n, C);
        return K.labelProbSum(prefix(blkP, n * C), lab, n, C);
      });
      net.branches.forEach((b, i) => {
        const others = score.filter((_, j) => j !== i);
        const rho = score[i] / (others.reduce((a, c) => a + c, 0) / others.length);
        parts[`rho_${b.name}`] = rho;
        if (!(rho > 1)) return;
        const coeff = 1 - dtanh(alpha * rho);
        // Per parameter tensor, as the reference code: g <- coeff·g + N(0, std(g)).
        for (const prm of net.store.parameters) {
          if (prm.group !== `enc:${b.name}`) continue;
          const gr = net.store.gradOf(prm);
          const std = K.sampleStd(gr);
          K.scale(gr, coeff);
          const nz = prefix(noise, gr.length);
          K.normal(nz, noiseRng, 0, std + 1e-8);
          K.axpy(gr, nz, 1);
        }
      });
    },
  };
};

export const ogmGe = jointRecipe('ogm-ge', [gradientModulation]);
