/**
 * IDX reader (the MNIST file format), optionally gzip-compressed. The header is the magic
 * 0x00 0x00 typecode ndims, then ndims big-endian u32 dimensions, then the values big-endian and
 * row-major. Gzip input (magic 1f 8b) is decompressed with the web-standard DecompressionStream, so
 * this runs in Node 20+, Deno, Bun and browsers. Errors are DataErrors naming the file; sizes are
 * checked before anything is allocated, and decompression stops as soon as the output is longer
 * than the header promises.
 */
import { DataError } from './dataset.js';
import { withInput } from '../io/files.js';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface Idx {
  dims: number[];
  data: IdxData;
}

interface IdxType {
  name: string;
  size: number;
}

const TYPES: Record<number, IdxType> = {
  0x08: { name: 'unsigned byte', size: 1 },
  0x09: { name: 'signed byte', size: 1 },
  0x0b: { name: 'short (i16)', size: 2 },
  0x0c: { name: 'int (i32)', size: 4 },
  0x0d: { name: 'float (f32)', size: 4 },
  0x0e: { name: 'double (f64)', size: 8 },
};
const SUPPORTED_TYPES = '0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double';

/** At most 2^31 elements, and at most 2^31 bytes of data. */
const IDX_MAX_ELEMENTS = 2 ** 31;
const IDX_MAX_BYTES = 2 ** 31;

interface Header {
  type: number;
  dims: number[];
  headerBytes: number;
  dataBytes: number;
}

const hex = (b: number) => b.toString(16).padStart(2, '0');
const shapeOf = (dims: number[]) => dims.join('×');

/**
 * Parse the header from the first bytes of the (decompressed) file. Returns null when more bytes
 * are needed and `final` is false; throws a DataError when the header is invalid or, with
 * `final`, incomplete.
 */
function readHeader(bytes: Uint8Array, file: string, final: boolean): Header | null {
  const len = bytes.length;
  if ((len > 0 && bytes[0] !== 0) || (len > 1 && bytes[1] !== 0)) {
    const found = Array.from(bytes.subarray(0, 4), hex).join(' ');
    throw new DataError('IDX_BAD_MAGIC', `${file}: not an IDX file: the first bytes are ${found}, but an IDX file starts 00 00 <type> <ndims>`);
  }
  if (len < 4) {
    if (!final) return null;
    throw new DataError('IDX_TRUNCATED', `${file}: the file is truncated: ${len} bytes, but the IDX magic alone takes 4`);
  }
  const type = bytes[2];
  const ndims = bytes[3];
  if (!TYPES[type]) throw new DataError('IDX_BAD_TYPE', `${file}: unknown IDX type code 0x${hex(type)} (magic ${Array.from(bytes.subarray(0, 4), hex).join(' ')}); supported: ${SUPPORTED_TYPES}`);
  if (ndims === 0) throw new DataError('IDX_BAD_DIMS', `${file}: the header declares 0 dimensions; an IDX file needs at least 1`);
  const headerBytes = 4 + 4 * ndims;
  if (len < headerBytes) {
    if (!final) return null;
    throw new DataError('IDX_TRUNCATED', `${file}: the file is truncated inside the header: ${ndims} dimensions need a ${headerBytes}-byte header, found ${len} bytes`);
  }
  const dims: number[] = [];
  let elements = 1;
  for (let i = 0; i < ndims; i++) {
    const at = 4 + 4 * i;
    // Big-endian u32 by hand: no DataView, so no RangeError is possible.
    const d = bytes[at] * 0x1000000 + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
    dims.push(d);
  }
  for (let i = 0; i < ndims; i++) {
    if (dims[i] === 0) throw new DataError('IDX_BAD_DIMS', `${file}: dimension ${i} of ${shapeOf(dims)} is 0; the file holds no values`);
  }
  for (let i = 0; i < ndims; i++) {
    // The running product is <= 2^31 before each step and each factor < 2^32, so it stays far below
    // Number.MAX_VALUE; any rounding above 2^53 cannot bring it back under the cap.
    elements *= dims[i];
    if (elements > IDX_MAX_ELEMENTS) throw new DataError('IDX_TOO_LARGE', `${file}: dims ${shapeOf(dims)} are more than 2^31 elements; the limit is 2^31`);
  }
  const dataBytes = elements * TYPES[type].size;
  if (dataBytes > IDX_MAX_BYTES) throw new DataError('IDX_TOO_LARGE', `${file}: dims ${shapeOf(dims)} of ${TYPES[type].name} need ${dataBytes} bytes; the limit is 2^31 bytes`);
  return { type, dims, headerBytes, dataBytes };
}

/** Decode a complete, uncompressed IDX file. `owned`: the bytes may be aliased by the result. */
function decode(bytes: Uint8Array, file: string, owned: boolean): Idx {
  const h = readHeader(bytes, file, true)!;
  const present = bytes.length - h.headerBytes;
  if (present < h.dataBytes) {
    throw new DataError('IDX_TRUNCATED', `${file}: the file is truncated: expected ${h.dataBytes} bytes of data for dims ${shapeOf(h.dims)}, found ${present}`);
  }
  if (present > h.dataBytes) {
    throw new DataError('IDX_TRAILING', `${file}: ${present - h.dataBytes} unexpected bytes after the ${h.dataBytes} bytes of data for dims ${shapeOf(h.dims)}`);
  }
  const n = h.dataBytes / TYPES[h.type].size;
  const at = h.headerBytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, h.dataBytes);
  let data: IdxData;
  switch (h.type) {
    case 0x08:
    case 0x09: {
      // Bytes need no conversion: view our own decompressed buffer, or copy the caller's (with
      // set(), not slice(): on a Node Buffer, slice() is a view of a shared pool).
      let buf = bytes.buffer;
      let offset = bytes.byteOffset + at;
      if (!owned) {
        const copy = new Uint8Array(h.dataBytes);
        copy.set(bytes.subarray(at, at + h.dataBytes));
        buf = copy.buffer;
        offset = 0;
      }
      data = h.type === 0x08 ? new Uint8Array(buf, offset, n) : new Int8Array(buf, offset, n);
      break;
    }
    case 0x0b: {
      const a = new Int16Array(n);
      for (let i = 0; i < n; i++) a[i] = view.getInt16(2 * i, false);
      data = a;
      break;
    }
    case 0x0c: {
      const a = new Int32Array(n);
      for (let i = 0; i < n; i++) a[i] = view.getInt32(4 * i, false);
      data = a;
      break;
    }
    case 0x0d: {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = view.getFloat32(4 * i, false);
      data = a;
      break;
    }
    default: {
      const a = new Float64Array(n);
      for (let i = 0; i < n; i++) a[i] = view.getFloat64(8 * i, false);
      data = a;
    }
  }
  return { dims: h.dims, data };
}

/**
 * Decompress gzip input, stopping early when the header is invalid or the output runs past the
 * size the header promises (so a gzip bomb or a lying header cannot exhaust memory).
 */
async function gunzipIdx(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  if (typeof DecompressionStream === 'undefined') {
    throw new DataError('IDX_BAD_GZIP', `${file}: the file is gzip-compressed, but this runtime has no DecompressionStream; decompress it first`);
  }
  // Copy into a fresh ArrayBuffer-backed array (the input may view a SharedArrayBuffer or a pool).
  const input = new Uint8Array(bytes.length);
  input.set(bytes);
  const reader = new Blob([input]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let head: Uint8Array = new Uint8Array(0);
  let header: Header | null = null;
  try {
    for (;;) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        throw new DataError('IDX_BAD_GZIP', `${file}: the gzip data is corrupt or truncated (${why}); ${total} bytes were decompressed before the error`);
      }
      if (step.done) break;
      const chunk = step.value;
      if (chunk.length === 0) continue;
      chunks.push(chunk);
      total += chunk.length;
      if (!header) {
        // Keep the first bytes (at most 1024: 4 + 4 × 255) until the header can be read.
        if (head.length < 1024) {
          const take = Math.min(1024 - head.length, chunk.length);
          const next = new Uint8Array(head.length + take);
          next.set(head);
          next.set(chunk.subarray(0, take), head.length);
          head = next;
        }
        header = readHeader(head, file, false);
      }
      if (header && total > header.headerBytes + header.dataBytes) {
        throw new DataError('IDX_TRAILING', `${file}: the decompressed data runs past the ${header.dataBytes} bytes of data for dims ${shapeOf(header.dims)} (at least ${total - header.headerBytes - header.dataBytes} extra bytes)`);
      }
    }
  } catch (e) {
    reader.cancel().catch(() => {});
    throw e;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Parse an IDX file, gzip-compressed or not. Values are converted from big-endian. */
export async function parseIdx(bytes: Uint8Array, file = 'IDX'): Promise<Idx> {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return decode(await gunzipIdx(bytes, file), file, true);
  return decode(bytes, file, false);
}

/** A gzip file holding at most IDX_MAX_BYTES of data (plus the header) is not much larger than that. */
const GZIP_MAX_BYTES = IDX_MAX_BYTES + 2 ** 24;
/** Compressed bytes read to find the IDX header (a gzip header with a long name or comment may need more: refused). */
const GZIP_HEAD_BYTES = 2 ** 20;

/** Up to `want` decompressed bytes from the start of gzip data (fewer if it ends or breaks first; null if none). */
async function gunzipPrefix(bytes: Uint8Array, want: number): Promise<Uint8Array | null> {
  if (typeof DecompressionStream === 'undefined') return null;
  const input = new Uint8Array(bytes.length);
  input.set(bytes);
  const reader = new Blob([input]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
  const out = new Uint8Array(want);
  let got = 0;
  try {
    while (got < want) {
      const step = await reader.read();
      if (step.done) break;
      const take = Math.min(want - got, step.value.length);
      out.set(step.value.subarray(0, take), got);
      got += take;
    }
  } catch {
    // a prefix ends mid-stream, or the data is corrupt: keep what came out
  } finally {
    reader.cancel().catch(() => {});
  }
  return got ? out.subarray(0, got) : null;
}

/**
 * The bytes of an IDX file, bounded by its header: an uncompressed file is read only when its size
 * is exactly the header plus the data its dims declare (IDX_TRUNCATED / IDX_TRAILING otherwise,
 * before reading the data); a gzip file is read whole (at most 2^31 + 16 MiB bytes) and
 * decompressed by parseIdx, which stops at the size the header declares.
 */
export async function readIdxBytes(path: string, o: { confineTo?: string } = {}): Promise<Uint8Array> {
  return withInput(path, { what: 'IDX file', maxBytes: GZIP_MAX_BYTES, confineTo: o.confineTo }, async (f) => {
    const head = await f.read(0, Math.min(f.size, 1024));
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
      // The IDX header from the first compressed bytes: the file may be at most a little larger
      // than the data it declares (deflate's stored blocks add 5 bytes per 64 KiB).
      const out = await gunzipPrefix(await f.read(0, Math.min(f.size, GZIP_HEAD_BYTES)), 4 + 4 * 255);
      const h = out && readHeader(out, path, out.length < 4 + 4 * 255);
      if (!h) throw new DataError('IDX_BAD_GZIP', `${path}: no IDX header in the first ${GZIP_HEAD_BYTES} bytes of the gzip data; the file is not a gzip-compressed IDX file`);
      const most = h.headerBytes + h.dataBytes + Math.ceil((h.headerBytes + h.dataBytes) / 1000) + GZIP_HEAD_BYTES;
      if (f.size > most) throw new DataError('IDX_TRAILING', `${path}: ${f.size} bytes of gzip data for ${h.dataBytes} bytes of data (dims ${shapeOf(h.dims)}); no gzip of that needs more than ${most}: the file holds something else`);
      return f.readAll();
    }
    const h = readHeader(head, path, true)!;
    const present = f.size - h.headerBytes;
    if (present < h.dataBytes) throw new DataError('IDX_TRUNCATED', `${path}: the file is truncated: expected ${h.dataBytes} bytes of data for dims ${shapeOf(h.dims)}, found ${present}`);
    if (present > h.dataBytes) throw new DataError('IDX_TRAILING', `${path}: ${present - h.dataBytes} unexpected bytes after the ${h.dataBytes} bytes of data for dims ${shapeOf(h.dims)}`);
    return f.readAll();
  });
}

/** Read and parse an IDX file (Node, Deno and Bun: uses node:fs/promises), bounded by its header. */
export async function readIdx(path: string): Promise<Idx> {
  return parseIdx(await readIdxBytes(path), path);
}
