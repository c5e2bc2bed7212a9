/**
 * The training settings' schema: the one source of every default. defaultConfig() is this schema
 * parsed from nothing (plus the encoders), the `udi train` config file (src/io/config.ts) is this
 * schema plus the data, the method and the encoders, the README's config reference is generated from
 * it, and runStage() reads the defaults of the stage fields a hand-built StageConfig leaves out from
 * STAGE_DEFAULTS below. Every parse returns fresh objects, so a config's stages share nothing.
 *
 * The one config type is MethodConfig (./types.ts, with its documentation); the checks at the end
 * of this file fail to compile if the schema and MethodConfig disagree on a field.
 */
import { z } from 'zod';
import type { EncoderConfig } from '../nn/encoders.js';
import { MAX_NAME_LENGTH } from '../io/names.js';
import type { OptimizerConfig, StageConfig } from './trainer.js';
import type { MethodConfig, UdiOptions } from './types.js';

const positiveInt = z.number().int().positive();

/** A stage's budget; epochs and learning rate differ between stages, every other default is shared. */
function stageSchema(d: { epochs: number; lr: number }, what: string) {
  return z
    .strictObject({
      epochs: positiveInt.default(d.epochs).describe('maximum epochs'),
      batchSize: positiveInt.default(64).describe('rows per batch'),
      optimizer: z
        .strictObject({
          type: z.enum(['adamw', 'sgd']).default('adamw').describe('AdamW or SGD with momentum'),
          lr: z.number().positive().default(d.lr).describe('learning rate'),
          weightDecay: z.number().min(0).default(1e-4).describe('weight decay (decoupled for AdamW, L2 for SGD)'),
          momentum: z.number().min(0).lt(1).default(0.9).describe('SGD momentum'),
          nesterov: z.boolean().default(false).describe('SGD Nesterov momentum'),
          beta1: z.number().min(0).lt(1).default(0.9).describe('AdamW beta1'),
          beta2: z.number().min(0).lt(1).default(0.999).describe('AdamW beta2'),
          eps: z.number().positive().default(1e-8).describe('AdamW epsilon'),
        })
        .prefault({}),
      schedule: z
        .discriminatedUnion('type', [
          z.strictObject({ type: z.literal('constant') }),
          z.strictObject({ type: z.literal('step'), everyEpochs: positiveInt, gamma: z.number().positive() }),
          z.strictObject({ type: z.literal('cosine') }),
        ])
        .default({ type: 'constant' })
        .describe('learning-rate schedule: constant, step (every N epochs times gamma) or cosine'),
      clipNorm: z.number().min(0).default(5).describe('clip the global gradient norm (0 = off)'),
      earlyStopping: z
        .union([z.literal(false), z.strictObject({ patience: positiveInt, minDelta: z.number().min(0) })])
        .default({ patience: 5, minDelta: 0 })
        .describe('stop when validation accuracy has not improved by minDelta for patience epochs, restoring the best weights; false = off'),
    })
    .prefault({})
    .describe(what);
}

const UdiSchema = z
  .strictObject({
    anchor: z.string().max(MAX_NAME_LENGTH).optional().describe('force the anchor by modality name'),
    epsilon: z.number().min(0).default(0.005).describe('[ours] accuracies within this (0.005 = 0.5 points) tie; lower entropy wins'),
    temperature: z.number().positive().default(1).describe('[ours] temperature of the JS consistency term'),
    controller: z.enum(['gradient-alignment', 'fixed']).default('gradient-alignment').describe('[ours rule] dynamic weights from gradient alignment, or fixed'),
    controllerEvery: positiveInt.default(1).describe('[ours] recompute the weights every k steps'),
    lambdaCom: z.number().min(0).default(1).describe('fixed controller: weight of the complementary term (lambda_con = 1)'),
    keepCE: z.boolean().default(true).describe("[ours] keep the follower's own cross-entropy"),
    followerInit: z.enum(['solo', 'scratch']).default('solo').describe('[ours] follower starts from its solo weights or fresh'),
    complementary: z.enum(['xcorr', 'none']).default('xcorr').describe('[ours] complementary term: squared cross-correlation of standardised features'),
    eps: z.number().positive().lt(1).default(1e-7).describe('clamp for probabilities inside logs'),
    // monitor 'fused', the gate and calibrated fusion were adopted by bench/udi-study.ts's rule (README).
    monitor: z.enum(['follower', 'fused']).default('fused').describe("[ours] what the guided stage's early stopping watches on validation: the follower alone, or the fused prediction"),
    gate: z.boolean().default(true).describe('[ours] do-no-harm gate: keep the guided follower only if it beats its own weights from before the guided stage on the monitor'),
  })
  .prefault({})
  .describe('UDI options');

/** Every training setting of MethodConfig but the encoders, with its default. */
export const SettingsSchema = z.strictObject({
  seed: z.number().int().default(0).describe('seed of every random draw'),
  init: z
    .enum(['he', 'pytorch'])
    .default('he')
    .describe("parameter initialisation: 'he' (He-normal encoders, Xavier-uniform heads, zero biases) or 'pytorch' (PyTorch's nn.Linear/nn.Conv2d defaults: weights and biases U(±1/√fan_in))"),
  solo: stageSchema({ epochs: 30, lr: 1e-3 }, 'solo stage (each modality alone) budget'),
  guided: stageSchema({ epochs: 30, lr: 1e-3 }, 'UDI guided stage budget'),
  joint: stageSchema({ epochs: 30, lr: 1e-3 }, 'joint-family baselines budget'),
  fusionHead: stageSchema({ epochs: 20, lr: 1e-2 }, 'fusion-head stage budget'),
  udi: UdiSchema,
  fusion: z
    .enum(['mean', 'entropy', 'validation', 'calibrated', 'head'])
    .default('calibrated')
    .describe('[ours] late fusion for udi/ensemble: mean of probabilities, entropy-weighted, weights fitted on validation, mean of probabilities temperature-scaled per modality on validation NLL, or a linear head on the frozen features'),
  validationFraction: z.number().gt(0).lt(1).default(0.1).describe('validation part carved from train when none is given'),
  ogmAlpha: z.number().min(0).default(0.1).describe('OGM-GE modulation strength'),
  umtWeight: z.number().min(0).default(1).describe('UMT distillation weight'),
  dimml: z
    .strictObject({ contrastWeight: z.number().min(0).default(0.1), temperature: z.number().positive().default(0.1) })
    .prefault({})
    .describe('DI-MML contrastive term'),
});

/** The default config for these encoders (fresh objects on every call: changing cfg.guided does not change cfg.solo). */
export function defaultConfig(encoders: Record<string, EncoderConfig>, seed = 0): MethodConfig {
  const { seed: s, init, ...rest } = SettingsSchema.parse({ seed });
  return { seed: s, init, encoders, ...rest };
}

/** The settings (MethodConfig's fields but the encoders) of an object that has them and more (e.g. a config file's). */
export function settingsOf(c: Partial<Record<keyof z.output<typeof SettingsSchema>, unknown>>): Partial<Omit<MethodConfig, 'encoders'>> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(SettingsSchema.shape)) if (Object.hasOwn(c, k)) out[k] = c[k as keyof typeof c];
  return out as Partial<Omit<MethodConfig, 'encoders'>>;
}

/**
 * What a stage field a hand-built StageConfig leaves out means (runStage): these defaults, except
 * clipNorm (absent: off) and optimizer.weightDecay (absent: 0), which a config only gets by asking.
 */
export const STAGE_DEFAULTS: Readonly<Pick<Required<StageConfig>, 'earlyStopping' | 'schedule'> & { optimizer: Readonly<Required<Pick<OptimizerConfig, 'momentum' | 'nesterov' | 'beta1' | 'beta2' | 'eps'>>> }> = (() => {
  const { earlyStopping, schedule, optimizer } = SettingsSchema.shape.solo.parse(undefined);
  const { momentum, nesterov, beta1, beta2, eps } = optimizer;
  return Object.freeze({ earlyStopping: earlyStopping && Object.freeze(earlyStopping), schedule: Object.freeze(schedule), optimizer: Object.freeze({ momentum, nesterov, beta1, beta2, eps }) });
})();

// ---- the schema and MethodConfig agree (compile-time checks) -----------------------------------

type Settings = z.output<typeof SettingsSchema>;
type Assert<T extends true> = T;
/** Every parsed setting is a valid MethodConfig field... */
export type _SettingsAreMethodConfig = Assert<Settings extends Omit<MethodConfig, 'encoders'> ? true : false>;
/** ...and every MethodConfig field (and UDI option) has a setting. */
export type _NoSettingMissing = Assert<Exclude<keyof MethodConfig, keyof Settings | 'encoders'> extends never ? (Exclude<keyof UdiOptions, keyof Settings['udi']> extends never ? true : false) : false>;
