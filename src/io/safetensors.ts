/**
 * safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header length,
 * a JSON header { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": { string: string } },
 * then the raw little-endian tensor bytes. Readable by PyTorch, Rust and JS tools. Only F32 tensors
 * are written; reading validates every field and caps the header size.
 */
import { DataError } from '../data/dataset.js';
import type { ErrorCode } from '../errors.js';
import { float32LE } from './bytes.js';

export const MAX_HEADER_BYTES = 16 * 1024 * 1024;

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const t = tensors[name];
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new DataError('BAD_SHAPE', `tensor ${name}: shape ${t.shape.join('×')} holds ${n} values, data has ${t.data.length}`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (allowed by the format).
  while ((8 + new TextEncoder().encode(json).byteLength) % 8 !== 0) json += ' ';
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.byteLength + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(head.byteLength), true);
  out.set(head, 8);
  let at = 8 + head.byteLength;
  for (const name of names) {
    const d = tensors[name].data;
    for (let i = 0; i < d.length; i++) dv.setFloat32(at + 4 * i, d[i], true);
    at += 4 * d.length;
  }
  return out;
}

/** The header's length from a file's first 8 bytes, checked against the limit and the file's size. */
export function headerLength(first8: Uint8Array, size: number, fail: (code: ErrorCode, msg: string) => Error): number {
  const hlen = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (hlen > BigInt(MAX_HEADER_BYTES)) throw fail('ST_HEADER_TOO_LARGE', `header of ${hlen} bytes is larger than the ${MAX_HEADER_BYTES}-byte limit`);
  const h = Number(hlen);
  if (8 + h > size) throw fail('ST_TRUNCATED', `header of ${h} bytes runs past the end of the file (${size} bytes)`);
  return h;
}

/** The header's JSON (strict UTF-8). */
export function parseHeader(bytes: Uint8Array, fail: (code: ErrorCode, msg: string) => Error): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw fail('ST_BAD_HEADER', `the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
}

export function decodeSafetensors(bytes: Uint8Array, file = 'checkpoint'): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const fail = (code: ErrorCode, msg: string) => new DataError(code, `${file}: ${msg}`);
  if (bytes.byteLength < 8) throw fail('ST_TRUNCATED', `${bytes.byteLength} bytes is too short for a safetensors file (8-byte header length first)`);
  const h = headerLength(bytes, bytes.byteLength, fail);
  const header = parseHeader(bytes.subarray(8, 8 + h), fail);
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('ST_BAD_HEADER', 'the header must be a JSON object');
  const dataStart = 8 + h;
  const dataLen = bytes.byteLength - dataStart;
  const tensors: Record<string, Tensor> = Object.create(null);
  let metadata: Record<string, string> = Object.create(null);
  const spans: [number, number, string][] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail('ST_BAD_HEADER', '__metadata__ must be an object of strings');
      const m: Record<string, string> = Object.create(null);
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== 'string') throw fail('ST_BAD_HEADER', `__metadata__.${k} must be a string`);
        m[k] = s;
      }
      metadata = m;
      continue;
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== 'object' || t === null) throw fail('ST_BAD_HEADER', `tensor ${name}: entry must be an object`);
    if (t.dtype !== 'F32') throw fail('ST_BAD_DTYPE', `tensor ${name}: dtype ${JSON.stringify(t.dtype)} is not supported (udi-wasm reads F32)`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0 && d < 2 ** 31)) throw fail('ST_BAD_HEADER', `tensor ${name}: shape must be a list of whole numbers`);
    const n = (t.shape as number[]).reduce((a, b) => a * b, 1);
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isInteger(x) && x >= 0)) throw fail('ST_BAD_HEADER', `tensor ${name}: data_offsets must be [begin, end]`);
    const [b, e] = off as [number, number];
    if (e < b || e > dataLen) throw fail('ST_BAD_OFFSETS', `tensor ${name}: data_offsets [${b}, ${e}] lie outside the ${dataLen} data bytes`);
    if (e - b !== 4 * n) throw fail('ST_BAD_OFFSETS', `tensor ${name}: shape ${(t.shape as number[]).join('×')} needs ${4 * n} bytes, data_offsets span ${e - b}`);
    spans.push([b, e, name]);
    tensors[name] = { shape: [...(t.shape as number[])], data: float32LE(bytes, dataStart + b, n) };
  }
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  for (let i = 1; i < spans.length; i++) if (spans[i][0] < spans[i - 1][1]) throw fail('ST_BAD_OFFSETS', `tensors ${spans[i - 1][2]} and ${spans[i][2]} overlap`);
  // As the reference implementation: the tensors cover the data section exactly, without gaps.
  let end = 0;
  for (const [b, e, name] of spans) {
    if (b !== end) throw fail('ST_BAD_OFFSETS', `tensor ${name} starts at data byte ${b}, but the previous tensor ends at ${end}: the data section has a gap`);
    end = e;
  }
  if (end !== dataLen) throw fail('ST_BAD_OFFSETS', `the tensors cover ${end} data bytes, but the file holds ${dataLen} after the header`);
  return { tensors, metadata };
}

