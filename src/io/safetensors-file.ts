/**
 * Reading a safetensors file (Node and Deno), bounded by what its header declares. Decoding the
 * bytes is the portable ./safetensors.ts.
 */
import { DataError } from '../data/dataset.js';
import type { ErrorCode } from '../errors.js';
import { withInput } from './files.js';
import { headerLength, parseHeader } from './safetensors.js';

/**
 * Read a safetensors file, bounded by what its header declares: the 8-byte length and the header
 * (at most MAX_HEADER_BYTES) first, then the file only if its size is exactly header + the data the
 * tensors declare (and at most `maxBytes`). Decode the bytes with decodeSafetensors.
 */
export async function readSafetensorsFile(path: string, o: { what?: string; maxBytes: number; limitHint?: string; confineTo?: string }): Promise<Uint8Array> {
  return withInput(path, o, async (f) => {
    const fail = (code: ErrorCode, msg: string) => new DataError(code, `${path}: ${msg}`);
    if (f.size < 8) return f.readAll(); // decodeSafetensors reports it
    const h = headerLength(await f.read(0, 8), f.size, fail);
    const header = parseHeader(await f.read(8, h), fail);
    let declared = 0;
    if (header && typeof header === 'object') {
      for (const [k, v] of Object.entries(header)) {
        const off = k === '__metadata__' ? undefined : (v as { data_offsets?: unknown } | null)?.data_offsets;
        if (Array.isArray(off) && Number.isSafeInteger(off[1]) && off[1] > declared) declared = off[1];
      }
    }
    const present = f.size - 8 - h;
    if (present < declared) throw fail('ST_TRUNCATED', `the tensors declare ${declared} data bytes, but the file holds ${present} after the header: the file is truncated`);
    if (present > declared) throw fail('ST_BAD_OFFSETS', `the tensors cover ${declared} data bytes, but the file holds ${present} after the header`);
    return f.readAll();
  });
}
