/**
 * WAV reader: RIFF/WAVE, PCM 16-bit signed little-endian, mono, any sample rate. The file is read
 * by walking its chunks (no fixed 44-byte header is assumed): unknown chunks such as LIST are
 * skipped, odd-sized chunks are followed by their pad byte, and WAVE_FORMAT_EXTENSIBLE is accepted
 * when its sub-format is PCM. Every other file is rejected with a DataError naming the file, what is
 * wrong and what is supported. Every read is bounds-checked first, so a damaged file never makes
 * DataView throw a RangeError, and the chunk walk always moves forward, so it cannot hang.
 */
import { DataError } from './dataset.js';
import { withInput } from '../io/files.js';

export interface Wav {
  sampleRate: number;
  /** Samples scaled to [-1, 1) as s / 32768. */
  samples: Float32Array;
}

const SUPPORTED = 'supported: RIFF/WAVE, PCM (format 1, or WAVE_FORMAT_EXTENSIBLE with PCM sub-format), 16 bits per sample, 1 channel';

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** Bytes 2..15 of KSDATAFORMAT_SUBTYPE_PCM (00000001-0000-0010-8000-00aa00389b71); bytes 0..1 hold the format tag. */
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

const FORMAT_NAMES: Record<number, string> = {
  0x0002: 'Microsoft ADPCM',
  0x0003: 'IEEE float',
  0x0006: 'A-law',
  0x0007: 'µ-law',
  0x0011: 'IMA ADPCM',
  0x0055: 'MPEG layer 3',
};

function fourcc(bytes: Uint8Array, at: number): string {
  let s = '';
  for (let i = at; i < at + 4 && i < bytes.length; i++) {
    const c = bytes[i];
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return s;
}

function formatName(tag: number): string {
  const hex = `0x${tag.toString(16).padStart(4, '0')}`;
  return FORMAT_NAMES[tag] ? `${hex} (${FORMAT_NAMES[tag]})` : hex;
}

/** True when `bytes` (shorter than 12) could be the start of a RIFF/WAVE header. */
function isRiffPrefix(bytes: Uint8Array): boolean {
  const want = [0x52, 0x49, 0x46, 0x46, -1, -1, -1, -1, 0x57, 0x41, 0x56, 0x45]; // 'RIFF' ???? 'WAVE'
  for (let i = 0; i < bytes.length && i < 12; i++) if (want[i] >= 0 && bytes[i] !== want[i]) return false;
  return true;
}

/** Real WAV files hold a handful of chunks before their samples; walking more is refused. */
const WAV_MAX_CHUNKS = 1_000_000;

/** Where a chunk's body starts, and its size. */
type Span = { at: number; size: number };

/**
 * The chunk walk of a RIFF/WAVE file of `size` bytes whose 12-byte header has been checked: finds
 * the first "fmt " and "data" chunks. It reads through its caller: it yields [position, length]
 * and is given those bytes back, so that one walk serves bytes in memory (parseWav) and a file read
 * piecewise (readWavBytes). Throws the DataError that names what is wrong.
 *
 * The RIFF size field is not trusted for the walk (streaming writers often leave it wrong): chunks
 * are read up to the end of the bytes actually present, and the walk stops once both "fmt " and
 * "data" are found. The RIFF size only tells a cut file from a missing chunk.
 */
function* walkChunks(size: number, file: string): Generator<[number, number], { fmt: Span; data: Span }, Uint8Array> {
  const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
  let fmt: Span | null = null;
  let data: Span | null = null;
  let pos = 12;
  for (let chunks = 0; !fmt || !data; chunks++) {
    const wanted = !fmt ? '"fmt "' : '"data"';
    if (chunks === WAV_MAX_CHUNKS) throw new DataError('WAV_BAD_HEADER', `${file}: more than ${WAV_MAX_CHUNKS} chunks before the ${wanted} chunk; this is not a usable WAV file`);
    if (pos >= size) {
      // The file ended cleanly at a chunk boundary. If the RIFF header promised more, it was cut short.
      const promised = u32(yield [4, 4], 0);
      if (promised > size - 8) throw new DataError('WAV_TRUNCATED', `${file}: the file is truncated: the RIFF header promises ${promised} bytes after byte 8, but only ${size - 8} are present, and the ${wanted} chunk was not found`);
      throw new DataError('WAV_MISSING_CHUNK', `${file}: no ${!fmt ? '"fmt " chunk (the format description)' : '"data" chunk (the samples)'} was found; ${SUPPORTED}`);
    }
    if (size - pos < 8) {
      throw new DataError('WAV_TRUNCATED', `${file}: the file is truncated: it ends ${size - pos} byte(s) into a chunk header at byte ${pos} (a chunk header is 8 bytes), before the ${wanted} chunk was found`);
    }
    const h = yield [pos, 8];
    const id = fourcc(h, 0);
    const csize = u32(h, 4);
    const body = pos + 8;
    if (csize > size - body) {
      throw new DataError('WAV_TRUNCATED', `${file}: the file is truncated or the "${id}" chunk size lies: it promises ${csize} bytes${id === 'data' ? ' of samples' : ''}, but only ${size - body} bytes are present after byte ${body}`);
    }
    if (id === 'fmt ' && !fmt) fmt = { at: body, size: csize };
    if (id === 'data' && !data) data = { at: body, size: csize };
    // Chunks are word-aligned: an odd-sized chunk is followed by one pad byte (which may be
    // missing at the very end of the file). Always advances by at least 8, so the walk ends.
    pos = body + csize + (csize & 1);
  }
  return { fmt, data };
}

export function parseWav(bytes: Uint8Array, file = 'WAV'): Wav {
  const len = bytes.length;
  if (len < 12) {
    if (isRiffPrefix(bytes)) throw new DataError('WAV_TRUNCATED', `${file}: the file is ${len === 0 ? 'empty' : `truncated: ${len} bytes`}, but a RIFF/WAVE header needs at least 12`);
    throw new DataError('WAV_NOT_RIFF', `${file}: not a RIFF/WAVE file (${len} bytes, starting "${fourcc(bytes, 0)}"); ${SUPPORTED}`);
  }
  const riff = fourcc(bytes, 0);
  const wave = fourcc(bytes, 8);
  if (riff !== 'RIFF' || wave !== 'WAVE') {
    const why = riff === 'RIFX' ? 'big-endian RIFX is not supported' : riff === 'RF64' ? 'RF64 (64-bit RIFF) is not supported' : riff === 'RIFF' ? `the RIFF form type is "${wave}", not "WAVE"` : `it starts with "${riff}", not "RIFF"`;
    throw new DataError('WAV_NOT_RIFF', `${file}: not a RIFF/WAVE file: ${why}; ${SUPPORTED}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const walk = walkChunks(len, file);
  let step = walk.next();
  while (!step.done) step = walk.next(bytes.subarray(step.value[0], step.value[0] + step.value[1]));
  const { at: fmtAt, size: fmtSize } = step.value.fmt;
  const { at: dataAt, size: dataSize } = step.value.data;

  if (fmtSize < 16) throw new DataError('WAV_BAD_HEADER', `${file}: the "fmt " chunk is ${fmtSize} bytes, but a PCM format description needs at least 16`);
  const tag = view.getUint16(fmtAt, true);
  const channels = view.getUint16(fmtAt + 2, true);
  const sampleRate = view.getUint32(fmtAt + 4, true);
  const byteRate = view.getUint32(fmtAt + 8, true);
  const blockAlign = view.getUint16(fmtAt + 12, true);
  const bits = view.getUint16(fmtAt + 14, true);

  if (tag === WAVE_FORMAT_EXTENSIBLE) {
    if (fmtSize < 40) throw new DataError('WAV_BAD_HEADER', `${file}: the "fmt " chunk says WAVE_FORMAT_EXTENSIBLE but is only ${fmtSize} bytes (needs 40)`);
    const cbSize = view.getUint16(fmtAt + 16, true);
    if (cbSize < 22) throw new DataError('WAV_BAD_HEADER', `${file}: WAVE_FORMAT_EXTENSIBLE with an extension of ${cbSize} bytes (needs 22)`);
    const sub = view.getUint16(fmtAt + 24, true);
    let guidOk = true;
    for (let i = 0; i < GUID_TAIL.length; i++) if (bytes[fmtAt + 26 + i] !== GUID_TAIL[i]) guidOk = false;
    if (!guidOk) throw new DataError('WAV_NOT_PCM16', `${file}: WAVE_FORMAT_EXTENSIBLE with an unknown sub-format GUID; ${SUPPORTED}`);
    if (sub !== WAVE_FORMAT_PCM) throw new DataError('WAV_NOT_PCM16', `${file}: WAVE_FORMAT_EXTENSIBLE with sub-format ${formatName(sub)}, not PCM; ${SUPPORTED}`);
    const validBits = view.getUint16(fmtAt + 18, true);
    if (validBits > bits) throw new DataError('WAV_BAD_HEADER', `${file}: ${validBits} valid bits per sample in a ${bits}-bit container`);
  } else if (tag !== WAVE_FORMAT_PCM) {
    throw new DataError('WAV_NOT_PCM16', `${file}: audio format ${formatName(tag)}, not PCM; ${SUPPORTED}`);
  }
  if (bits !== 16) throw new DataError('WAV_NOT_PCM16', `${file}: ${bits} bits per sample, not 16; ${SUPPORTED}`);
  if (channels !== 1) {
    throw new DataError('WAV_NOT_MONO', `${file}: ${channels === 0 ? 'the header says 0 channels' : channels === 2 ? '2 channels (stereo)' : `${channels} channels`}, not 1; ${SUPPORTED}`);
  }
  if (sampleRate === 0) throw new DataError('WAV_BAD_HEADER', `${file}: the sample rate is 0 Hz`);
  if (blockAlign !== 2) throw new DataError('WAV_BAD_HEADER', `${file}: block align is ${blockAlign}, but 1 channel × 16 bits needs 2`);
  if (byteRate !== sampleRate * 2) throw new DataError('WAV_BAD_HEADER', `${file}: byte rate is ${byteRate}, but ${sampleRate} Hz × 2 bytes per frame = ${sampleRate * 2}`);

  if (dataSize === 0) throw new DataError('WAV_EMPTY', `${file}: the "data" chunk holds no samples`);
  if (dataSize % 2 !== 0) throw new DataError('WAV_BAD_HEADER', `${file}: the "data" chunk is ${dataSize} bytes, an odd length, but 16-bit samples take 2 bytes each`);

  const n = dataSize / 2;
  const samples = new Float32Array(n);
  for (let i = 0; i < n; i++) samples[i] = view.getInt16(dataAt + 2 * i, true) / 32768;
  return { sampleRate, samples };
}

/** RIFF sizes are 32-bit: no WAV file is larger. */
const WAV_MAX_BYTES = 8 + 2 ** 32;

export interface WavReadOptions {
  /** Refuse a file whose "data" chunk holds more samples than this, before reading them (`reason` says why). */
  maxSamples?: { samples: number; reason: (samples: number, sampleRate: number | null) => string };
  /** The file must lie inside this folder. */
  confineTo?: string;
}

/**
 * The bytes of a WAV file that parseWav needs: the chunks up to the end of the first "fmt " and
 * "data" chunks, found by walking the chunk headers (walkChunks) through a 64 KiB window (large
 * chunks are skipped, not read). Trailing chunks are not read, so memory is bounded by the samples
 * the file declares, and a damaged file (a chunk size that runs past the end, no "fmt " or "data")
 * is refused from its chunk headers, with the message parseWav would give. A file that is not
 * RIFF/WAVE gives its first 12 bytes (parseWav names the format).
 */
export async function readWavBytes(path: string, o: WavReadOptions = {}): Promise<Uint8Array> {
  return withInput(path, { what: 'WAV file', maxBytes: WAV_MAX_BYTES, confineTo: o.confineTo }, async (f) => {
    const size = f.size;
    if (size < 12) return f.readAll();
    const head = await f.read(0, 12);
    if (fourcc(head, 0) !== 'RIFF' || fourcc(head, 8) !== 'WAVE') return head; // parseWav names the format
    let window: Uint8Array = new Uint8Array(0);
    let windowAt = 0;
    const at = async (pos: number, n: number): Promise<Uint8Array> => {
      if (pos < windowAt || pos + n > windowAt + window.length) {
        window = await f.read(pos, Math.max(n, 2 ** 16));
        windowAt = pos;
      }
      return window.subarray(pos - windowAt, pos - windowAt + n);
    };
    const walk = walkChunks(size, path);
    let step = walk.next();
    while (!step.done) step = walk.next(await at(step.value[0], step.value[1]));
    const { fmt, data } = step.value;
    if (o.maxSamples && data.size / 2 > o.maxSamples.samples) {
      const rate = fmt.size >= 8 ? new DataView((await f.read(fmt.at + 4, 4)).buffer).getUint32(0, true) : null;
      throw new DataError('WAV_TOO_LONG', `${path}: ${o.maxSamples.reason(Math.floor(data.size / 2), rate || null)}`);
    }
    const end = Math.max(fmt.at + fmt.size, data.at + data.size);
    return end >= size ? f.readAll() : f.read(0, end);
  });
}

/** Read and parse a WAV file (Node, Deno and Bun: uses node:fs/promises), reading no more than its chunks declare. */
export async function readWav(path: string, o: WavReadOptions = {}): Promise<Wav> {
  return parseWav(await readWavBytes(path, o), path);
}
