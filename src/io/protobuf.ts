/**
 * A minimal protocol-buffers writer (https://protobuf.dev/programming-guides/encoding/), enough for
 * ONNX's ModelProto: varints (wire type 0), 32-bit floats (wire type 5) and length-delimited fields
 * (wire type 2: strings, bytes, nested messages). Repeated scalars are written one field each (the
 * proto2 form ONNX declares; every parser accepts it). Nested messages and byte payloads are kept as
 * references and copied once, by `finish()`.
 *
 * Why hand-written (README, "Export: ONNX and PyTorch"): the ONNX writer needs these three wire
 * types and nothing else; protobufjs is CommonJS-only and its full build compiles code with
 * `new Function` (refused by workerd and by pages with a strict CSP); @bufbuild/protobuf would fit
 * every runtime but adds a runtime dependency to every user of the library for about 100 lines. The
 * reader side is checked by onnxruntime itself parsing every exported file (test/onnx.test.ts).
 */

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** The varint bytes of a non-negative integer below 2^64, or of a negative int64 (two's complement, 10 bytes). */
function varint(v: number | bigint): Uint8Array {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`protobuf: ${v} is not a whole number a varint can hold exactly`);
  let x = typeof v === 'bigint' ? v : BigInt(v);
  if (x < -(1n << 63n) || x >= 1n << 64n) throw new RangeError(`protobuf: ${v} is outside the int64/uint64 range`);
  if (x < 0n) x += 1n << 64n;
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  return Uint8Array.from(out);
}

const utf8 = new TextEncoder();

/** A message under construction: fields are appended in the order written. */
export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.byteLength;
  }

  private tag(field: number, wire: number): void {
    if (!Number.isInteger(field) || field < 1 || field >= 2 ** 29) throw new RangeError(`protobuf: field number ${field} is not in [1, 2^29)`);
    this.push(varint(field * 8 + wire));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.size;
  }

  /** An integer field (int32, int64, uint64, enum, bool as 0/1); negative values as int64. */
  int(field: number, v: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.push(varint(v));
    return this;
  }

  /** A float field (wire type 5, little-endian float32). */
  float(field: number, v: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  /** A bytes field; the payload is referenced, not copied, until finish(). */
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.push(varint(b.byteLength));
    this.push(b);
    return this;
  }

  /** A string field (UTF-8). */
  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }

  /** A nested message field. */
  message(field: number, m: ProtoWriter): this {
    this.tag(field, WIRE_LEN);
    this.push(varint(m.size));
    for (const p of m.parts) this.push(p);
    return this;
  }

  /** The encoded message. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }
}
