/**
 * The training config: one JSON file covering data, modalities, encoders, optimiser, schedule and
 * UDI options. This schema is the single source of truth: the CLI validates with it, library users
 * import it, and the README's config reference is generated from it (scripts/config-docs.mjs).
 * Unknown keys are errors; every option has a documented default.
 */
import { z } from 'zod';
import { defaultConfig, METHODS, type MethodConfig } from '../train/methods.js';
import type { EncoderConfig } from '../nn/encoders.js';
import { MAX_NAME_LENGTH, RESERVED_NAMES } from './names.js';

/**
 * A record keyed by names (modalities) that rejects the reserved names. zod skips an own
 * "__proto__" key of a record silently, so it is looked for in the input first.
 */
export function namedRecord<T extends z.ZodType>(value: T) {
  return z.preprocess(
    (v, ctx) => {
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        for (const k of RESERVED_NAMES) if (Object.prototype.hasOwnProperty.call(v, k)) ctx.addIssue({ code: 'custom', message: `"${k}" is a reserved name, not allowed as a key`, path: [k], input: v });
      }
      return v;
    },
    z.record(z.string().min(1, 'a name must not be empty').max(MAX_NAME_LENGTH, `a name must be at most ${MAX_NAME_LENGTH} characters`), value),
  );
}

/**
 * One line per problem: `  path: message` (the path starts at `root`, if given). An unrecognised key
 * is named by its full path, one line each: `  solo.optimizer.lrr: unknown key`.
 */
export function issueLines(error: z.ZodError, root?: string): string[] {
  const line = (path: string[], message: string) => `  ${path.length ? path.join('.') : '(top level)'}: ${message}`;
  return error.issues.flatMap((i) => {
    const path = [...(root ? [root] : []), ...i.path.map(String)];
    return i.code === 'unrecognized_keys' ? i.keys.map((k) => line([...path, k], 'unknown key')) : [line(path, i.message)];
  });
}

const positiveInt = z.number().int().positive();
const activation = z.enum(['relu', 'gelu']).default('relu').describe('activation after each layer');
const dropout = z.number().min(0).lt(1).default(0).describe('dropout probability after each hidden layer');

export const EncoderSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('mlp'), hidden: z.array(positiveInt).min(1).describe('hidden layer widths; the last is the feature dimension'), activation, dropout }),
  z.strictObject({
    type: z.literal('cnn'),
    input: z.tuple([positiveInt, positiveInt, positiveInt]).describe('input map (height, width, channels), read as NHWC'),
    channels: z.array(positiveInt).min(1).describe('channels of each conv(k×k, same padding) + activation + max-pool(2) block'),
    kernel: positiveInt.default(3).describe('convolution kernel size'),
    dense: positiveInt.describe('width of the dense layer after the conv blocks (the feature dimension)'),
    activation,
    dropout,
  }),
]);

const base = defaultConfig({}, 0);

const StageSchema = (d: MethodConfig['solo'], what: string) =>
  z
    .strictObject({
      epochs: positiveInt.default(d.epochs).describe('maximum epochs'),
      batchSize: positiveInt.default(d.batchSize).describe('rows per batch'),
      optimizer: z
        .strictObject({
          type: z.enum(['adamw', 'sgd']).default('adamw').describe('AdamW or SGD with momentum'),
          lr: z.number().positive().default(d.optimizer.lr).describe('learning rate'),
          weightDecay: z.number().min(0).default(d.optimizer.weightDecay ?? 0).describe('weight decay (decoupled for AdamW, L2 for SGD)'),
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
      clipNorm: z.number().min(0).default(d.clipNorm ?? 0).describe('clip the global gradient norm (0 = off)'),
      earlyStopping: z
        .union([z.literal(false), z.strictObject({ patience: positiveInt, minDelta: z.number().min(0) })])
        .default(d.earlyStopping === undefined ? { patience: 5, minDelta: 0 } : d.earlyStopping)
        .describe('stop when validation accuracy has not improved by minDelta for patience epochs, restoring the best weights; false = off'),
    })
    .prefault({})
    .describe(what);

export const DataSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('avmnist'),
      split: z.enum(['A', 'B', 'C']).default('B').describe('A official (speakers on both sides), B leave one speaker out, C as A with PCA-degraded images'),
      fold: z.number().int().min(0).max(5).default(0).describe('split B: the held-out speaker (0-5, sorted names)'),
      dir: z.string().optional().describe('folder holding fsdd/ and mnist/ (default: $UDI_DATA, else ../shared/data)'),
    }),
    z.strictObject({
      kind: z.literal('mfeat'),
      views: z.array(z.enum(['fac', 'fou', 'kar', 'mor', 'pix', 'zer'])).min(1).default(['fac', 'mor']).describe('mfeat views'),
      fold: z.number().int().min(0).default(0).describe('which stratified 25% test split (seed 1000 + fold)'),
      dir: z.string().optional().describe('folder holding mfeat/'),
    }),
    z.strictObject({
      kind: z.literal('manifest'),
      train: z.string().describe('manifest (or folder with manifest.json) of the training data'),
      val: z.string().optional().describe('manifest of the validation data (default: a stratified part of train)'),
      test: z.string().optional().describe('manifest of the test data (used only for the final figures)'),
      standardize: z.boolean().default(true).describe('standardise every feature with the training statistics'),
    }),
  ])
  .describe('where the data comes from');

export const TrainConfigSchema = z
  .strictObject({
    data: DataSchema,
    method: z.enum(METHODS as [string, ...string[]]).default('udi').describe('the method to train'),
    seed: z.number().int().default(0).describe('seed of every random draw'),
    init: z
      .enum(['he', 'pytorch'])
      .default(base.init)
      .describe("parameter initialisation: 'he' (He-normal encoders, Xavier-uniform heads, zero biases) or 'pytorch' (PyTorch's nn.Linear/nn.Conv2d defaults: weights and biases U(±1/√fan_in))"),
    encoders: namedRecord(EncoderSchema).optional().describe('encoder per modality name (default: MLP 128-64 for each)'),
    solo: StageSchema(base.solo, 'solo stage (each modality alone) budget'),
    guided: StageSchema(base.guided, 'UDI guided stage budget'),
    joint: StageSchema(base.joint, 'joint-family baselines budget'),
    fusionHead: StageSchema(base.fusionHead, 'fusion-head stage budget'),
    udi: z
      .strictObject({
        anchor: z.string().max(MAX_NAME_LENGTH).optional().describe('force the anchor by modality name'),
        epsilon: z.number().min(0).default(base.udi.epsilon).describe('[ours] accuracies within this (0.005 = 0.5 points) tie; lower entropy wins'),
        temperature: z.number().positive().default(base.udi.temperature).describe('[ours] temperature of the JS consistency term'),
        controller: z.enum(['gradient-alignment', 'fixed']).default(base.udi.controller).describe('[ours rule] dynamic weights from gradient alignment, or fixed'),
        controllerEvery: positiveInt.default(base.udi.controllerEvery).describe('[ours] recompute the weights every k steps'),
        lambdaCom: z.number().min(0).default(base.udi.lambdaCom).describe('fixed controller: weight of the complementary term (lambda_con = 1)'),
        keepCE: z.boolean().default(base.udi.keepCE).describe("[ours] keep the follower's own cross-entropy"),
        followerInit: z.enum(['solo', 'scratch']).default(base.udi.followerInit).describe('[ours] follower starts from its solo weights or fresh'),
        complementary: z.enum(['xcorr', 'none']).default(base.udi.complementary).describe('[ours] complementary term: squared cross-correlation of standardised features'),
        eps: z.number().positive().lt(1).default(base.udi.eps).describe('clamp for probabilities inside logs'),
        monitor: z.enum(['follower', 'fused']).default(base.udi.monitor).describe("[ours] what the guided stage's early stopping watches on validation: the follower alone, or the fused prediction"),
        gate: z.boolean().default(base.udi.gate).describe('[ours] do-no-harm gate: keep the guided follower only if it beats its own weights from before the guided stage on the monitor'),
      })
      .prefault({})
      .describe('UDI options'),
    fusion: z.enum(['mean', 'entropy', 'validation', 'calibrated', 'head']).default(base.fusion).describe('[ours] late fusion for udi/ensemble: mean of probabilities, entropy-weighted, weights fitted on validation, mean of probabilities temperature-scaled per modality on validation NLL, or a linear head on the frozen features'),
    validationFraction: z.number().gt(0).lt(1).default(base.validationFraction).describe('validation part carved from train when none is given'),
    ogmAlpha: z.number().min(0).default(base.ogmAlpha).describe('OGM-GE modulation strength'),
    umtWeight: z.number().min(0).default(base.umtWeight).describe('UMT distillation weight'),
    dimml: z
      .strictObject({ contrastWeight: z.number().min(0).default(base.dimml.contrastWeight), temperature: z.number().positive().default(base.dimml.temperature) })
      .prefault({})
      .describe('DI-MML contrastive term'),
  })
  .describe('udi train --config FILE.json');

export type TrainConfig = z.output<typeof TrainConfigSchema>;

import { ConfigError } from '../errors.js';
export { ConfigError };

/** Validate a parsed JSON config; the error lists every problem with its path. */
export function parseTrainConfig(input: unknown, file = 'config'): TrainConfig {
  const r = TrainConfigSchema.safeParse(input);
  if (r.success) return r.data;
  throw new ConfigError(`${file} is not a valid training config:\n${issueLines(r.error).join('\n')}`);
}

/** The MethodConfig the trainer takes, for the given modality names. */
export function toMethodConfig(c: TrainConfig, modalities: string[]): MethodConfig {
  const encoders: Record<string, EncoderConfig> = {};
  for (const m of modalities) encoders[m] = (c.encoders?.[m] as EncoderConfig | undefined) ?? { type: 'mlp', hidden: [128, 64] };
  if (c.encoders) for (const m of Object.keys(c.encoders)) if (!modalities.includes(m)) throw new ConfigError(`encoders.${m}: the data has no modality "${m}" (it has ${modalities.join(', ')})`);
  return {
    seed: c.seed,
    init: c.init,
    encoders,
    solo: c.solo,
    guided: c.guided,
    joint: c.joint,
    fusionHead: c.fusionHead,
    udi: c.udi,
    fusion: c.fusion,
    validationFraction: c.validationFraction,
    ogmAlpha: c.ogmAlpha,
    umtWeight: c.umtWeight,
    dimml: c.dimml,
  };
}
