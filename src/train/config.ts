/**
 * The default training config: every stage budget, the UDI options and the baselines' settings.
 */
import type { EncoderConfig } from '../nn/encoders.js';
import type { StageConfig } from './trainer.js';
import type { MethodConfig } from './types.js';

const adam = (lr: number) => ({ type: 'adamw' as const, lr, weightDecay: 1e-4 });

export function defaultConfig(encoders: Record<string, EncoderConfig>, seed = 0): MethodConfig {
  // A fresh object per stage: changing cfg.guided must not change cfg.solo.
  const stage = (): StageConfig => ({ epochs: 30, batchSize: 64, optimizer: adam(1e-3), schedule: { type: 'constant' }, clipNorm: 5, earlyStopping: { patience: 5, minDelta: 0 } });
  return {
    seed,
    init: 'he',
    encoders,
    solo: stage(),
    guided: stage(),
    joint: stage(),
    fusionHead: { ...stage(), epochs: 20, optimizer: adam(1e-2) },
    udi: { epsilon: 0.005, temperature: 1, controller: 'gradient-alignment', controllerEvery: 1, lambdaCom: 1, keepCE: true, followerInit: 'solo', complementary: 'xcorr', eps: 1e-7, monitor: 'fused', gate: true },
    // monitor 'fused', the gate and calibrated fusion were adopted by bench/udi-study.ts's rule (README).
    fusion: 'calibrated',
    validationFraction: 0.1,
    ogmAlpha: 0.1,
    umtWeight: 1,
    dimml: { contrastWeight: 0.1, temperature: 0.1 },
  };
}
