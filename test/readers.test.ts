// The WAV and IDX readers on the real data (FSDD recordings, MNIST) and on synthetic and damaged
// files: every supported variant parses to the right values, every unsupported or broken file is a
// DataError with a stable code and a message naming the file, and seeded truncations and header
// corruptions never escape as a RangeError/TypeError or take long.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataError } from '../src/data/dataset.js';
import { parseIdx, readIdx } from '../src/data/idx.js';
import { parseWav, readWav } from '../src/data/wav.js';
import { mulberry32 } from './helpers.js';

const DATA = fileURLToPath(new URL('../../shared/data/', import.meta.url));
const FSDD = `${DATA}fsdd/recordings/`;
const MNIST = `${DATA}mnist/`;

/** The error `fn` throws (failing if it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw');
}
async function rejected(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the promise to reject');
}
/** Assert `e` is a DataError with `code` whose message names `file` (and matches `re`, if given). */
function expectDataError(e: unknown, code: string, file: string, re?: RegExp): void {
  expect(e, `expected a DataError ${code}, got ${String(e)}`).toBeInstanceOf(DataError);
  const d = e as DataError;
  expect(d.code, d.message).toBe(code);
  expect(d.message).toContain(file);
  if (re) expect(d.message).toMatch(re);
}

// ---------------------------------------------------------------------------------------------
// WAV builders

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
/** A chunk: id, size (the real body length unless `size` lies), body, pad byte when odd. */
function chunk(id: string, body: Uint8Array, size = body.length, pad = true): Uint8Array {
  const h = new Uint8Array(8);
  h.set(ascii(id));
  new DataView(h.buffer).setUint32(4, size >>> 0, true);
  return concat([h, body, pad && body.length % 2 ? new Uint8Array(1) : new Uint8Array(0)]);
}
function riff(chunks: Uint8Array[], form = 'WAVE', magic = 'RIFF'): Uint8Array {
  const body = concat([ascii(form), ...chunks]);
  const h = new Uint8Array(8);
  h.set(ascii(magic));
  new DataView(h.buffer).setUint32(4, body.length, true);
  return concat([h, body]);
}
interface Fmt {
  format?: number;
  channels?: number;
  rate?: number;
  bits?: number;
  byteRate?: number;
  blockAlign?: number;
  /** WAVE_FORMAT_EXTENSIBLE with this sub-format tag. */
  extensible?: number;
  validBits?: number;
  /** Extra bytes (a cbSize field of 0): an 18-byte fmt chunk, as some writers emit. */
  cb0?: boolean;
}
function fmt(o: Fmt = {}): Uint8Array {
  const channels = o.channels ?? 1,
    rate = o.rate ?? 8000,
    bits = o.bits ?? 16;
  const blockAlign = o.blockAlign ?? (channels * bits) / 8;
  const b = new Uint8Array(o.extensible !== undefined ? 40 : o.cb0 ? 18 : 16);
  const v = new DataView(b.buffer);
  v.setUint16(0, o.extensible !== undefined ? 0xfffe : (o.format ?? 1), true);
  v.setUint16(2, channels, true);
  v.setUint32(4, rate, true);
  v.setUint32(8, o.byteRate ?? rate * blockAlign, true);
  v.setUint16(12, blockAlign, true);
  v.setUint16(14, bits, true);
  if (o.extensible !== undefined) {
    v.setUint16(16, 22, true);
    v.setUint16(18, o.validBits ?? bits, true);
    v.setUint32(20, 0x4, true); // SPEAKER_FRONT_CENTER
    v.setUint16(24, o.extensible, true);
    b.set([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 26);
  }
  return chunk('fmt ', b);
}
function pcm(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setInt16(2 * i, x, true));
  return chunk('data', b);
}
const SAMPLES = [0, 1, -1, 16384, -16384, 32767, -32768, 1234];
const SCALED = SAMPLES.map((s) => s / 32768);
const listChunk = chunk('LIST', concat([ascii('INFO'), chunk('ISFT', ascii('Lavf58.76.100\0'))]));

function wavFile(name: string): Uint8Array {
  return new Uint8Array(readFileSync(FSDD + name));
}

describe('parseWav on the real FSDD recordings', () => {
  it('0_george_0.wav: 8000 Hz, (size − 44)/2 samples equal to the raw int16 values / 32768', async () => {
    const path = FSDD + '0_george_0.wav';
    const bytes = readFileSync(path);
    expect(bytes.length).toBe(4812);
    const w = await readWav(path);
    expect(w.sampleRate).toBe(8000);
    expect(w.samples).toBeInstanceOf(Float32Array);
    expect(w.samples.length).toBe((4812 - 44) / 2);
    for (let i = 0; i < w.samples.length; i++) expect(w.samples[i]).toBe(bytes.readInt16LE(44 + 2 * i) / 32768);
    // The same through parseWav on a view into a larger buffer at an odd offset.
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    expect(parseWav(big.subarray(3), 'x').samples).toEqual(w.samples);
  });

  it('all 3,000 recordings: 8000 Hz, length (size − 44)/2 within 1,148..18,262, values in [-1, 1)', () => {
    const names = readdirSync(FSDD).filter((f) => f.endsWith('.wav'));
    expect(names.length).toBe(3000);
    let min = Infinity,
      max = -Infinity,
      peak = 0;
    for (const name of names) {
      const bytes = readFileSync(FSDD + name);
      const w = parseWav(bytes, name);
      expect(w.sampleRate).toBe(8000);
      expect(w.samples.length).toBe((bytes.length - 44) / 2);
      min = Math.min(min, w.samples.length);
      max = Math.max(max, w.samples.length);
      for (let i = 0; i < w.samples.length; i++) {
        const s = w.samples[i];
        if (!(s >= -1 && s < 1)) throw new Error(`${name}: sample ${i} is ${s}`);
        peak = Math.max(peak, Math.abs(s));
      }
    }
    expect([min, max]).toEqual([1148, 18262]);
    expect(peak).toBeGreaterThan(0.1); // real audio, not silence
  });
});

describe('parseWav on synthetic files', () => {
  it('reads the canonical layout with exact scaling s/32768', () => {
    const w = parseWav(riff([fmt(), pcm(SAMPLES)]), 'plain.wav');
    expect(w.sampleRate).toBe(8000);
    expect(Array.from(w.samples)).toEqual(SCALED);
    expect(Math.min(...w.samples)).toBe(-1);
    expect(Math.max(...w.samples)).toBeLessThan(1);
  });

  it('skips LIST and unknown chunks before, between and after, at any sample rate', () => {
    const w = parseWav(riff([listChunk, chunk('bext', new Uint8Array(10)), fmt({ rate: 44100 }), chunk('fact', new Uint8Array(4)), pcm(SAMPLES), listChunk]), 'list.wav');
    expect(w.sampleRate).toBe(44100);
    expect(Array.from(w.samples)).toEqual(SCALED);
    // data before fmt is legal RIFF too
    expect(Array.from(parseWav(riff([pcm(SAMPLES), fmt({ rate: 11025 })]), 'order.wav').samples)).toEqual(SCALED);
  });

  it('honours the pad byte after odd-sized chunks (and a missing pad at the very end)', () => {
    const odd = chunk('junk', ascii('abc')); // size 3, then one pad byte
    expect(odd.length).toBe(12);
    const w = parseWav(riff([odd, fmt(), chunk('note', ascii('hello')), pcm(SAMPLES), chunk('tail', ascii('x'), 1, false)]), 'pad.wav');
    expect(Array.from(w.samples)).toEqual(SCALED);
    // Without the pad the walk would read "\0fmt" as a chunk id: prove the pad is what is skipped.
    const unpadded = riff([chunk('junk', ascii('abc'), 3, false), fmt(), pcm(SAMPLES)]);
    expect(() => parseWav(unpadded, 'nopad.wav')).toThrow(DataError);
  });

  it('accepts an 18-byte fmt chunk and WAVE_FORMAT_EXTENSIBLE with the PCM sub-format', () => {
    expect(Array.from(parseWav(riff([fmt({ cb0: true }), pcm(SAMPLES)]), 'cb0.wav').samples)).toEqual(SCALED);
    const w = parseWav(riff([fmt({ extensible: 1, rate: 16000 }), listChunk, pcm(SAMPLES)]), 'ext.wav');
    expect(w.sampleRate).toBe(16000);
    expect(Array.from(w.samples)).toEqual(SCALED);
    expect(parseWav(riff([fmt({ extensible: 1, validBits: 12 }), pcm(SAMPLES)]), 'ext12.wav').samples.length).toBe(SAMPLES.length);
  });

  it('not RIFF/WAVE → WAV_NOT_RIFF', () => {
    const ok = riff([fmt(), pcm(SAMPLES)]);
    expectDataError(thrown(() => parseWav(new Uint8Array(0), 'empty.wav')), 'WAV_TRUNCATED', 'empty.wav', /empty/);
    expectDataError(thrown(() => parseWav(ascii('ID3\x04 some mp3 bytes here'), 'song.mp3')), 'WAV_NOT_RIFF', 'song.mp3', /"ID3\\x04", not "RIFF"/);
    expectDataError(thrown(() => parseWav(riff([fmt(), pcm(SAMPLES)], 'WAVE', 'RIFX'), 'be.wav')), 'WAV_NOT_RIFF', 'be.wav', /RIFX/);
    expectDataError(thrown(() => parseWav(riff([fmt(), pcm(SAMPLES)], 'AVI '), 'movie.avi')), 'WAV_NOT_RIFF', 'movie.avi', /"AVI ", not "WAVE"/);
    expectDataError(thrown(() => parseWav(ascii('hi'), 'tiny.wav')), 'WAV_NOT_RIFF', 'tiny.wav');
    expectDataError(thrown(() => parseWav(ok.subarray(0, 6), 'cut.wav')), 'WAV_TRUNCATED', 'cut.wav', /6 bytes/);
  });

  it('missing fmt or data → WAV_MISSING_CHUNK', () => {
    expectDataError(thrown(() => parseWav(riff([listChunk, pcm(SAMPLES)]), 'nofmt.wav')), 'WAV_MISSING_CHUNK', 'nofmt.wav', /"fmt "/);
    expectDataError(thrown(() => parseWav(riff([fmt(), listChunk]), 'nodata.wav')), 'WAV_MISSING_CHUNK', 'nodata.wav', /"data"/);
    expectDataError(thrown(() => parseWav(riff([]), 'bare.wav')), 'WAV_MISSING_CHUNK', 'bare.wav');
  });

  it('non-PCM formats and other bit depths → WAV_NOT_PCM16; stereo → WAV_NOT_MONO', () => {
    const d = pcm(SAMPLES);
    expectDataError(thrown(() => parseWav(riff([fmt({ format: 3, bits: 32 }), d]), 'float.wav')), 'WAV_NOT_PCM16', 'float.wav', /0x0003 \(IEEE float\), not PCM; supported/);
    expectDataError(thrown(() => parseWav(riff([fmt({ format: 0x55 }), d]), 'mp3.wav')), 'WAV_NOT_PCM16', 'mp3.wav', /MPEG/);
    expectDataError(thrown(() => parseWav(riff([fmt({ extensible: 3, bits: 32 }), d]), 'extfloat.wav')), 'WAV_NOT_PCM16', 'extfloat.wav', /EXTENSIBLE with sub-format 0x0003/);
    const badGuid = riff([fmt({ extensible: 1 }), d]);
    badGuid[12 + 8 + 24 + 10] ^= 0xff;
    expectDataError(thrown(() => parseWav(badGuid, 'guid.wav')), 'WAV_NOT_PCM16', 'guid.wav', /GUID/);
    expectDataError(thrown(() => parseWav(riff([fmt({ bits: 8 }), d]), 'u8.wav')), 'WAV_NOT_PCM16', 'u8.wav', /8 bits per sample, not 16/);
    expectDataError(thrown(() => parseWav(riff([fmt({ bits: 24 }), d]), 's24.wav')), 'WAV_NOT_PCM16', 's24.wav', /24 bits per sample/);
    expectDataError(thrown(() => parseWav(riff([fmt({ channels: 2 }), d]), 'stereo.wav')), 'WAV_NOT_MONO', 'stereo.wav', /2 channels \(stereo\), not 1; supported/);
    expectDataError(thrown(() => parseWav(riff([fmt({ extensible: 1, channels: 6 }), d]), '51.wav')), 'WAV_NOT_MONO', '51.wav', /6 channels/);
    expectDataError(thrown(() => parseWav(riff([fmt({ channels: 0, blockAlign: 2 }), d]), 'zero.wav')), 'WAV_NOT_MONO', 'zero.wav', /0 channels/);
  });

  it('a data chunk larger than the file → WAV_TRUNCATED with promised vs present bytes', () => {
    const body = new Uint8Array(10);
    expectDataError(thrown(() => parseWav(riff([fmt(), chunk('data', body, 1000)]), 'lie.wav')), 'WAV_TRUNCATED', 'lie.wav', /promises 1000 bytes.*only 10 bytes are present/);
    expectDataError(thrown(() => parseWav(riff([fmt(), chunk('data', body, 0xffffffff)]), 'huge.wav')), 'WAV_TRUNCATED', 'huge.wav', /promises 4294967295/);
    // A lying LIST chunk hides everything after it.
    expectDataError(thrown(() => parseWav(riff([fmt(), chunk('LIST', body, 5000), pcm(SAMPLES)]), 'list.wav')), 'WAV_TRUNCATED', 'list.wav', /"LIST" chunk size lies: it promises 5000/);
    // A file that stops inside a chunk header.
    const ok = riff([fmt(), pcm(SAMPLES)]);
    expectDataError(thrown(() => parseWav(ok.subarray(0, 40), 'hdr.wav')), 'WAV_TRUNCATED', 'hdr.wav', /chunk header/);
  });

  it('inconsistent header fields → WAV_BAD_HEADER; odd data length → WAV_BAD_HEADER; no samples → WAV_EMPTY', () => {
    const d = pcm(SAMPLES);
    expectDataError(thrown(() => parseWav(riff([fmt({ blockAlign: 4 }), d]), 'align.wav')), 'WAV_BAD_HEADER', 'align.wav', /block align is 4, but 1 channel × 16 bits needs 2/);
    expectDataError(thrown(() => parseWav(riff([fmt({ byteRate: 8000 }), d]), 'rate.wav')), 'WAV_BAD_HEADER', 'rate.wav', /byte rate is 8000, but 8000 Hz × 2 bytes per frame = 16000/);
    expectDataError(thrown(() => parseWav(riff([fmt({ rate: 0 }), d]), 'hz.wav')), 'WAV_BAD_HEADER', 'hz.wav', /sample rate is 0/);
    expectDataError(thrown(() => parseWav(riff([chunk('fmt ', new Uint8Array(14)), d]), 'short.wav')), 'WAV_BAD_HEADER', 'short.wav', /14 bytes/);
    const shortExt = fmt({ extensible: 1 }).subarray(0, 8 + 18);
    new DataView(shortExt.buffer, shortExt.byteOffset).setUint32(4, 18, true);
    expectDataError(thrown(() => parseWav(riff([shortExt, d]), 'ext18.wav')), 'WAV_BAD_HEADER', 'ext18.wav', /EXTENSIBLE/);
    expectDataError(thrown(() => parseWav(riff([fmt({ extensible: 1, validBits: 20 }), d]), 'valid.wav')), 'WAV_BAD_HEADER', 'valid.wav', /20 valid bits/);
    expectDataError(thrown(() => parseWav(riff([fmt(), chunk('data', new Uint8Array(7))]), 'odd.wav')), 'WAV_BAD_HEADER', 'odd.wav', /7 bytes, an odd length/);
    expectDataError(thrown(() => parseWav(riff([fmt(), chunk('data', new Uint8Array(0)), listChunk]), 'silent.wav')), 'WAV_EMPTY', 'silent.wav', /no samples/);
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzzing: only DataError, never RangeError/TypeError, never slow.

/** Run `fn`; return the DataError code, or 'ok'. Anything else that is thrown fails the test. */
function outcome(fn: () => unknown, what: string): string {
  const t0 = performance.now();
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (!(e instanceof DataError)) throw new Error(`${what}: threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    return e.code;
  } finally {
    const ms = performance.now() - t0;
    if (ms > 200) throw new Error(`${what}: took ${ms.toFixed(0)} ms`);
  }
}
async function outcomeAsync(fn: () => Promise<unknown>, what: string): Promise<string> {
  const t0 = performance.now();
  try {
    await fn();
    return 'ok';
  } catch (e) {
    if (!(e instanceof DataError)) throw new Error(`${what}: threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    return e.code;
  } finally {
    const ms = performance.now() - t0;
    if (ms > 500) throw new Error(`${what}: took ${ms.toFixed(0)} ms`);
  }
}

describe('parseWav on damaged real files (seeded)', () => {
  const names = ['0_george_0.wav', '7_jackson_33.wav', '9_yweweler_49.wav'];

  it('every truncation of a real file is WAV_TRUNCATED naming the file', () => {
    const rnd = mulberry32(20240502);
    for (const name of names) {
      const bytes = wavFile(name);
      const cuts = new Set<number>();
      for (let c = 0; c <= 64; c++) cuts.add(c);
      for (let k = 0; k < 60; k++) cuts.add(Math.floor(rnd() * bytes.length));
      cuts.add(bytes.length - 1);
      for (const cut of cuts) {
        const part = bytes.subarray(0, cut);
        expect(outcome(() => parseWav(part, name), `${name} cut at ${cut}`), `cut at ${cut}`).toBe('WAV_TRUNCATED');
        expectDataError(thrown(() => parseWav(part, name)), 'WAV_TRUNCATED', name);
      }
      expect(parseWav(bytes, name).sampleRate).toBe(8000);
    }
  });

  it('flipped and overwritten header bytes give a valid result or a DataError, nothing else', () => {
    const rnd = mulberry32(7);
    const codes = new Map<string, number>();
    const extremes = [0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
    for (const name of names) {
      const orig = wavFile(name);
      for (let k = 0; k < 400; k++) {
        const b = orig.slice();
        const v = new DataView(b.buffer);
        const flips = 1 + Math.floor(rnd() * 4);
        for (let f = 0; f < flips; f++) {
          if (rnd() < 0.3) {
            // overwrite a whole u32 or u16 field of the 44-byte header with an extreme value
            const at = 4 * Math.floor(rnd() * 11);
            v.setUint32(at, extremes[Math.floor(rnd() * extremes.length)], true);
          } else {
            b[Math.floor(rnd() * 44)] ^= 1 + Math.floor(rnd() * 255);
          }
        }
        const what = `${name} mutation ${k}`;
        const code = outcome(() => {
          const w = parseWav(b, name);
          expect(w.sampleRate).toBeGreaterThan(0);
          for (const s of w.samples) if (!(s >= -1 && s < 1)) throw new Error(`${what}: sample ${s}`);
        }, what);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
    // The mutations reach most of the error paths.
    for (const c of ['WAV_NOT_RIFF', 'WAV_MISSING_CHUNK', 'WAV_NOT_PCM16', 'WAV_NOT_MONO', 'WAV_TRUNCATED', 'WAV_BAD_HEADER']) expect(codes.get(c) ?? 0, `${c} in ${JSON.stringify([...codes])}`).toBeGreaterThan(0);
  });

  it('random chunk streams after "RIFF....WAVE" never escape as anything but a DataError', () => {
    const rnd = mulberry32(99);
    const ids = ['fmt ', 'data', 'LIST', 'junk', '\0\0\0\0'];
    for (let k = 0; k < 2000; k++) {
      const parts: Uint8Array[] = [];
      const n = Math.floor(rnd() * 5);
      for (let i = 0; i < n; i++) {
        const len = Math.floor(rnd() * 48);
        const body = Uint8Array.from({ length: len }, () => Math.floor(rnd() * 256));
        const lie = rnd() < 0.2 ? Math.floor(rnd() * 0x100000000) : len;
        parts.push(chunk(ids[Math.floor(rnd() * ids.length)], body, lie, rnd() < 0.8));
      }
      if (rnd() < 0.5) parts.push(Uint8Array.from({ length: Math.floor(rnd() * 9) }, () => Math.floor(rnd() * 256)));
      const bytes = riff(parts);
      outcome(() => parseWav(bytes, 'fuzz.wav'), `chunk fuzz ${k}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// IDX

/** A raw IDX file: magic, big-endian dims, then `body` (or values written big-endian). */
function idx(type: number, dims: number[], body: Uint8Array): Uint8Array {
  const h = new Uint8Array(4 + 4 * dims.length);
  const v = new DataView(h.buffer);
  h[2] = type;
  h[3] = dims.length;
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  return concat([h, body]);
}
function be(type: number, values: number[]): Uint8Array {
  const size = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 }[type]!;
  const b = new Uint8Array(values.length * size);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => {
    if (type === 0x08) v.setUint8(i, x);
    else if (type === 0x09) v.setInt8(i, x);
    else if (type === 0x0b) v.setInt16(2 * i, x, false);
    else if (type === 0x0c) v.setInt32(4 * i, x, false);
    else if (type === 0x0d) v.setFloat32(4 * i, x, false);
    else v.setFloat64(8 * i, x, false);
  });
  return b;
}
const gz = (b: Uint8Array) => new Uint8Array(gzipSync(b));

describe('parseIdx on the real MNIST files', () => {
  it('train images: [60000, 28, 28] uint8, mean pixel 33.32; train labels: [60000], 0..9 with the canonical counts', async () => {
    const img = await readIdx(MNIST + 'train-images-idx3-ubyte.gz');
    expect(img.dims).toEqual([60000, 28, 28]);
    expect(img.data).toBeInstanceOf(Uint8Array);
    expect(img.data.length).toBe(60000 * 28 * 28);
    let sum = 0;
    for (let i = 0; i < img.data.length; i++) sum += img.data[i];
    expect(sum / img.data.length).toBeCloseTo(33.32, 2);

    const lab = await readIdx(MNIST + 'train-labels-idx1-ubyte.gz');
    expect(lab.dims).toEqual([60000]);
    const counts = new Array(10).fill(0);
    for (const y of lab.data) {
      expect(y >= 0 && y <= 9).toBe(true);
      counts[y]++;
    }
    expect(counts).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
  });

  it('t10k images: [10000, 28, 28]; t10k labels: [10000] with the canonical counts; gzip and raw agree', async () => {
    const img = await readIdx(MNIST + 't10k-images-idx3-ubyte.gz');
    expect(img.dims).toEqual([10000, 28, 28]);
    expect(img.data.length).toBe(10000 * 784);
    expect(Math.max(...img.data.subarray(0, 784))).toBe(255);
    const gzBytes = readFileSync(MNIST + 't10k-labels-idx1-ubyte.gz');
    const lab = await parseIdx(gzBytes, 't10k-labels');
    expect(lab.dims).toEqual([10000]);
    const counts = new Array(10).fill(0);
    for (const y of lab.data) counts[y]++;
    expect(counts).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    const raw = await parseIdx(gunzipSync(gzBytes), 't10k-labels');
    expect(raw.dims).toEqual([10000]);
    expect(raw.data).toEqual(lab.data);
  });
});

describe('parseIdx on synthetic files', () => {
  const cases: [number, number[], unknown][] = [
    [0x08, [0, 1, 200, 255], Uint8Array],
    [0x09, [0, -1, -128, 127], Int8Array],
    [0x0b, [0, -1, -32768, 32767, 258], Int16Array],
    [0x0c, [0, -1, -(2 ** 31), 2 ** 31 - 1, 16909060], Int32Array],
    [0x0d, [0, -1.5, 3.25, 1e30, -0.125], Float32Array],
    [0x0e, [0, -1.5, Math.PI, 1e300, -Number.MIN_VALUE], Float64Array],
  ];
  it('decodes every type big-endian, raw and gzipped, in any number of dims', async () => {
    for (const [type, values, ctor] of cases) {
      for (const dims of [[values.length], [1, values.length, 1]]) {
        const file = idx(type, dims, be(type, values));
        for (const bytes of [file, gz(file)]) {
          const r = await parseIdx(bytes, 'synthetic');
          expect(r.dims).toEqual(dims);
          expect(r.data).toBeInstanceOf(ctor);
          expect(Array.from(r.data)).toEqual(type === 0x0d ? values.map(Math.fround) : values);
        }
      }
    }
    // A raw result does not alias the caller's bytes, and is a plain typed array even from a
    // Node Buffer that views a larger pool at an offset.
    const file = idx(0x08, [2], Uint8Array.of(5, 6));
    const r = await parseIdx(file, 'alias');
    file[8] = 99;
    expect(Array.from(r.data)).toEqual([5, 6]);
    for (const type of [0x08, 0x09]) {
      const pool = Buffer.alloc(64, 0xee);
      const src = idx(type, [3], be(type, [1, 2, 3]));
      pool.set(src, 5);
      const buf = pool.subarray(5, 5 + src.length);
      const out = await parseIdx(buf, 'buffer');
      expect(Object.getPrototypeOf(out.data)).toBe(type === 0x08 ? Uint8Array.prototype : Int8Array.prototype);
      expect(out.data.byteOffset).toBe(0);
      expect(out.data.buffer.byteLength).toBe(3);
      expect(Array.from(out.data)).toEqual([1, 2, 3]);
      buf[src.length - 1] = 9;
      expect(out.data[2]).toBe(3);
    }
  });

  it('wrong magic → IDX_BAD_MAGIC showing the bytes; unknown type → IDX_BAD_TYPE; no dims or a 0 dim → IDX_BAD_DIMS', async () => {
    expectDataError(await rejected(parseIdx(ascii('PK\x03\x04rest of a zip'), 'mnist.zip')), 'IDX_BAD_MAGIC', 'mnist.zip', /first bytes are 50 4b 03 04/);
    expectDataError(await rejected(parseIdx(gz(ascii('not idx at all')), 'text.gz')), 'IDX_BAD_MAGIC', 'text.gz', /6e 6f 74 20/);
    expectDataError(await rejected(parseIdx(Uint8Array.of(0x1f), 'one')), 'IDX_BAD_MAGIC', 'one', /1f/);
    expectDataError(await rejected(parseIdx(idx(0x0a, [1], Uint8Array.of(0)), 'type.idx')), 'IDX_BAD_TYPE', 'type.idx', /0x0a.*supported: 0x08 ubyte/);
    expectDataError(await rejected(parseIdx(idx(0x08, [], new Uint8Array(0)), 'nd0.idx')), 'IDX_BAD_DIMS', 'nd0.idx', /0 dimensions/);
    expectDataError(await rejected(parseIdx(idx(0x08, [5, 0, 3], new Uint8Array(0)), 'zero.idx')), 'IDX_BAD_DIMS', 'zero.idx', /5×0×3/);
  });

  it('truncated data → IDX_TRUNCATED (expected vs found for dims a×b×c); trailing bytes → IDX_TRAILING', async () => {
    const body = new Uint8Array(2 * 3 * 4 * 2);
    expectDataError(await rejected(parseIdx(idx(0x0b, [2, 3, 4], body.subarray(0, 40)), 'short.idx')), 'IDX_TRUNCATED', 'short.idx', /expected 48 bytes of data for dims 2×3×4, found 40/);
    expectDataError(await rejected(parseIdx(gz(idx(0x0b, [2, 3, 4], body.subarray(0, 40))), 'short.gz')), 'IDX_TRUNCATED', 'short.gz', /expected 48 bytes.*found 40/);
    expectDataError(await rejected(parseIdx(idx(0x08, [3, 1000], new Uint8Array(0)).subarray(0, 10), 'hdr.idx')), 'IDX_TRUNCATED', 'hdr.idx', /12-byte header, found 10/);
    expectDataError(await rejected(parseIdx(Uint8Array.of(0, 0, 8), 'three')), 'IDX_TRUNCATED', 'three');
    expectDataError(await rejected(parseIdx(new Uint8Array(0), 'nothing')), 'IDX_TRUNCATED', 'nothing');
    expectDataError(await rejected(parseIdx(concat([idx(0x0b, [2, 3, 4], body), ascii('junk')]), 'tail.idx')), 'IDX_TRAILING', 'tail.idx', /4 unexpected bytes after the 48 bytes/);
    expectDataError(await rejected(parseIdx(gz(concat([idx(0x0b, [2, 3, 4], body), ascii('junk')])), 'tail.gz')), 'IDX_TRAILING', 'tail.gz');
  });

  it('lying dims: > 2^31 elements or bytes → IDX_TOO_LARGE before allocating; exactly 2^31 bytes claimed → IDX_TRUNCATED', async () => {
    const none = new Uint8Array(16);
    expectDataError(await rejected(parseIdx(idx(0x08, [0xffffffff, 0xffffffff, 0xffffffff], none), 'lie.idx')), 'IDX_TOO_LARGE', 'lie.idx', /4294967295×4294967295×4294967295.*2\^31/);
    expectDataError(await rejected(parseIdx(idx(0x08, [65536, 32769], none), 'big.idx')), 'IDX_TOO_LARGE', 'big.idx');
    expectDataError(await rejected(parseIdx(idx(0x0e, [2 ** 28 + 1], none), 'f64.idx')), 'IDX_TOO_LARGE', 'f64.idx', /bytes/);
    expectDataError(await rejected(parseIdx(gz(idx(0x0c, [0xffffffff, 2], none)), 'lie.gz')), 'IDX_TOO_LARGE', 'lie.gz');
    expectDataError(await rejected(parseIdx(idx(0x08, [65536, 32768], none), 'max.idx')), 'IDX_TRUNCATED', 'max.idx', /expected 2147483648 bytes of data for dims 65536×32768, found 16/);
    // 255 dims of 1 is fine; 255 dims of 2 overflows the cap.
    expect((await parseIdx(idx(0x08, new Array(255).fill(1), Uint8Array.of(7)), 'ones')).dims.length).toBe(255);
    expectDataError(await rejected(parseIdx(idx(0x08, new Array(255).fill(2), none), 'twos')), 'IDX_TOO_LARGE', 'twos');
  });

  it('a gzip bomb under a small header stops early with IDX_TRAILING', async () => {
    const bomb = gz(concat([idx(0x08, [10], new Uint8Array(10)), new Uint8Array(64 << 20)]));
    const t0 = performance.now();
    expectDataError(await rejected(parseIdx(bomb, 'bomb.gz')), 'IDX_TRAILING', 'bomb.gz');
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('corrupt or truncated gzip → IDX_BAD_GZIP', async () => {
    const good = readFileSync(MNIST + 't10k-labels-idx1-ubyte.gz');
    expectDataError(await rejected(parseIdx(good.subarray(0, good.length - 4), 'cut.gz')), 'IDX_BAD_GZIP', 'cut.gz', /corrupt or truncated/);
    const crc = new Uint8Array(good);
    crc[crc.length - 6] ^= 1;
    expectDataError(await rejected(parseIdx(crc, 'crc.gz')), 'IDX_BAD_GZIP', 'crc.gz');
    expectDataError(await rejected(parseIdx(concat([good, ascii('garbage')]), 'junk.gz')), 'IDX_BAD_GZIP', 'junk.gz');
    expectDataError(await rejected(parseIdx(Uint8Array.of(0x1f, 0x8b), 'magic.gz')), 'IDX_BAD_GZIP', 'magic.gz');
  });
});

describe('parseIdx on damaged real files (seeded)', () => {
  const gzBytes = new Uint8Array(readFileSync(MNIST + 't10k-labels-idx1-ubyte.gz'));
  const raw = new Uint8Array(gunzipSync(gzBytes));

  it('every truncation of the raw file is IDX_TRUNCATED; of the gzip file, IDX_BAD_GZIP', async () => {
    const rnd = mulberry32(31337);
    const cuts = new Set<number>();
    for (let c = 0; c <= 24; c++) cuts.add(c);
    for (let k = 0; k < 60; k++) cuts.add(Math.floor(rnd() * raw.length));
    cuts.add(raw.length - 1);
    for (const cut of cuts) expectDataError(await rejected(parseIdx(raw.subarray(0, cut), 'raw-labels')), 'IDX_TRUNCATED', 'raw-labels');
    const gzCuts = new Set<number>([0, 1]);
    for (let c = 2; c <= 24; c++) gzCuts.add(c);
    for (let k = 0; k < 60; k++) gzCuts.add(2 + Math.floor(rnd() * (gzBytes.length - 2)));
    for (let c = gzBytes.length - 8; c < gzBytes.length; c++) gzCuts.add(c);
    for (const cut of gzCuts) {
      const expected = cut === 0 ? 'IDX_TRUNCATED' : cut === 1 ? 'IDX_BAD_MAGIC' : 'IDX_BAD_GZIP';
      const code = await outcomeAsync(() => parseIdx(gzBytes.subarray(0, cut), 'gz-labels'), `gzip cut at ${cut}`);
      expect(code, `cut at ${cut}`).toBe(expected);
    }
  });

  it('flipped header bytes (raw) and flipped bytes anywhere (gzip) give a result or a DataError, nothing else', async () => {
    const rnd = mulberry32(4242);
    const codes = new Map<string, number>();
    for (let k = 0; k < 600; k++) {
      const b = raw.slice();
      const flips = 1 + Math.floor(rnd() * 3);
      for (let f = 0; f < flips; f++) b[Math.floor(rnd() * 8)] ^= 1 + Math.floor(rnd() * 255);
      const code = await outcomeAsync(() => parseIdx(b, 'raw-labels'), `raw flip ${k}`);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    for (const c of ['IDX_BAD_MAGIC', 'IDX_BAD_TYPE', 'IDX_TRUNCATED', 'IDX_TRAILING', 'IDX_TOO_LARGE']) expect(codes.get(c) ?? 0, `${c} in ${JSON.stringify([...codes])}`).toBeGreaterThan(0);
    for (let k = 0; k < 150; k++) {
      const b = gzBytes.slice();
      b[Math.floor(rnd() * b.length)] ^= 1 + Math.floor(rnd() * 255);
      await outcomeAsync(() => parseIdx(b, 'gz-labels'), `gzip flip ${k}`);
    }
  });
});
