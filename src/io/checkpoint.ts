/**
 * Checkpoints: a trained model as one safetensors file. Every encoder and head is a tensor named
 * `<group>.<layer>.<weight|bias>` (e.g. `enc.audio.fc0.weight`, `head.image.fc.bias`); the metadata
 * holds the model description (method, modalities, encoders, classes, fusion, the standardisation of
 * raw inputs), the anchor, the library version and a SHA-256 of the tensor bytes, verified on load.
 * A description without `preprocess` records none (a model saved without it): loading it gives a
 * warning, and classify() refuses raw inputs for it. Files are written atomically
 * (a temporary file, then a rename), so an interrupted write never damages the previous checkpoint.
 */
import { z } from 'zod';
import type { Runtime } from '../runtime/runtime.js';
import { DataError, type Standardization } from '../data/dataset.js';
import type { ErrorCode } from '../errors.js';
import { METHODS, type Model } from '../train/methods.js';
import { MultimodalNet, type ModalitySpec } from '../train/net.js';
import { VERSION } from '../version.js';
import { EncoderSchema, issueLines, namedRecord } from './config.js';
import { MAX_NAME_LENGTH, RESERVED_NAMES } from './names.js';
import { decodeSafetensors, encodeSafetensors, type Tensor } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'udi-wasm/1';

const LATE_FUSION = ['mean', 'entropy', 'validation', 'calibrated', 'head'] as const;
/**
 * Methods whose model fuses in its joint head (fusion 'joint'); DI-MML fuses in its fusion head
 * ('head'), the others late. Each trains one stage named after itself (the training state's check
 * of a stage's saved closure state uses this list too).
 */
export const JOINT_METHODS: readonly string[] = ['joint', 'joint+uni', 'ogm-ge', 'mmpareto', 'umt'];
/** Largest |value| of a float32. */
const F32_MAX = 3.4028234663852886e38;

const name = z
  .string()
  .min(1, 'a modality name must not be empty')
  .max(MAX_NAME_LENGTH, `a modality name must be at most ${MAX_NAME_LENGTH} characters`)
  .refine((s) => !RESERVED_NAMES.includes(s), { message: 'a reserved name' });
const finite = z.number().refine(Number.isFinite, { message: 'must be a finite number' });
const nameList = z.array(name).min(1);

/**
 * The model description in a checkpoint's metadata, validated as strictly as the training config:
 * unknown keys are errors, every number is checked, and the parts must agree with each other (the
 * fused modalities are modalities of the model, standardisation vectors have the modality's length,
 * the fusion fits the method and carries its weights or temperatures).
 */
const ModelDescriptionSchema = z
  .strictObject({
    method: z.enum(METHODS as [string, ...string[]]),
    modalities: z.array(z.strictObject({ name, dim: z.number().int().positive().max(2 ** 31 - 1), encoder: EncoderSchema })).min(1),
    fused: nameList,
    classes: z.number().int().min(2).max(2 ** 31 - 1),
    seed: z.number().int(),
    fusion: z.enum([...LATE_FUSION, 'joint']),
    fusionWeights: namedRecord(finite.min(0, 'a fusion weight must be >= 0')).optional(),
    fusionTemperatures: namedRecord(finite.positive('a temperature must be > 0')).optional(),
    anchor: name.optional(),
    preprocess: namedRecord(
      z.strictObject({
        mean: z.array(finite.refine((v) => Math.abs(v) <= F32_MAX, { message: 'is outside the float32 range' })),
        std: z.array(finite.min(1e-8, 'a standard deviation must be >= 1e-8 (a constant feature has std 1)')),
      }),
    ).optional(),
  })
  .superRefine((d, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const names = d.modalities.map((m) => m.name);
    const dims = new Map(d.modalities.map((m) => [m.name, m.dim]));
    names.forEach((n, i) => names.indexOf(n) !== i && issue(['modalities', i, 'name'], `modality "${n}" is listed twice`));
    const unknown = (path: (string | number)[], n: string) => !dims.has(n) && issue(path, `"${n}" is not a modality of the model (${names.join(', ')})`);
    d.fused.forEach((n, i) => {
      unknown(['fused', i], n);
      if (d.fused.indexOf(n) !== i) issue(['fused', i], `"${n}" is listed twice`);
    });
    if (d.anchor !== undefined) unknown(['anchor'], d.anchor);
    for (const [m, p] of Object.entries(d.preprocess ?? {})) {
      unknown(['preprocess', m], m);
      const dim = dims.get(m);
      if (dim === undefined) continue;
      if (p.mean.length !== dim) issue(['preprocess', m, 'mean'], `has ${p.mean.length} values, modality "${m}" has ${dim} features`);
      if (p.std.length !== dim) issue(['preprocess', m, 'std'], `has ${p.std.length} values, modality "${m}" has ${dim} features`);
    }
    const want: readonly string[] = d.method === 'di-mml' ? ['head'] : JOINT_METHODS.includes(d.method) ? ['joint'] : d.method === 'unimodal' ? ['mean'] : LATE_FUSION;
    if (!want.includes(d.fusion)) issue(['fusion'], `a ${d.method} model fuses with ${want.map((w) => `"${w}"`).join(' or ')}, not "${d.fusion}"`);
    if (d.method === 'unimodal' && d.fused.length !== 1) issue(['fused'], `a unimodal model predicts from one modality, not ${d.fused.length}`);
    if ((d.fusion === 'joint' || d.fusion === 'head') && !(d.fused.length === names.length && names.every((n) => d.fused.includes(n)))) issue(['fused'], `fusion "${d.fusion}" uses every modality (${names.join(', ')})`);
    const perFused = (key: 'fusionWeights' | 'fusionTemperatures', kind: string) => {
      const r = d[key];
      if (d.fusion !== kind) {
        if (r !== undefined) issue([key], `only fusion "${kind}" has ${key}, this model fuses with "${d.fusion}"`);
        return;
      }
      if (r === undefined) return issue([key], `fusion "${kind}" needs one value per fused modality (${d.fused.join(', ')})`);
      for (const m of Object.keys(r)) if (!d.fused.includes(m)) issue([key, m], `"${m}" is not a fused modality (${d.fused.join(', ')})`);
      for (const m of d.fused) if (r[m] === undefined) issue([key], `no value for fused modality "${m}"`);
    };
    perFused('fusionWeights', 'validation');
    perFused('fusionTemperatures', 'calibrated');
    if (d.fusionWeights && !(d.fused.reduce((s, m) => s + (d.fusionWeights![m] ?? 0), 0) > 0)) issue(['fusionWeights'], 'the weights of the fused modalities sum to 0');
  });

/** SHA-256 (hex) of the metadata entries other than the checksums, in key order (the checkpoint's `metadata_sha256`). */
export async function metadataDigest(metadata: Record<string, string>): Promise<string> {
  const entries = Object.keys(metadata)
    .filter((k) => k !== 'sha256' && k !== 'metadata_sha256')
    .sort()
    .map((k) => [k, metadata[k]]);
  return sha256(new TextEncoder().encode(JSON.stringify(entries)));
}

export interface ModelDescription {
  method: Model['method'];
  modalities: ModalitySpec[];
  /** Modalities the fused prediction uses (e.g. the best one alone for 'unimodal'). */
  fused: string[];
  classes: number;
  seed: number;
  fusion: Model['fusion'];
  fusionWeights?: Record<string, number>;
  /** Fusion 'calibrated': each modality's temperature. */
  fusionTemperatures?: Record<string, number>;
  anchor?: string;
  /**
   * Standardisation of raw inputs (training statistics), applied before prediction; `{}` when the
   * model takes raw inputs; absent when the model was saved without it (not recorded).
   */
  preprocess?: Record<string, { mean: number[]; std: number[] }>;
}

/** A loaded checkpoint: the model, its description and metadata, and what the caller should know. */
export interface LoadedModel {
  model: Model;
  description: ModelDescription;
  metadata: Record<string, string>;
  /**
   * Problems that do not stop loading but may make predictions wrong, one sentence each; today only
   * a checkpoint that does not record the standardisation of its inputs.
   */
  warnings: string[];
}

export const tensorName = (group: string, name: string) => `${group.replace(':', '.')}.${name}`;

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

function dataSection(bytes: Uint8Array): Uint8Array {
  const h = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  return bytes.subarray(8 + h);
}

/**
 * The model as safetensors bytes (extra metadata entries may be added, e.g. the training state). The
 * standardisation stored is `opts.preprocess` if given, else the model's own (Model.preprocess), for
 * the model's modalities; a model with neither is saved as not recording it.
 */
export async function serializeModel(model: Model, opts: { anchor?: string; preprocess?: Standardization; extra?: Record<string, string> } = {}): Promise<Uint8Array> {
  const { net } = model;
  const tensors: Record<string, Tensor> = {};
  for (const p of net.store.parameters) {
    const data = net.rt.arena.read(net.store.paramOf(p));
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new DataError('CKPT_NON_FINITE', `refusing to save: parameter ${tensorName(p.group, p.name)} holds ${data[bad]} at index ${bad} (the training diverged)`);
    tensors[tensorName(p.group, p.name)] = { shape: [...p.shape], data };
  }
  const pre = opts.preprocess ?? model.preprocess;
  const description: ModelDescription = {
    method: model.method,
    modalities: net.specs,
    fused: model.modalities,
    classes: net.classes,
    seed: net.seed,
    fusion: model.fusion,
    fusionWeights: model.fusionWeights,
    fusionTemperatures: model.fusionTemperatures,
    anchor: opts.anchor,
    preprocess: pre && Object.fromEntries(Object.entries(pre).filter(([m]) => net.specs.some((s) => s.name === m)).map(([m, s]) => [m, { mean: Array.from(s.mean), std: Array.from(s.std) }])),
  };
  // Never write a checkpoint that would not load (e.g. statistics of another width than the modality).
  const valid = ModelDescriptionSchema.safeParse(description);
  if (!valid.success) throw new DataError('CKPT_MODEL', `refusing to save: the model description is not valid:\n${issueLines(valid.error, 'model').join('\n')}`);
  // Two passes: the checksum covers the tensor bytes, which do not depend on the metadata.
  const draft = encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT });
  const digest = await sha256(dataSection(draft));
  // metadata_sha256 covers every other metadata entry (the model description included).
  const metadata: Record<string, string> = { ...opts.extra, format: CHECKPOINT_FORMAT, library_version: VERSION, model: JSON.stringify(description), sha256: digest };
  return encodeSafetensors(tensors, { ...metadata, metadata_sha256: await metadataDigest(metadata) });
}

/**
 * Rebuild a model from checkpoint bytes: validates the format, the checksum and every tensor against
 * the description. `maxBatch`: rows predicted at a time (default 32, which keeps a model that predicts
 * a few samples small; 256 predicts large sets faster on 2 threads, at about 11.6 KB of WebAssembly
 * memory per row for an AV-MNIST-sized MLP model: 64 rows took 0.6 MiB more than 10).
 */
export async function deserializeModel(rt: Runtime, bytes: Uint8Array, file = "checkpoint", maxBatch = 32): Promise<LoadedModel> {
  if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) throw new RangeError(`deserializeModel: maxBatch (rows predicted at a time) must be a whole number >= 1, got ${maxBatch}`);
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  const fail = (code: ErrorCode, msg: string) => new DataError(code, `${file}: ${msg}`);
  if (metadata.format !== CHECKPOINT_FORMAT) throw fail('CKPT_FORMAT', `not a udi-wasm checkpoint (metadata format ${JSON.stringify(metadata.format)}, expected ${CHECKPOINT_FORMAT})`);
  if (metadata.sha256 !== (await sha256(dataSection(bytes)))) throw fail('CKPT_CHECKSUM', 'the tensor data does not match its SHA-256: the file is damaged');
  // Checkpoints written before metadata_sha256 existed carry none; their description is still validated below.
  if (metadata.metadata_sha256 !== undefined && metadata.metadata_sha256 !== (await metadataDigest(metadata))) throw fail('CKPT_CHECKSUM', 'the metadata (model description) does not match its SHA-256: the file is damaged or was edited');
  let raw: unknown;
  try {
    raw = JSON.parse(metadata.model ?? '');
  } catch {
    throw fail('CKPT_MODEL', metadata.model === undefined ? 'the metadata holds no model description ("model")' : 'the model description in the metadata is not valid JSON');
  }
  const parsed = ModelDescriptionSchema.safeParse(raw);
  if (!parsed.success) throw fail('CKPT_MODEL', `the model description in the metadata is not valid:\n${issueLines(parsed.error, 'model').join('\n')}`);
  const d = parsed.data as ModelDescription;
  // A checkpoint that fails below gives its WebAssembly memory back (nothing else is allocated meanwhile).
  const mark = rt.arena.mark();
  const failed = (code: ErrorCode, msg: string) => {
    rt.arena.release(mark);
    return fail(code, msg);
  };
  let net: MultimodalNet;
  try {
    // A loaded model only infers: `maxBatch` rows of forward buffers, one row of training's.
    net = new MultimodalNet(rt, d.modalities, d.classes, 1, d.seed, maxBatch);
  } catch (e) {
    throw failed('CKPT_MODEL', `the model description cannot be built: ${(e as Error).message}`);
  }
  const expected = new Set<string>();
  for (const p of net.store.parameters) {
    const name = tensorName(p.group, p.name);
    expected.add(name);
    const t = tensors[name];
    if (!t) throw failed('CKPT_TENSORS', `tensor ${name} (shape ${p.shape.join('×')}) is missing`);
    if (t.shape.length !== p.shape.length || t.shape.some((x, i) => x !== p.shape[i])) throw failed('CKPT_TENSORS', `tensor ${name} has shape ${t.shape.join('×')}, the model needs ${p.shape.join('×')}`);
    for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(t.data[i])) throw failed('CKPT_TENSORS', `tensor ${name} holds a non-finite value at index ${i}`);
    rt.arena.viewF32(net.store.paramOf(p)).set(t.data);
  }
  const unknown = Object.keys(tensors).filter((n) => !expected.has(n) && !n.startsWith('state.'));
  if (unknown.length) throw failed('CKPT_TENSORS', `tensors ${unknown.slice(0, 5).join(', ')} do not belong to the described model`);
  const model: Model = { net, method: d.method, modalities: d.fused, fusion: d.fusion, fusionWeights: d.fusionWeights, fusionTemperatures: d.fusionTemperatures };
  const warnings: string[] = [];
  if (d.preprocess) model.preprocess = preprocessOf(d);
  else {
    warnings.push(
      `${file} does not record how the model's inputs were standardised (it was saved from a model trained without train()'s preprocess or standardize option, and without saveModel's preprocess): ` +
        "classify() and evaluate() refuse raw inputs for it. Give inputs standardised as in training with { inputs: 'preprocessed' }, or set model.preprocess (to the training statistics, or to {} if the model takes raw features) and save it again",
    );
  }
  return { model, description: d, metadata, warnings };
}

/** The standardisation stored in a checkpoint, as applyStandardize takes it. */
export function preprocessOf(d: ModelDescription): Standardization {
  const out: Standardization = {};
  for (const [m, s] of Object.entries(d.preprocess ?? {})) out[m] = { mean: Float64Array.from(s.mean), std: Float64Array.from(s.std) };
  return out;
}
