/**
 * Resumable training state as one safetensors file: the flat parameters, both optimiser moments,
 * early stopping's best weights and any cached arrays as tensors; everything else (stages done,
 * the stage in progress, generator states, λ trace) as JSON in the metadata. Non-finite numbers are
 * kept exactly (JSON has no NaN or Infinity).
 *
 * A state file is untrusted input. Decoding validates the metadata against a strict schema (unknown
 * keys are errors, as in the config) and the internal invariants the trainer relies on: a stage's
 * epoch count equals the length of the history it carries, so the trainer's replay of the epochs'
 * shuffles is bounded by the file's own data. `checkResumeState` and `checkStateFitsNet` then check
 * it against the run's config and network. A new memo key or stage state (src/train) needs its
 * schema here.
 */
import { z } from 'zod';
import { DataError } from '../data/dataset.js';
import { METHODS, type TrainState, type MethodConfig } from '../train/methods.js';
import type { MultimodalNet } from '../train/net.js';
import { VERSION } from '../version.js';
import { JOINT_METHODS } from './checkpoint.js';
import { issueLines, parseTrainConfig, type TrainConfig } from './config.js';
import { resolveDataPaths } from './config-file.js';
import { MAX_BUFFER_BYTES } from './files.js';
import { MAX_NAME_LENGTH, RESERVED_NAMES } from './names.js';
import { decodeSafetensors, encodeSafetensors, type Tensor } from './safetensors.js';
import { readSafetensorsFile } from './safetensors-file.js';

const STATE_FORMAT = 'udi-wasm-state/1';

const replacer = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { $num: String(v) } : v);
const reviver = (k: string, v: unknown) => {
  if (k === '__proto__' || k === 'constructor' || k === 'prototype') return undefined;
  if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as { $num?: unknown }).$num === 'string') return Number((v as { $num: string }).$num);
  return v;
};

const vec = (data: Float32Array): Tensor => ({ shape: [data.length], data });

export function encodeState(s: TrainState, config: string): Uint8Array {
  const tensors: Record<string, Tensor> = { 'state.params': vec(s.params), 'state.m': vec(s.m), 'state.v': vec(s.v) };
  const memo: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.memo)) {
    const arrays = v && typeof v === 'object' && Object.values(v).length > 0 && Object.values(v).every((x) => x instanceof Float32Array);
    if (arrays) {
      for (const [name, data] of Object.entries(v as Record<string, Float32Array>)) tensors[`state.memo.${k}.${name}`] = vec(data);
      memo[k] = { $tensors: Object.keys(v as object) };
    } else memo[k] = v;
  }
  let current: unknown = null;
  if (s.current) {
    const { snapshot, ...rest } = s.current;
    for (const [g, data] of Object.entries(snapshot ?? {})) tensors[`state.snapshot.${g}`] = vec(data);
    current = { ...rest, snapshot: snapshot ? Object.keys(snapshot) : null };
  }
  const json = { method: s.method, done: s.done, current, trace: s.trace, memo, rngs: s.rngs.map((r) => Array.from(r)), wallMs: s.wallMs };
  return encodeSafetensors(tensors, { format: STATE_FORMAT, library_version: VERSION, state: JSON.stringify(json, replacer), config });
}

// ---- the schema of the metadata JSON -----------------------------------------------------------

/** Any number, NaN and ±Infinity included (validation figures and λ may be non-finite). */
const anyNumber = z.custom<number>((v) => typeof v === 'number', { message: 'must be a number' });
const finite = z.number().refine(Number.isFinite, { message: 'must be a finite number' });
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const int32 = z
  .number()
  .int()
  .min(-(2 ** 31))
  .max(2 ** 31 - 1);
const name = z
  .string()
  .min(1)
  .max(MAX_NAME_LENGTH)
  .refine((s) => !RESERVED_NAMES.includes(s), { message: 'a reserved name' });
/** A stage: solo:<modality>, guided:<modality>, fusion-head or a joint method's name. */
const stageName = z
  .string()
  .min(1)
  .max('guided:'.length + MAX_NAME_LENGTH);
/**
 * A wall time. The clock a run measures with may step backwards (NTP), so a saved time may be
 * negative: any finite value is a good state, read as at least 0.
 */
const wallMs = finite.transform((v) => Math.max(0, v));
const fraction = finite.min(0).max(1);
const names = (what: string) =>
  z
    .array(name)
    .refine((xs) => new Set(xs).size === xs.length, { message: `lists a ${what} twice` });

const EpochLogSchema = z.object({ stage: stageName, epoch: count, loss: anyNumber, monitor: anyNumber }).catchall(z.union([anyNumber, z.string().max(1000)]));

/** A stage's history: epochs 0, 1, 2, ... of one stage. */
const history = z.array(EpochLogSchema).superRefine((h, ctx) => {
  h.forEach((e, i) => {
    if (e.epoch !== i) ctx.addIssue({ code: 'custom', path: [i, 'epoch'], message: `is ${e.epoch}, but entry ${i} of a history is epoch ${i}` });
    if (e.stage !== h[0].stage) ctx.addIssue({ code: 'custom', path: [i, 'stage'], message: `is "${e.stage}", but the history is of stage "${h[0].stage}"` });
  });
});

const StageResultSchema = z
  .strictObject({ name: stageName, epochs: count, bestEpoch: z.number().int().min(-1), bestMonitor: anyNumber, steps: count, wallMs, stoppedEarly: z.boolean(), history })
  .superRefine((r, ctx) => {
    if (r.history.length !== r.epochs) ctx.addIssue({ code: 'custom', path: ['epochs'], message: `is ${r.epochs}, but the stage's history holds ${r.history.length} epochs` });
    if (r.bestEpoch >= r.epochs) ctx.addIssue({ code: 'custom', path: ['bestEpoch'], message: `is ${r.bestEpoch}, past the ${r.epochs} epochs of the stage` });
    if (r.history.length && r.history[0].stage !== r.name) ctx.addIssue({ code: 'custom', path: ['history', 0, 'stage'], message: `is "${r.history[0].stage}", not the stage's name "${r.name}"` });
  });

/** Closure state of a stage: the UDI controller's weights, or a joint stage's noise generator. */
const ExtraSchema = z.union([z.strictObject({ lambdaCon: finite, lambdaCom: finite, lastCos: finite.nullable() }), z.array(int32).length(4)]).optional();

const StageStateSchema = z
  .strictObject({
    epoch: z.number().int().min(1),
    best: anyNumber,
    bestEpoch: z.number().int().min(-1),
    wait: count,
    steps: count,
    history: history.min(1),
    snapshot: z.array(z.string().regex(/^(enc|head):./, 'must be a parameter group (enc:<modality> or head:<name>)')).refine((xs) => new Set(xs).size === xs.length, { message: 'lists a group twice' }).nullable(),
    extra: ExtraSchema,
    wallMs,
  })
  .superRefine((s, ctx) => {
    // The trainer replays one shuffle per completed epoch: the count must be the history's own length.
    if (s.epoch !== s.history.length) ctx.addIssue({ code: 'custom', path: ['epoch'], message: `is ${s.epoch}, but the stage's history holds ${s.history.length} epochs` });
    if (s.bestEpoch >= s.epoch) ctx.addIssue({ code: 'custom', path: ['bestEpoch'], message: `is ${s.bestEpoch}, past the ${s.epoch} epochs done` });
    if (s.wait > s.epoch) ctx.addIssue({ code: 'custom', path: ['wait'], message: `is ${s.wait}, more than the ${s.epoch} epochs done` });
  });

const MemoSchema = z.strictObject({
  soloAcc: z.record(name, fraction).optional(),
  // The reason quotes the modalities' names and figures: bounded by the header's size limit, not by its own.
  anchor: z.strictObject({ name, reason: z.string(), validation: z.record(name, z.strictObject({ acc: fraction, entropy: finite.min(0) })) }).optional(),
  teachers: z.strictObject({ $tensors: names('modality').min(1) }).optional(),
});

const StateJsonSchema = z.strictObject({
  method: z.enum(METHODS as [string, ...string[]]),
  done: z.array(StageResultSchema),
  current: StageStateSchema.nullable(),
  trace: z.array(z.strictObject({ follower: name, step: count, lambdaCon: anyNumber, lambdaCom: anyNumber, cos: anyNumber })),
  memo: MemoSchema,
  rngs: z.array(z.array(int32).length(4, 'a generator state is 4 whole numbers')),
  wallMs,
});

function stateError(file: string, msg: string): DataError {
  return new DataError('STATE_BAD', `${file}: ${msg}; the file is damaged or was edited: resume from a good copy, or start afresh with udi train --config`);
}

/** A decoded state file: the state, the config text it was saved under, and the library version that saved it (none before versions recorded it). */
export interface SavedState {
  state: TrainState;
  config: string;
  version?: string;
}

export function decodeState(bytes: Uint8Array, file = 'state'): SavedState {
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  const fail = (msg: string) => stateError(file, msg);
  if (metadata.format !== STATE_FORMAT) throw new DataError('STATE_BAD', `${file}: not a udi-wasm training state (format ${JSON.stringify(metadata.format)}, expected ${STATE_FORMAT})`);
  const version = metadata.library_version;
  if (version !== undefined && !/^[0-9A-Za-z.+-]{1,64}$/.test(version)) throw fail('the library version in the metadata ("library_version") is not a version number');
  let raw: unknown;
  try {
    raw = JSON.parse(metadata.state ?? '', reviver);
  } catch {
    throw fail(metadata.state === undefined ? 'the metadata holds no training state ("state")' : 'the state metadata is not valid JSON');
  }
  const r = StateJsonSchema.safeParse(raw);
  if (!r.success) throw fail(`the training state in the metadata is not valid:\n${issueLines(r.error, 'state').join('\n')}\n`);
  const j = r.data;
  const used = new Set<string>();
  const t = (name: string) => {
    const x = tensors[name];
    if (!x) throw fail(`tensor ${name} is missing`);
    if (x.shape.length !== 1) throw fail(`tensor ${name} has shape ${x.shape.join('×')}, a state tensor is a vector`);
    used.add(name);
    return x.data;
  };
  const params = t('state.params'),
    m = t('state.m'),
    v = t('state.v');
  if (m.length !== params.length || v.length !== params.length) throw fail(`the optimiser moments (${m.length} and ${v.length} values) do not match the ${params.length} parameters`);
  const memo: Record<string, unknown> = {};
  if (j.memo.soloAcc) memo.soloAcc = j.memo.soloAcc;
  if (j.memo.anchor) memo.anchor = j.memo.anchor;
  if (j.memo.teachers) memo.teachers = Object.fromEntries(j.memo.teachers.$tensors.map((n) => [n, t(`state.memo.teachers.${n}`)]));
  const current = j.current ? { ...j.current, snapshot: j.current.snapshot ? Object.fromEntries(j.current.snapshot.map((g) => [g, t(`state.snapshot.${g}`)])) : null } : null;
  const extra = Object.keys(tensors).filter((n) => !used.has(n));
  if (extra.length) throw fail(`tensor${extra.length > 1 ? 's' : ''} ${extra.slice(0, 5).join(', ')} ${extra.length > 1 ? 'are' : 'is'} not part of the saved state`);
  return {
    state: { method: j.method as TrainState['method'], done: j.done, current, trace: j.trace, memo, params, m, v, rngs: j.rngs.map((x) => Int32Array.from(x)), wallMs: j.wallMs },
    config: metadata.config ?? '',
    ...(version === undefined ? {} : { version }),
  };
}

/** Read and decode a state file, bounded by what its header declares. */
export async function loadState(file: string): Promise<SavedState> {
  return decodeState(await readSafetensorsFile(file, { what: 'training state', maxBytes: MAX_BUFFER_BYTES }), file);
}

/** The epoch budget of a stage, from its name. */
export function stageBudget(cfg: Pick<MethodConfig, 'solo' | 'guided' | 'joint' | 'fusionHead'>, stage: string): number {
  return (stage.startsWith('solo:') ? cfg.solo : stage.startsWith('guided:') ? cfg.guided : stage === 'fusion-head' ? cfg.fusionHead : cfg.joint).epochs;
}

/**
 * Check a decoded state against the run it is to continue: the method, each stage's epochs against
 * its budget, and every modality it names. Throws RESUME_MISMATCH or STATE_BAD naming `file`.
 */
export function checkResumeState(s: TrainState, o: { file: string; configFile?: string; method: string; cfg: Pick<MethodConfig, 'solo' | 'guided' | 'joint' | 'fusionHead'>; names: readonly string[] }): void {
  const mismatch = (msg: string) =>
    new DataError('RESUME_MISMATCH', `${o.file}: ${msg}; resume with the config the run started with${o.configFile ? ` (${o.configFile})` : ''}, or start afresh with udi train --config`);
  const fail = (msg: string) => stateError(o.file, msg);
  if (s.method !== o.method) throw mismatch(`the saved state is of method ${s.method}, but ${o.configFile ?? 'the config'} says ${o.method}`);
  const known = (what: string, n: string) => {
    if (!o.names.includes(n)) throw fail(`${what} names modality "${n}", which the data does not have (${o.names.join(', ')})`);
  };
  const all = (what: string, keys: string[]) => {
    for (const k of keys) known(what, k);
    for (const n of o.names) if (!keys.includes(n)) throw fail(`${what} has no entry for modality "${n}"`);
  };
  s.done.forEach((r, i) => {
    const budget = stageBudget(o.cfg, r.name);
    if (r.epochs > budget) throw mismatch(`stage ${i} (${r.name}) ran ${r.epochs} epochs, more than the config's budget of ${budget}`);
  });
  if (s.current) {
    const stage = s.current.history[0].stage;
    const budget = stageBudget(o.cfg, stage);
    if (s.current.epoch > budget) throw mismatch(`the stage in progress (${stage}) has done ${s.current.epoch} epochs, more than the config's budget of ${budget}`);
    const want = stage.startsWith('guided:') ? 'object' : JOINT_METHODS.includes(stage) ? 'array' : 'none';
    const got = s.current.extra === undefined ? 'none' : Array.isArray(s.current.extra) ? 'array' : 'object';
    if (want !== got) throw fail(`state.current.extra does not fit stage ${stage}`);
    for (const g of Object.keys(s.current.snapshot ?? {})) {
      const m = g.slice(g.indexOf(':') + 1);
      if (!(g === 'head:joint' || g === 'head:shared')) known(`state.current.snapshot (group ${g})`, m);
    }
  }
  for (const [i, t] of s.trace.entries()) if (!o.names.includes(t.follower)) throw fail(`state.trace.${i}.follower names modality "${t.follower}", which the data does not have (${o.names.join(', ')})`);
  const memo = s.memo as { soloAcc?: Record<string, number>; anchor?: { name: string; validation: Record<string, unknown> }; teachers?: Record<string, Float32Array> };
  if (memo.soloAcc) all('state.memo.soloAcc', Object.keys(memo.soloAcc));
  if (memo.anchor) {
    known('state.memo.anchor.name', memo.anchor.name);
    all('state.memo.anchor.validation', Object.keys(memo.anchor.validation));
  }
  if (memo.teachers) all('state.memo.teachers', Object.keys(memo.teachers));
}

/** The leaves where two parsed configs differ, in the first one's key order (an absent key and undefined are alike). */
function differences(saved: unknown, now: unknown, path: string[] = [], out: { path: string; saved: unknown; now: unknown }[] = []) {
  const record = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (Object.is(saved, now)) return out;
  if (Array.isArray(saved) && Array.isArray(now) && saved.length === now.length) saved.forEach((x, i) => differences(x, now[i], [...path, String(i)], out));
  else if (record(saved) && record(now)) for (const k of new Set([...Object.keys(saved), ...Object.keys(now)])) differences(saved[k], now[k], [...path, k], out);
  else out.push({ path: path.join('.'), saved, now });
  return out;
}

const shown = (v: unknown) => {
  if (v === undefined) return 'not set';
  const j = JSON.stringify(v);
  return j.length > 80 ? `${j.slice(0, 77)}...` : j;
};

/**
 * Check that the run's config is the one its state was saved under, so that resuming continues the
 * run that was interrupted (an edited learning rate, gate or fusion would silently give other
 * weights than an uninterrupted run). The state's copy of the config is parsed with the same schema
 * (defaults filled in) and its paths resolved as `config`'s were (against the folder of
 * `configFile`), then compared field by field. A difference is RESUME_MISMATCH naming the first
 * differing fields, the state file and the library version that saved it; a copy that is not JSON
 * is STATE_BAD. Node/Deno only (paths).
 */
export async function checkResumeConfig(saved: Pick<SavedState, 'config' | 'version'>, config: TrainConfig, o: { file: string; configFile: string; cwd?: string }): Promise<void> {
  const path = await import('node:path');
  const by = `saved by udi-wasm ${saved.version ?? '(an earlier version, which did not record it)'}; this is ${VERSION}`;
  let raw: unknown;
  try {
    raw = JSON.parse(saved.config);
  } catch {
    throw stateError(o.file, saved.config === '' ? 'the metadata holds no config ("config")' : 'the config in the metadata is not valid JSON');
  }
  let theirs: TrainConfig;
  try {
    theirs = parseTrainConfig(raw, 'the config the state was saved under');
  } catch (e) {
    throw new DataError('RESUME_MISMATCH', `${o.file}: ${(e as Error).message}\n(${by}); this version cannot resume the run: start a new run with udi train --config`);
  }
  theirs.data = await resolveDataPaths(theirs.data, path.dirname(path.resolve(o.configFile)), { cwd: o.cwd, warn: () => {} });
  const diff = differences(theirs, config);
  if (diff.length === 0) return;
  const listed = diff.slice(0, 5).map((d) => `${d.path} is ${shown(d.now)} in ${o.configFile}, ${shown(d.saved)} in the state`);
  const more = diff.length > 5 ? `; and ${diff.length - 5} more (${diff.slice(5, 10).map((d) => d.path).join(', ')}${diff.length > 10 ? ', ...' : ''})` : '';
  throw new DataError(
    'RESUME_MISMATCH',
    `${o.file}: the config differs from the one the state was saved under (${by}): ${listed.join('; ')}${more}. ` +
      `Resuming would not continue the same run: restore ${o.configFile} as it was when the run started, or start a new run with udi train --config FILE --out NEW_FOLDER`,
  );
}

/**
 * Check a state against the network it is restored into (after the trainer's own checks of the
 * parameter and generator counts): every early-stopping snapshot has its group's size, and cached
 * teacher features have `trainRows` rows of each modality's feature width. Use it as the
 * `onTrainBegin` callback of a resumed run.
 */
export function checkStateFitsNet(s: TrainState, net: MultimodalNet, o: { file: string; trainRows: number }): void {
  const fail = (msg: string) => stateError(o.file, msg);
  for (const [g, data] of Object.entries(s.current?.snapshot ?? {})) {
    const group = net.store.parameters.some((p) => p.group === g) ? net.store.group(g) : undefined;
    if (!group) throw fail(`state.current.snapshot names parameter group ${g}, which the model does not have`);
    if (group.length !== data.length) throw fail(`the snapshot of group ${g} holds ${data.length} values, the model's group has ${group.length}`);
  }
  const teachers = (s.memo as { teachers?: Record<string, Float32Array> }).teachers;
  for (const [m, data] of Object.entries(teachers ?? {})) {
    const b = net.branches.find((x) => x.name === m);
    if (!b) throw fail(`state.memo.teachers names modality "${m}", which the model does not have`);
    if (data.length !== o.trainRows * b.featureDim) throw fail(`the cached teacher features of "${m}" hold ${data.length} values, expected ${o.trainRows} rows × ${b.featureDim}`);
  }
}
