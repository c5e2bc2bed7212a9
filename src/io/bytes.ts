/** Reading numbers from bytes (portable: raw feature files, safetensors). */

/** Whether this machine stores numbers little-endian (every common one does). */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * `n` little-endian float32 values of `bytes` from byte `at` (raw feature files, safetensors): a
 * view, without a copy, on a little-endian machine when the values are 4-byte aligned in memory;
 * else a copy. The caller has checked that the 4n bytes are there.
 */
export function float32LE(bytes: Uint8Array, at: number, n: number): Float32Array {
  if (LITTLE_ENDIAN && (bytes.byteOffset + at) % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset + at, n);
  const out = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + at, 4 * n);
  for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
  return out;
}
