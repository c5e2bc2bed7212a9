/**
 * Checkpoints: a trained model as one safetensors file. Every encoder and head is a tensor named
 * `<group>.<layer>.<weight|bias>` (e.g. `enc.audio.fc0.weight`, `head.image.fc.bias`); the metadata
 * holds the model description (method, modalities, encoders, classes, fusion), the anchor, the
 * library version and a SHA-256 of the tensor bytes, verified on load. Files are written atomically
 * (a temporary file, then a rename), so an interrupted write never damages the previous checkpoint.
 */
import type { Runtime } from '../runtime/runtime.js';
import { DataError, type Standardization } from '../data/dataset.js';
import type { Model } from '../train/methods.js';
import { MultimodalNet, type ModalitySpec } from '../train/net.js';
import { VERSION } from '../version.js';
import { decodeSafetensors, encodeSafetensors, type Tensor } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'udi-wasm/1';

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
  /** Standardisation of raw inputs (training statistics), applied before prediction. */
  preprocess?: Record<string, { mean: number[]; std: number[] }>;
}

const tensorName = (group: string, name: string) => `${group.replace(':', '.')}.${name}`;

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

function dataSection(bytes: Uint8Array): Uint8Array {
  const h = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  return bytes.subarray(8 + h);
}

/** The model as safetensors bytes (extra metadata entries may be added, e.g. the training state). */
export async function serializeModel(model: Model, opts: { anchor?: string; preprocess?: Standardization; extra?: Record<string, string> } = {}): Promise<Uint8Array> {
  const { net } = model;
  const tensors: Record<string, Tensor> = {};
  for (const p of net.store.parameters) {
    const data = net.rt.arena.read(net.store.paramOf(p));
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new DataError('CKPT_NON_FINITE', `refusing to save: parameter ${tensorName(p.group, p.name)} holds ${data[bad]} at index ${bad} (the training diverged)`);
    tensors[tensorName(p.group, p.name)] = { shape: [...p.shape], data };
  }
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
    preprocess: opts.preprocess && Object.fromEntries(Object.entries(opts.preprocess).map(([m, s]) => [m, { mean: Array.from(s.mean), std: Array.from(s.std) }])),
  };
  // Two passes: the checksum covers the tensor bytes, which do not depend on the metadata.
  const draft = encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT });
  const digest = await sha256(dataSection(draft));
  return encodeSafetensors(tensors, { ...opts.extra, format: CHECKPOINT_FORMAT, library_version: VERSION, model: JSON.stringify(description), sha256: digest });
}

/** Rebuild a model from checkpoint bytes: validates the format, the checksum and every tensor against the description. */
export async function deserializeModel(rt: Runtime, bytes: Uint8Array, file = "checkpoint", maxBatch = 32): Promise<{ model: Model; description: ModelDescription; metadata: Record<string, string> }> {
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  const fail = (code: string, msg: string) => new DataError(code, `${file}: ${msg}`);
  if (metadata.format !== CHECKPOINT_FORMAT) throw fail('CKPT_FORMAT', `not a udi-wasm checkpoint (metadata format ${JSON.stringify(metadata.format)}, expected ${CHECKPOINT_FORMAT})`);
  if (metadata.sha256 !== (await sha256(dataSection(bytes)))) throw fail('CKPT_CHECKSUM', 'the tensor data does not match its SHA-256: the file is damaged');
  let d: ModelDescription;
  try {
    d = JSON.parse(metadata.model ?? '', (k, v) => (k === '__proto__' || k === 'constructor' || k === 'prototype' ? undefined : v));
  } catch {
    throw fail('CKPT_MODEL', 'the model description in the metadata is not valid JSON');
  }
  if (!d || !Array.isArray(d.modalities) || d.modalities.length === 0 || !Number.isInteger(d.classes)) throw fail('CKPT_MODEL', 'the model description lacks modalities or classes');
  let net: MultimodalNet;
  try {
    net = new MultimodalNet(rt, d.modalities, d.classes, maxBatch, d.seed ?? 0);
  } catch (e) {
    throw fail('CKPT_MODEL', `the model description cannot be built: ${(e as Error).message}`);
  }
  const expected = new Set<string>();
  for (const p of net.store.parameters) {
    const name = tensorName(p.group, p.name);
    expected.add(name);
    const t = tensors[name];
    if (!t) throw fail('CKPT_TENSORS', `tensor ${name} (shape ${p.shape.join('×')}) is missing`);
    if (t.shape.length !== p.shape.length || t.shape.some((x, i) => x !== p.shape[i])) throw fail('CKPT_TENSORS', `tensor ${name} has shape ${t.shape.join('×')}, the model needs ${p.shape.join('×')}`);
    for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(t.data[i])) throw fail('CKPT_TENSORS', `tensor ${name} holds a non-finite value at index ${i}`);
    rt.arena.viewF32(net.store.paramOf(p)).set(t.data);
  }
  const unknown = Object.keys(tensors).filter((n) => !expected.has(n) && !n.startsWith('state.'));
  if (unknown.length) throw fail('CKPT_TENSORS', `tensors ${unknown.slice(0, 5).join(', ')} do not belong to the described model`);
  const model: Model = { net, method: d.method, modalities: d.fused, fusion: d.fusion, fusionWeights: d.fusionWeights, fusionTemperatures: d.fusionTemperatures };
  return { model, description: d, metadata };
}

/** Write bytes to `file` atomically (Node/Deno): a temporary file in the same folder, then a rename. */
export async function writeFileAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    const h = await fs.open(tmp, 'w');
    try {
      await h.writeFile(bytes);
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

export async function saveModel(model: Model, file: string, opts: Parameters<typeof serializeModel>[1] = {}): Promise<void> {
  await writeFileAtomic(file, await serializeModel(model, opts));
}

/** The standardisation stored in a checkpoint, as applyStandardize takes it. */
export function preprocessOf(d: ModelDescription): Standardization {
  const out: Standardization = {};
  for (const [m, s] of Object.entries(d.preprocess ?? {})) out[m] = { mean: Float64Array.from(s.mean), std: Float64Array.from(s.std) };
  return out;
}

export async function loadModel(rt: Runtime, file: string): Promise<{ model: Model; description: ModelDescription; metadata: Record<string, string> }> {
  const fs = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await fs.readFile(file));
  } catch {
    throw new DataError('MISSING_FILE', `checkpoint ${file} does not exist`);
  }
  return deserializeModel(rt, bytes, file);
}
