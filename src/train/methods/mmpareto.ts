/**
 * MMPareto (Wei & Hu, ICML 2024): joint+uni, with each encoder's multimodal and unimodal gradients
 * combined as a Pareto step instead of summed.
 *
 *   per encoder m:  g_mm = ∂L_joint/∂θ_m,  g_uni = ∂CE(h_m(f_m), y)/∂θ_m   (flattened over enc:m)
 *     cos(g_mm, g_uni) > 0:  k_mm = k_uni = ½
 *     else:                  k_mm = α, k_uni = 1 − α, α the two-task minimum-norm weight (./controller.ts)
 *   per parameter tensor t of enc:m (as the reference code):
 *     g_t = 2·k_uni·g_uni,t + 2·k_mm·g_mm,t,  then  g_t ← g_t · max(1, ‖g_mm,t + g_uni,t‖ / ‖g_t‖) · γ,  γ = 1.5
 *
 * g_mm is taken by running every encoder's backward on the joint gradient first and keeping it
 * (gMM), then the encoders' gradients are zeroed and the unimodal heads' backward gives g_uni.
 */
import { prefix } from '../../nn/layers.js';
import { slice } from '../../nn/params.js';
import { minNormWeight } from './controller.js';
import { type JointHookFactory, jointRecipe, unimodalHeads } from './joint.js';

export const paretoCombine: JointHookFactory = (run) => {
  const net = run.net;
  const K = net.rt.kernels;
  const arena = net.rt.arena;
  const gMM = Object.fromEntries(net.branches.map((b) => [b.name, arena.f32(net.store.group(`enc:${b.name}`).length)]));
  return {
    afterJointBackward: (n) => {
      // Keep each encoder's multimodal gradient, then compute its unimodal one alone.
      for (const b of net.branches) net.encoderBackward(b, n, prefix(b.dfeat, n * b.featureDim));
      for (const b of net.branches) K.copy(gMM[b.name], net.store.groupGrads(`enc:${b.name}`));
      net.store.zeroGrads(run.names.map((m) => `enc:${m}`));
      for (const b of net.branches) K.fill(prefix(b.dfeat, n * b.featureDim), 0);
    },
    afterBackward: (_n, parts) => {
      for (const b of net.branches) {
        const gu = net.store.groupGrads(`enc:${b.name}`),
          gm = gMM[b.name];
        const uu = K.dot(gu, gu),
          mm = K.dot(gm, gm),
          um = K.dot(gu, gm);
        const cos = uu > 0 && mm > 0 ? um / Math.sqrt(uu * mm) : 1;
        const kMM = cos > 0 ? 0.5 : minNormWeight(mm, uu, um),
          kUni = 1 - kMM;
        parts[`cos_${b.name}`] = cos;
        const base = net.store.group(`enc:${b.name}`).offset;
        for (const prm of net.store.parameters) {
          if (prm.group !== `enc:${b.name}`) continue;
          const tu = net.store.gradOf(prm),
            tm = slice(gm, prm.offset - base, prm.length);
          const total = Math.sqrt(Math.max(0, K.dot(tu, tu) + K.dot(tm, tm) + 2 * K.dot(tu, tm)));
          K.scale(tu, 2 * kUni);
          K.axpy(tu, tm, 2 * kMM);
          const norm = Math.sqrt(K.sumsq(tu));
          const diff = norm > 0 ? total / norm : 1;
          K.scale(tu, (diff > 1 ? diff : 1) * 1.5);
        }
      }
    },
  };
};

export const mmpareto = jointRecipe('mmpareto', [unimodalHeads, paretoCombine]);
