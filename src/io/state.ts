/**
 * Resumable training state as one safetensors file: the flat parameters, both optimiser moments,
 * early stopping's best weights and any cached arrays as tensors; everything else (stages done,
 * the stage in progress, generator states, λ trace) as JSON in the metadata. Non-finite numbers are
 * kept exactly (JSON has no NaN or Infinity).
 */
import { DataError } from '../data/dataset.js';
import type { TrainState } from '../train/methods.js';
import { decodeSafetensors, encodeSafetensors, type Tensor } from './safetensors.js';

export const STATE_FORMAT = 'udi-wasm-state/1';

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
  return encodeSafetensors(tensors, { format: STATE_FORMAT, state: JSON.stringify(json, replacer), config });
}

export function decodeState(bytes: Uint8Array, file = 'state'): { state: TrainState; config: string } {
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  const fail = (msg: string) => new DataError('STATE_BAD', `${file}: ${msg}`);
  if (metadata.format !== STATE_FORMAT) throw fail(`not a udi-wasm training state (format ${JSON.stringify(metadata.format)})`);
  let j: {
    method: TrainState['method'];
    done: TrainState['done'];
    current: (Omit<NonNullable<TrainState['current']>, 'snapshot'> & { snapshot: string[] | null }) | null;
    trace: TrainState['trace'];
    memo: Record<string, unknown>;
    rngs: number[][];
    wallMs: number;
  };
  try {
    j = JSON.parse(metadata.state ?? '', reviver);
  } catch {
    throw fail('the state metadata is not valid JSON');
  }
  const t = (name: string) => {
    const x = tensors[name];
    if (!x) throw fail(`tensor ${name} is missing`);
    return x.data;
  };
  const memo: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(j.memo ?? {})) {
    const names = (v as { $tensors?: string[] } | null)?.$tensors;
    memo[k] = names ? Object.fromEntries(names.map((n) => [n, t(`state.memo.${k}.${n}`)])) : v;
  }
  const current = j.current ? { ...j.current, snapshot: j.current.snapshot ? Object.fromEntries(j.current.snapshot.map((g) => [g, t(`state.snapshot.${g}`)])) : null } : null;
  return {
    state: { method: j.method, done: j.done, current, trace: j.trace, memo, params: t('state.params'), m: t('state.m'), v: t('state.v'), rngs: j.rngs.map((r) => Int32Array.from(r)), wallMs: j.wallMs },
    config: metadata.config ?? '',
  };
}
