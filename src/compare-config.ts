/**
 * `udi compare --config FILE.json`: the schema of a compare config (the data, the compare-only
 * fields, and the training settings every run shares, which are `udi train`'s own fields), and
 * reading it from a file.
 */
import { z } from 'zod';
import { readJsonInput } from './io/files.js';
import { ConfigError, DataSchema, issueLines, type TrainConfig, TrainConfigSchema } from './io/config.js';
import { resolveDataPaths } from './io/config-file.js';
import { METHODS, type Method } from './train/methods.js';

/** The training fields of TrainConfigSchema a compare config takes (listed once: the schema, the type and compareSettings read it). */
const SETTINGS = { encoders: true, solo: true, guided: true, joint: true, fusionHead: true, udi: true, fusion: true, validationFraction: true, ogmAlpha: true, umtWeight: true, dimml: true } as const;

/** The training settings shared by every run of a comparison. */
export type CompareSettings = Pick<TrainConfig, keyof typeof SETTINGS>;

/** The training settings of a parsed compare config (its compare-only fields dropped). */
export function compareSettings(cfg: CompareConfig): CompareSettings {
  return Object.fromEntries(Object.keys(SETTINGS).flatMap((k) => (k in cfg ? [[k, cfg[k as keyof CompareSettings]]] : []))) as CompareSettings;
}

const positiveInt = z.number().int().positive();
type DataOption = (typeof DataSchema.options)[number];
const dataKind = <K extends DataOption['shape']['kind']['value']>(kind: K) => DataSchema.options.find((x) => x.shape.kind.value === kind) as Extract<DataOption, { shape: { kind: z.ZodLiteral<K> } }>;

const CompareDataSchema = z
  .discriminatedUnion('kind', [
    dataKind('avmnist').omit({ fold: true }),
    dataKind('mfeat').omit({ fold: true }),
    dataKind('manifest').extend({
      test: z.string().optional().describe('manifest of a separate test set: then there is one fold, 0 (default: a stratified test split per fold)'),
      splits: positiveInt.default(5).describe('how many seeded stratified test splits folds "all" runs (fold f: seed 1000 + f)'),
      testFraction: z.number().gt(0).lt(1).default(0.2).describe('fraction of every class each split holds out for test'),
      modalities: z.array(z.string()).min(1).optional().describe('modalities to compare on (default: every modality of the manifest)'),
    }),
  ])
  .describe('the data compared on; relative paths resolve against the config file');

/**
 * `udi compare --config FILE.json`: the data and the training settings shared by every run. The
 * training fields are `udi train`'s (TrainConfigSchema), so both accept the same options.
 */
const CompareConfigSchema = TrainConfigSchema.pick(SETTINGS)
  .extend({
    data: CompareDataSchema.optional(),
    methods: z.array(z.enum(METHODS as [Method, ...Method[]])).min(1).optional().describe('methods to compare (default: all); --methods overrides'),
    reference: z.array(z.enum(METHODS as [Method, ...Method[]])).optional().describe('paired differences against each of these (default: ensemble and unimodal, when run); --reference overrides'),
    seeds: positiveInt.optional().describe('seeds per fold, 0..N-1 (default 3); --seeds overrides'),
    folds: z
      .union([z.literal('all'), z.array(z.number().int().min(0)).min(1)])
      .optional()
      .describe('"all" (default: AV-MNIST B 0-5, A/C 0, mfeat 0, manifest 0..splits-1) or a list of folds; --folds overrides'),
    jobs: z.union([z.literal('auto'), positiveInt]).optional().describe('runs in parallel, one process each (default "auto" = cores); --jobs overrides'),
    out: z.string().optional().describe('folder for results.json, results.md and report.html; --out overrides'),
  })
  .describe('udi compare --config FILE.json');

export type CompareConfig = z.output<typeof CompareConfigSchema>;

/** Validate a parsed compare config; the error names the path of every problem (unknown keys by their full path). */
export function parseCompareConfig(input: unknown, file = 'config'): CompareConfig {
  const r = CompareConfigSchema.safeParse(input);
  if (r.success) return r.data;
  throw new ConfigError(`${file} is not a valid compare config:\n${issueLines(r.error).join('\n')}`);
}

/**
 * Read, validate and resolve a compare config file: relative paths resolve against its folder, the
 * data's as `udi train` resolves them (resolveDataPaths), and out.
 */
export async function loadCompareConfig(file: string): Promise<CompareConfig> {
  const path = await import('node:path');
  const c = parseCompareConfig(await readJsonInput(file, { what: 'config' }), file);
  const dir = path.dirname(path.resolve(file));
  if (c.data) c.data = await resolveDataPaths(c.data, dir, { file });
  if (c.out !== undefined) c.out = path.resolve(dir, c.out);
  return c;
}

