/**
 * The training config: one JSON file covering data, modalities, encoders, optimiser, schedule and
 * UDI options. This schema is the single source of truth: the CLI validates with it, library users
 * import it, and the README's config reference is generated from it (scripts/config-docs.ts). The
 * training settings and their defaults are ../train/config.ts's SettingsSchema.
 * Unknown keys are errors; every option has a documented default.
 */
import { z } from 'zod';
import { SettingsSchema, settingsOf } from '../train/config.js';
import { METHODS, type MethodConfig } from '../train/types.js';
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

const { seed, init, ...settings } = SettingsSchema.shape;

/** The settings (../train/config.ts, every default there) with the data, the method and the encoders. */
export const TrainConfigSchema = z
  .strictObject({
    data: DataSchema,
    method: z.enum(METHODS as [string, ...string[]]).default('udi').describe('the method to train'),
    seed,
    init,
    encoders: namedRecord(EncoderSchema).optional().describe('encoder per modality name (default: MLP 128-64 for each)'),
    ...settings,
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

/** The MethodConfig the trainer takes, for the given modality names (the config's settings as they are, and its encoders). */
export function toMethodConfig(c: TrainConfig, modalities: string[]): MethodConfig {
  const encoders: Record<string, EncoderConfig> = {};
  for (const m of modalities) encoders[m] = (c.encoders?.[m] as EncoderConfig | undefined) ?? { type: 'mlp', hidden: [128, 64] };
  if (c.encoders) for (const m of Object.keys(c.encoders)) if (!modalities.includes(m)) throw new ConfigError(`encoders.${m}: the data has no modality "${m}" (it has ${modalities.join(', ')})`);
  const { seed, init, ...rest } = settingsOf(c);
  return { seed, init, encoders, ...rest } as MethodConfig;
}
