// Untrusted input files (issue 14): one bounded reader for every input. Paths that are not regular
// files (folders, FIFOs, devices) are refused without blocking; sizes are checked against what the
// file's format or manifest declares before anything is read (sparse files stand in for huge ones,
// so no test writes or reads GBs); nothing ever reads more than the declared shape; AV-MNIST checks
// MNIST's dims, counts and labels; messages name the file and what to do.
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, createRuntime, DataError, defaultConfig, makeDataset, parseTrainConfig, Rng, type Runtime, serializeModel, train } from '../src/index.js';
import { encodeSafetensors, parseCsv } from '../src/io-node.js';
import { loadManifest } from '../src/data/manifest.js';
import { loadAvmnist } from '../src/data/avmnist.js';
import { readIdx } from '../src/data/idx.js';
import { parseWav, readWav } from '../src/data/wav.js';
import { loadModel, removeStaleTemporaries } from '../src/io/checkpoint-file.js';
import { loadData } from '../src/io/data.js';
import { fileError, readInput, readTextInput } from '../src/io/files.js';
import { loadState } from '../src/io/state.js';
import { loadTrainConfig } from '../src/io/config-file.js';
import { loadCompareConfig } from '../src/compare-config.js';

let dir: string;
let rt: Runtime;
let n = 0;
/** A fresh folder for one case. */
const fresh = async () => {
  const d = join(dir, `case-${n++}`);
  await mkdir(d, { recursive: true });
  return d;
};
const f32 = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);
const GiB = 2 ** 30;

/** The error `p` rejects with (failing if it resolves). */
async function rejected(p: Promise<unknown>): Promise<DataError> {
  try {
    await p;
  } catch (e) {
    return e as DataError;
  }
  throw new Error('expected the promise to reject');
}
function expectError(e: unknown, code: string, ...parts: (string | RegExp)[]): void {
  expect(e, String(e)).toBeInstanceOf(DataError);
  expect((e as DataError).code, (e as Error).message).toBe(code);
  for (const p of parts) typeof p === 'string' ? expect((e as Error).message).toContain(p) : expect((e as Error).message).toMatch(p);
}

let mkfifo = true;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'udi-inputs-'));
  rt = await createRuntime({ threads: 1 });
  try {
    execFileSync('mkfifo', [join(dir, 'probe.fifo')]);
  } catch {
    mkfifo = false;
  }
});
afterAll(async () => {
  rt.dispose();
  await rm(dir, { recursive: true, force: true });
});

// Every read of every reader goes through FileHandle.read with a buffer this code allocated: the spy
// records each buffer's size, so a test can bound what a reader allocated and read.
let reads: { bytes: number; buffer: number }[] = [];
beforeAll(async () => {
  const h = await open(new URL(import.meta.url).pathname);
  const proto = Object.getPrototypeOf(h) as { read: (...a: unknown[]) => Promise<unknown> };
  await h.close();
  const original = proto.read;
  vi.spyOn(proto, 'read').mockImplementation(function (this: unknown, ...a: unknown[]) {
    const buf = a[0] as Uint8Array;
    reads.push({ bytes: (a[2] as number) ?? buf.byteLength, buffer: buf.byteLength });
    return original.apply(this, a);
  });
});
afterEach(() => {
  reads = [];
});
const largestBuffer = () => Math.max(0, ...reads.map((r) => r.buffer));
const bytesRead = () => reads.reduce((s, r) => s + r.bytes, 0);

async function manifestCase(files: Record<string, string | Uint8Array>, manifest: unknown): Promise<string> {
  const d = await fresh();
  for (const [name, body] of Object.entries(files)) await writeFile(join(d, name), body);
  await writeFile(join(d, 'manifest.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  return d;
}

describe('the bounded reader', () => {
  it('names the path and the real reason: missing, a folder, a device, too large', async () => {
    expectError(await rejected(readInput(join(dir, 'nope.bin'), { what: 'test file', maxBytes: 100 })), 'MISSING_FILE', 'test file', 'nope.bin does not exist');
    expectError(await rejected(readInput(dir, { maxBytes: 100 })), 'NOT_A_FILE', `${dir} is a folder, not a regular file`);
    expectError(await rejected(readInput('/dev/zero', { maxBytes: 100 })), 'NOT_A_FILE', '/dev/zero is a character device');
    const big = join(await fresh(), 'big.bin');
    await writeFile(big, '');
    await truncate(big, 3 * GiB); // sparse: no bytes written
    const e = await rejected(readInput(big, { what: 'checkpoint', maxBytes: GiB, limitHint: 'use a smaller model' }));
    expectError(e, 'FILE_TOO_LARGE', /checkpoint .*big\.bin is 3\.00 GiB, larger than the 1\.00 GiB it may have; use a smaller model/);
    expect(reads).toEqual([]);
  });

  it('permission and other errors are reported as such, not as "does not exist"', () => {
    expectError(fileError(Object.assign(new Error('x'), { code: 'EACCES' }), '/p/f.csv', { what: 'labels file' }), 'FILE_PERMISSION', 'labels file /p/f.csv cannot be read: permission denied');
    expectError(fileError(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }), '/p/f.csv'), 'FILE_READ', '/p/f.csv cannot be read: EIO: i/o error');
    expectError(fileError(Object.assign(new Error('x'), { code: 'ENOTDIR' }), '/p/f.csv/x'), 'MISSING_FILE', 'does not exist');
  });

  it('a FIFO is refused at once instead of blocking', async (ctx) => {
    if (!mkfifo) return ctx.skip();
    const p = join(await fresh(), 'x.fifo');
    execFileSync('mkfifo', [p]);
    expectError(await rejected(readInput(p, { maxBytes: 100 })), 'NOT_A_FILE', 'is a FIFO (named pipe), not a regular file');
  });

  it('reads a file that changes size while it is read as an error, not a short buffer', async () => {
    const p = join(await fresh(), 'grow.bin');
    await writeFile(p, new Uint8Array(10));
    const e = await rejected(
      readInput(p, {
        maxBytes: 100,
        check: () => {
          execFileSync('truncate', ['-s', '20', p]);
        },
      }),
    );
    expectError(e, 'FILE_CHANGED', 'changed size while it was read');
  });

  it('text over the CSV limit is refused before reading, with what to do', async () => {
    const p = join(await fresh(), 'huge.csv');
    await writeFile(p, '');
    await truncate(p, 600 * 2 ** 20);
    expectError(await rejected(readTextInput(p, { what: 'CSV', limitHint: 'store it as float32' })), 'FILE_TOO_LARGE', 'larger than', 'store it as float32');
    expect(reads).toEqual([]);
  });
});

describe('manifests (issue 14, points 2, 6, 7, 10)', () => {
  const labels = '0\n1\n0\n';
  it('"/dev/zero", a FIFO or a folder as a modality file: refused at once, naming the manifest and the file', async () => {
    let d = await manifestCase({ 'labels.csv': labels }, { labels: 'labels.csv', modalities: { a: { file: '/dev/zero', shape: [3, 3] } } });
    expectError(await rejected(loadManifest(d)), 'NOT_A_FILE', 'manifest.json: modality "a" file /dev/zero is a character device, not a regular file');
    d = await manifestCase({ 'labels.csv': labels }, { labels: 'labels.csv', modalities: { a: { file: '.', shape: [3, 3] } } });
    expectError(await rejected(loadManifest(d)), 'NOT_A_FILE', 'is a folder');
    if (mkfifo) {
      d = await manifestCase({ 'labels.csv': labels }, { labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } });
      execFileSync('mkfifo', [join(d, 'a.csv')]);
      expectError(await rejected(loadManifest(d)), 'NOT_A_FILE', 'a.csv is a FIFO');
      d = await manifestCase({ 'labels.csv': labels }, { labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } });
      await rm(join(d, 'manifest.json'));
      execFileSync('mkfifo', [join(d, 'manifest.json')]);
      expectError(await rejected(loadManifest(d)), 'NOT_A_FILE', 'manifest.json is a FIFO');
    }
  });

  it('a 1 GiB file declared as shape [3, 3] is refused from its size alone, without reading a byte', async () => {
    const d = await manifestCase({ 'labels.csv': labels }, { labels: 'labels.csv', modalities: { a: { file: 'a.f32', shape: [3, 3] } } });
    await writeFile(join(d, 'a.f32'), '');
    await truncate(join(d, 'a.f32'), GiB);
    const rss = process.memoryUsage().arrayBuffers;
    expectError(await rejected(loadManifest(d)), 'BAD_SHAPE', 'a.f32: shape 3×3 needs 36 bytes of little-endian float32, the file has 1073741824');
    expect(process.memoryUsage().arrayBuffers - rss).toBeLessThan(16 * 2 ** 20);
    expect(largestBuffer()).toBeLessThan(100); // the manifest and labels only
  });

  it('a 3 GiB file is "too large" (with what to do), not "does not exist"', async () => {
    const d = await manifestCase({ 'labels.csv': labels }, { labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } });
    await writeFile(join(d, 'a.csv'), '');
    await truncate(join(d, 'a.csv'), 3 * GiB);
    expectError(await rejected(loadManifest(d)), 'FILE_TOO_LARGE', 'a.csv is 3.00 GiB', 'raw little-endian float32');
  });

  it('NaN in a raw float32 file and 1e39 in a CSV name the file, row and column', async () => {
    let d = await manifestCase({ 'labels.csv': labels, 'b.f32': f32([1, 2, 3, NaN, 5, 6]) }, { labels: 'labels.csv', modalities: { b: { file: 'b.f32', shape: [3, 2] } } });
    expectError(await rejected(loadManifest(d)), 'NON_FINITE', /b\.f32: modality "b" row 1 column 1 is NaN \(float32 number 3, byte 12\)/);
    d = await manifestCase({ 'labels.csv': labels, 'a.csv': '1,2\n3,1e39\n5,6\n' }, { labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } });
    expectError(await rejected(loadManifest(d)), 'NOT_A_NUMBER', /a\.csv: line 2, column 2 is "1e39", outside the float32 range/);
    expect(() => parseCsv('1,-3.5e38\n', 'x.csv')).toThrow(/x\.csv: line 1, column 2 is "-3\.5e38", outside the float32 range/);
    expect(parseCsv('3.4e38\n', 'x.csv').data[0]).toBeCloseTo(3.4e38, -32);
  });

  it('labels: above "classes", beyond float32 precision; a class with no training example names the labels file', async () => {
    let d = await manifestCase({ 'labels.csv': '0\n1\n7\n', 'a.csv': '1\n2\n3\n' }, { labels: 'labels.csv', classes: 3, modalities: { a: { file: 'a.csv' } } });
    expectError(await rejected(loadManifest(d)), 'BAD_LABEL', 'labels.csv: row 3 holds label 7', '"classes": 3');
    d = await manifestCase({ 'labels.csv': '0\n1\n3000000000\n', 'a.csv': '1\n2\n3\n' }, { labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } });
    expectError(await rejected(loadManifest(d)), 'BAD_LABEL', 'labels.csv: row 3 holds 3000000000', 'from 0 to 16777215');
    d = await manifestCase({ 'labels.csv': '0\n2\n0\n2\n', 'a.csv': '1\n2\n3\n4\n' }, { labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } });
    expectError(await rejected(loadData(rt, { kind: 'manifest', train: d, standardize: true }, { seed: 0, validationFraction: 0.1 })), 'CLASS_ABSENT', join(d, 'labels.csv'), 'class 1 has no example in this training data');
    const v = await manifestCase({ 'labels.csv': '0\n5\n', 'a.csv': '1\n2\n' }, { labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } });
    d = await manifestCase({ 'labels.csv': '0\n1\n0\n1\n', 'a.csv': '1\n2\n3\n4\n' }, { labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } });
    expectError(await rejected(loadData(rt, { kind: 'manifest', train: d, val: v, standardize: true }, { seed: 0, validationFraction: 0.1 })), 'BAD_LABEL', join(v, 'labels.csv'), 'holds label 5', 'has 2 classes');
  });

  it('a reserved modality name ("__proto__", "constructor") is an error, not silently dropped', async () => {
    for (const name of ['__proto__', 'constructor']) {
      const d = await manifestCase({ 'labels.csv': labels, 'a.csv': '1\n2\n3\n' }, `{"labels":"labels.csv","modalities":{"${name}":{"file":"a.csv"},"b":{"file":"a.csv"}}}`);
      expectError(await rejected(loadManifest(d)), 'BAD_MANIFEST', `"${name}" is a reserved name`);
    }
    expect(() => makeDataset(JSON.parse('{"__proto__":[[1],[2]],"b":[[1],[2]]}'), [0, 1])).toThrow(/reserved/);
    expect(({} as Record<string, unknown>).file).toBeUndefined();
  });

  it('confine: files outside the manifest\'s folder (../, absolute, a symbolic link out) are refused; by default they load', async () => {
    const outside = await fresh();
    await writeFile(join(outside, 'a.csv'), '1\n2\n3\n');
    const d = await manifestCase({ 'labels.csv': labels }, { labels: 'labels.csv', modalities: { a: { file: `../${outside.split('/').pop()}/a.csv` } } });
    expect((await loadManifest(d)).size).toBe(3);
    expectError(await rejected(loadManifest(d, { confine: true })), 'OUTSIDE_FOLDER', 'a.csv lies outside', 'confined to the manifest');
    const abs = await manifestCase({ 'labels.csv': labels }, { labels: 'labels.csv', modalities: { a: { file: join(outside, 'a.csv') } } });
    expectError(await rejected(loadManifest(abs, { confine: true })), 'OUTSIDE_FOLDER');
    const link = await manifestCase({ 'labels.csv': labels }, { labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } });
    await symlink(join(outside, 'a.csv'), join(link, 'a.csv'));
    expectError(await rejected(loadManifest(link, { confine: true })), 'OUTSIDE_FOLDER', `resolves to ${join(outside, 'a.csv')}`);
    const labelsOut = await manifestCase({ 'a.csv': '1\n2\n3\n' }, { labels: '/etc/hostname', modalities: { a: { file: 'a.csv' } } });
    expectError(await rejected(loadManifest(labelsOut, { confine: true })), 'OUTSIDE_FOLDER', 'labels file /etc/hostname');
    const inside = await manifestCase({ 'labels.csv': labels, 'a.csv': '1\n2\n3\n' }, { labels: './labels.csv', modalities: { a: { file: 'a.csv' } } });
    expect((await loadManifest(inside, { confine: true })).size).toBe(3);
  });
});

describe('no read allocates more than the declared shape needs', () => {
  it('raw float32: any declared shape against any file size: refused before reading, or exactly the shape read', async () => {
    const d = await fresh();
    await writeFile(join(d, 'labels.csv'), '0\n1\n'.repeat(50));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 2 ** 31 }), fc.boolean(), async (rows, dim, size, exact) => {
        const need = rows * dim * 4;
        const bytes = exact ? need : size;
        await writeFile(join(d, 'a.f32'), '');
        await truncate(join(d, 'a.f32'), bytes); // zeros, sparse
        const manifest = JSON.stringify({ modalities: { a: { file: 'a.f32', shape: [rows, dim] } } });
        await writeFile(join(d, 'manifest.json'), manifest);
        reads = [];
        const r = await loadManifest(d, { labelsOptional: true }).then(
          (ds) => ds,
          (e) => e as DataError,
        );
        const manifestBytes = manifest.length;
        if (bytes === need) {
          expect(r).toMatchObject({ size: rows });
          expect(largestBuffer()).toBe(Math.max(need, manifest.length));
        } else expectError(r, 'BAD_SHAPE');
        expect(largestBuffer()).toBeLessThanOrEqual(Math.max(need, manifestBytes));
        expect(bytesRead()).toBeLessThanOrEqual(need + manifestBytes + 2); // + the 1-byte probes that the files did not grow
      }),
      { seed: 14, numRuns: 40 },
    );
  });

  it('IDX: a raw file longer or shorter than its header declares is refused before its data is read', async () => {
    const d = await fresh();
    const head = Uint8Array.from([0, 0, 0x08, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28]);
    await writeFile(join(d, 'img'), head);
    await truncate(join(d, 'img'), GiB);
    expectError(await rejected(readIdx(join(d, 'img'))), 'IDX_TRAILING', /unexpected bytes after the 7840 bytes of data for dims 10×28×28/);
    expect(largestBuffer()).toBeLessThanOrEqual(1024);
    await truncate(join(d, 'img'), 100);
    expectError(await rejected(readIdx(join(d, 'img'))), 'IDX_TRUNCATED', 'expected 7840 bytes of data for dims 10×28×28, found 84');
    await truncate(join(d, 'img'), 16 + 7840);
    expect((await readIdx(join(d, 'img'))).dims).toEqual([10, 28, 28]);
    expect(bytesRead()).toBeLessThanOrEqual(1024 + 100 + 1024 + 16 + 7840 + 1);
    // gzip: the header comes from the first compressed bytes; a file far larger than its data could need is refused unread.
    const gz = gzipSync(new Uint8Array(await readFile(join(d, 'img'))));
    await writeFile(join(d, 'img.gz'), gz);
    expect((await readIdx(join(d, 'img.gz'))).dims).toEqual([10, 28, 28]);
    await truncate(join(d, 'img.gz'), GiB);
    reads = [];
    expectError(await rejected(readIdx(join(d, 'img.gz'))), 'IDX_TRAILING', /img\.gz: 1073741824 bytes of gzip data for 7840 bytes of data \(dims 10×28×28\)/);
    expect(largestBuffer()).toBeLessThanOrEqual(2 ** 20);
    await writeFile(join(d, 'bad.gz'), Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff));
    expectError(await rejected(readIdx(join(d, 'bad.gz'))), 'IDX_BAD_GZIP', 'no IDX header');
  });

  it('WAV: only the chunks up to the end of "data" are read, however much follows', async () => {
    const d = await fresh();
    const wav = wavBytes(1000);
    await writeFile(join(d, 'x.wav'), wav);
    await truncate(join(d, 'x.wav'), GiB); // a gigabyte of trailing zeros (one endless zero chunk)
    const w = await readWav(join(d, 'x.wav'));
    expect(w.samples.length).toBe(1000);
    expect(reads.length, 'the spy sees the reads').toBeGreaterThan(2);
    // The chunk headers are walked through one 64 KiB window; then exactly the declared chunks are read.
    expect(reads.map((r) => r.buffer).filter((b) => b !== 2 ** 16)).toEqual([12, wav.length]);
    expect(bytesRead()).toBeLessThanOrEqual(12 + 2 ** 16 + wav.length);
  });

  it('WAV: a huge file that is not RIFF, is all empty chunks, or has a lying chunk size is refused from its first bytes', async () => {
    const d = await fresh();
    const p = join(d, 'x.wav');
    await writeFile(p, 'ID3 not a wave file');
    await truncate(p, GiB);
    expectError(await rejected(readWav(p)), 'WAV_NOT_RIFF', /x\.wav: not a RIFF\/WAVE file: it starts with "ID3 "/);
    expect(bytesRead()).toBeLessThanOrEqual(12 + 1);
    const wav = wavBytes(10);
    await writeFile(p, wav.subarray(0, 36)); // RIFF, WAVE, fmt; then a gigabyte of empty chunks
    await truncate(p, GiB);
    reads = [];
    expectError(await rejected(readWav(p)), 'WAV_BAD_HEADER', 'more than 1000000 chunks before the "data" chunk');
    expect(largestBuffer()).toBeLessThanOrEqual(2 ** 16);
    const lying = wavBytes(10, 2 ** 30); // the data chunk promises a gigabyte
    await writeFile(p, lying);
    await truncate(p, 100 * 2 ** 20);
    reads = [];
    expectError(await rejected(readWav(p)), 'WAV_TRUNCATED', 'the "data" chunk size lies: it promises 2147483648 bytes of samples, but only 104857556 bytes are present after byte 44');
    expect(largestBuffer()).toBeLessThanOrEqual(2 ** 16);
  });

  it('WAV: a damaged file gives the same error read from its file as parsed in memory (one chunk walk)', async () => {
    const d = await fresh();
    const p = join(d, 'x.wav');
    const ok = wavBytes(10);
    const lyingList = Uint8Array.from([...ok.subarray(0, 36), ...new TextEncoder().encode('LIST'), 0xff, 0, 0, 0, ...ok.subarray(36)]);
    for (const bytes of [lyingList, ok.subarray(0, 36), ok.subarray(0, 40), Uint8Array.from([...ok.subarray(0, 12), ...ok.subarray(36)])]) {
      await writeFile(p, bytes);
      const fromFile = await rejected(readWav(p));
      let inMemory: unknown;
      try {
        parseWav(bytes, p);
      } catch (e) {
        inMemory = e;
      }
      expect(inMemory).toBeInstanceOf(DataError);
      expect([fromFile.code, fromFile.message]).toEqual([(inMemory as DataError).code, (inMemory as DataError).message]);
    }
  });

  it('safetensors (checkpoints, states): the header is read first; a file longer or shorter than it declares is refused before its data', async () => {
    const d = await fresh();
    const bytes = encodeSafetensors({ w: { shape: [4], data: Float32Array.of(1, 2, 3, 4) } }, { format: 'udi-wasm-state/1' });
    await writeFile(join(d, 'state.safetensors'), bytes);
    await truncate(join(d, 'state.safetensors'), GiB);
    expectError(await rejected(loadState(join(d, 'state.safetensors'))), 'ST_BAD_OFFSETS', 'the tensors cover 16 data bytes, but the file holds');
    expect(largestBuffer()).toBeLessThanOrEqual(bytes.length);
    await truncate(join(d, 'state.safetensors'), bytes.length - 4);
    expectError(await rejected(loadState(join(d, 'state.safetensors'))), 'ST_TRUNCATED', 'the tensors declare 16 data bytes, but the file holds 12');
    // A header that claims a gigabyte tensor in a small file.
    const lying = encodeSafetensors({ w: { shape: [4], data: Float32Array.of(1, 2, 3, 4) } }, {});
    const text = new TextDecoder().decode(lying.subarray(8, 8 + Number(new DataView(lying.buffer).getBigUint64(0, true))));
    const forged = text.replace('"shape":[4]', `"shape":[${GiB / 4}]`).replace('"data_offsets":[0,16]', `"data_offsets":[0,${GiB}]`);
    const head = new TextEncoder().encode(forged);
    const b = new Uint8Array(8 + head.length + 16);
    new DataView(b.buffer).setBigUint64(0, BigInt(head.length), true);
    b.set(head, 8);
    await writeFile(join(d, 'model.safetensors'), b);
    reads = [];
    expectError(await rejected(loadModel(rt, join(d, 'model.safetensors'))), 'ST_TRUNCATED', `the tensors declare ${GiB} data bytes`);
    expect(largestBuffer()).toBeLessThanOrEqual(head.length);
  });

  it('a checkpoint larger than the runtime\'s memory limit is refused before reading', async () => {
    const p = join(await fresh(), 'model.safetensors');
    await writeFile(p, '');
    await truncate(p, 3 * GiB);
    expectError(await rejected(loadModel(rt, p)), 'FILE_TOO_LARGE', /checkpoint .* is 3\.00 GiB/, 'memory limit');
    expect(reads).toEqual([]);
  });
});

/** A PCM 16-bit mono WAV of n samples at 8000 Hz. */
function wavBytes(n: number, declared = n): Uint8Array {
  const b = new Uint8Array(44 + 2 * n);
  const v = new DataView(b.buffer);
  b.set([0x52, 0x49, 0x46, 0x46], 0);
  v.setUint32(4, 36 + 2 * declared, true);
  b.set([0x57, 0x41, 0x56, 0x45, 0x66, 0x6d, 0x74, 0x20], 8);
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, 8000, true);
  v.setUint32(28, 16000, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  b.set([0x64, 0x61, 0x74, 0x61], 36);
  v.setUint32(40, 2 * declared, true);
  for (let i = 0; i < n; i++) v.setInt16(44 + 2 * i, Math.round(8000 * Math.sin(i / 5)), true);
  return b;
}

/** An IDX file: ubyte values with the given dims. */
function idx(dims: number[], values: (i: number) => number): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  const b = new Uint8Array(4 + 4 * dims.length + count);
  b.set([0, 0, 0x08, dims.length]);
  const v = new DataView(b.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) b[4 + 4 * dims.length + i] = values(i);
  return b;
}

describe('AV-MNIST checks MNIST dims, counts and labels (issue 14, point 1), and clip lengths (point 6)', () => {
  /** A tiny AV-MNIST folder: recordings of digits 0 and 1 (train and test), MNIST files as given. */
  async function avmnist(mnist: { trImg?: Uint8Array; trLab?: Uint8Array; teImg?: Uint8Array; teLab?: Uint8Array } = {}, wav = wavBytes(2000)) {
    const d = await fresh();
    await mkdir(join(d, 'fsdd', 'recordings'), { recursive: true });
    await mkdir(join(d, 'mnist'));
    for (const f of ['0_ann_0.wav', '1_ann_0.wav', '0_ann_5.wav', '1_ann_5.wav']) await writeFile(join(d, 'fsdd', 'recordings', f), wav);
    const lab = (n: number) => idx([n], (i) => i % 10);
    await writeFile(join(d, 'mnist', 'train-images-idx3-ubyte'), mnist.trImg ?? idx([20, 28, 28], (i) => i % 251));
    await writeFile(join(d, 'mnist', 'train-labels-idx1-ubyte'), mnist.trLab ?? lab(20));
    await writeFile(join(d, 'mnist', 't10k-images-idx3-ubyte'), mnist.teImg ?? idx([10, 28, 28], (i) => i % 241));
    await writeFile(join(d, 'mnist', 't10k-labels-idx1-ubyte'), mnist.teLab ?? lab(10));
    return d;
  }

  it('well-formed tiny files load', async () => {
    const d = await loadAvmnist(rt, { dataDir: await avmnist() });
    expect(d.labels.length).toBe(4);
  });

  it('images of the wrong dims (N×10×10), labels that are not digits, counts that differ: each named', async () => {
    const mn = (d: string, f: string) => join(d, 'mnist', f);
    let d = await avmnist({ trImg: idx([20, 10, 10], () => 1) });
    expectError(await rejected(loadAvmnist(rt, { dataDir: d })), 'MNIST_BAD_SHAPE', mn(d, 'train-images-idx3-ubyte'), 'holds dims 20×10×10', '28×28');
    d = await avmnist({ trLab: idx([20], (i) => (i === 7 ? 200 : i % 10)) });
    expectError(await rejected(loadAvmnist(rt, { dataDir: d })), 'MNIST_BAD_LABEL', mn(d, 'train-labels-idx1-ubyte'), 'label 200 at position 7');
    d = await avmnist({ teImg: idx([3, 28, 28], () => 0) });
    expectError(await rejected(loadAvmnist(rt, { dataDir: d })), 'MNIST_COUNT', 't10k-images-idx3-ubyte holds 3 images but', 't10k-labels-idx1-ubyte holds 10 labels');
    d = await avmnist({ teLab: idx([10, 1], () => 0) });
    expectError(await rejected(loadAvmnist(rt, { dataDir: d })), 'MNIST_BAD_SHAPE', 'one unsigned byte per image');
  });

  it('a recording too long for WebAssembly memory: a message the CLI user can act on, before its samples are read', async () => {
    const small = await createRuntime({ threads: 1, memoryLimitMiB: 32 });
    try {
      const d = await avmnist();
      const p = join(d, 'fsdd', 'recordings', '1_ann_5.wav');
      const n = 4_000_000; // 500 s at 8 kHz: 8 MB of samples, 50 MB of features
      await writeFile(p, wavBytes(0, n));
      await truncate(p, 44 + 2 * n);
      reads = [];
      const e = await rejected(loadAvmnist(small, { dataDir: d }));
      expectError(e, 'WAV_TOO_LONG', p, '500.0 s of audio (4000000 samples at 8000 Hz)', 'trim or split this recording');
      expect(e.message).not.toMatch(/createRuntime/);
      expect(largestBuffer()).toBeLessThan(2 ** 20);
    } finally {
      small.dispose();
    }
  });
});

describe('configs (points 7, 9)', () => {
  it('encoders.__proto__ (and other reserved names) are errors, as a top-level __proto__ is', () => {
    const cfg = JSON.parse('{"data":{"kind":"mfeat"},"encoders":{"__proto__":{"type":"mlp","hidden":[4]},"fac":{"type":"mlp","hidden":[4]}}}');
    expect(() => parseTrainConfig(cfg, 'c.json')).toThrow(ConfigError);
    expect(() => parseTrainConfig(cfg, 'c.json')).toThrow(/c\.json[\s\S]*encoders\.__proto__: "__proto__" is a reserved name/);
    expect(() => parseTrainConfig({ data: { kind: 'mfeat' }, encoders: { constructor: { type: 'mlp', hidden: [4] } } })).toThrow(/encoders\.constructor: "constructor" is a reserved name/);
    expect(parseTrainConfig({ data: { kind: 'mfeat' }, encoders: { fac: { type: 'mlp', hidden: [4] } } }).encoders).toEqual({ fac: { type: 'mlp', hidden: [4], activation: 'relu', dropout: 0 } });
  });

  it('relative paths resolve against the config file\'s folder, not the working directory', async () => {
    const d = await fresh();
    await mkdir(join(d, 'sub'));
    await writeFile(join(d, 'sub', 'cfg.json'), JSON.stringify({ data: { kind: 'manifest', train: 'data/m.json', val: '../v' } }));
    const c = await loadTrainConfig(join(d, 'sub', 'cfg.json'));
    expect(c.data).toMatchObject({ train: join(d, 'sub', 'data', 'm.json'), val: join(d, 'v') });
    await writeFile(join(d, 'a.json'), JSON.stringify({ data: { kind: 'avmnist', dir: 'shared' } }));
    expect((await loadTrainConfig(join(d, 'a.json'))).data).toMatchObject({ dir: join(d, 'shared') });
    expectError(await rejected(loadTrainConfig(join(d, 'none.json'))), 'MISSING_FILE', `config ${join(d, 'none.json')} does not exist`);
    await writeFile(join(d, 'bad.json'), '{ "data": ');
    expectError(await rejected(loadTrainConfig(join(d, 'bad.json'))), 'BAD_JSON', 'bad.json is not valid JSON');
    if (mkfifo) {
      execFileSync('mkfifo', [join(d, 'fifo.json')]);
      expectError(await rejected(loadTrainConfig(join(d, 'fifo.json'))), 'NOT_A_FILE', 'is a FIFO');
    }
  });
});

describe('configs written by earlier versions: paths relative to the working directory', () => {
  it('a path missing beside the config but present in the working directory is taken from there, with one warning', async () => {
    const d = await fresh();
    await mkdir(join(d, 'project', 'data'), { recursive: true });
    await mkdir(join(d, 'project', 'mfeat'), { recursive: true });
    await mkdir(join(d, 'runs', 'mine'), { recursive: true });
    // As an earlier `udi train` wrote it, run from d: paths relative to d, not to runs/mine.
    const file = join(d, 'runs', 'mine', 'config.json');
    await writeFile(file, JSON.stringify({ data: { kind: 'manifest', train: 'project/data', test: 'project/data', val: 'nowhere' } }));
    const warnings: string[] = [];
    const c = await loadTrainConfig(file, { cwd: d, warn: (m) => warnings.push(m) });
    // val exists in neither place: it stays beside the config (the error when it is read names that path).
    expect(c.data).toMatchObject({ train: join(d, 'project', 'data'), test: join(d, 'project', 'data'), val: join(d, 'runs', 'mine', 'nowhere') });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toBe(
      `${file}: data.train "project/data" (${join(d, 'project', 'data')}), data.test "project/data" (${join(d, 'project', 'data')}) do not exist relative to the config's folder (${join(d, 'runs', 'mine')}) ` +
        `but do relative to the working directory (${d}), so those paths are used (configs written by earlier versions hold paths relative to the working directory); write absolute paths in the config to make it unambiguous`,
    );
    // Present beside the config: that one wins, silently. Absolute paths never fall back.
    await mkdir(join(d, 'runs', 'mine', 'project', 'data'), { recursive: true });
    warnings.length = 0;
    expect((await loadTrainConfig(file, { cwd: d, warn: (m) => warnings.push(m) })).data).toMatchObject({ train: join(d, 'runs', 'mine', 'project', 'data') });
    expect(warnings).toEqual([]);
    // A dataset folder, and the same resolution in a compare config (whose "out" resolves beside it).
    await writeFile(file, JSON.stringify({ data: { kind: 'mfeat', dir: 'project/mfeat' } }));
    expect((await loadTrainConfig(file, { cwd: d, warn: (m) => warnings.push(m) })).data).toMatchObject({ dir: join(d, 'project', 'mfeat') });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`data.dir "project/mfeat" (${join(d, 'project', 'mfeat')})`);
    const cmp = join(d, 'runs', 'mine', 'compare.json');
    await writeFile(cmp, JSON.stringify({ data: { kind: 'mfeat', dir: 'project/mfeat' }, out: 'results' }));
    const cwd = process.cwd();
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      process.chdir(d);
      const cc = await loadCompareConfig(cmp);
      expect(cc.data).toMatchObject({ dir: join(d, 'project', 'mfeat') });
      expect(cc.out).toBe(join(d, 'runs', 'mine', 'results'));
      expect(stderr.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(/^udi: warning: .*compare\.json: data\.dir "project\/mfeat" .* write absolute paths in the config to make it unambiguous\n$/)]);
    } finally {
      process.chdir(cwd);
      stderr.mockRestore();
    }
  });
});

describe('temporary files of interrupted writes (point 8)', () => {
  it('those of dead processes (and our own) are removed; a live process\'s and other files are kept', async () => {
    const d = await fresh();
    const dead = 2 ** 22 + 12345; // above Linux's pid_max: no such process
    const names = [`state.safetensors.tmp-${dead}-1700000000000`, `model.safetensors.tmp-${process.pid}-1`, `state.safetensors.tmp-1-1700000000000`, 'notes.txt.tmp-5-5', 'state.safetensors'];
    for (const f of names) await writeFile(join(d, f), 'x');
    const removed = await removeStaleTemporaries(d, ['state.safetensors', 'model.safetensors']);
    expect(removed.map((p) => p.split('/').pop()).sort()).toEqual([names[1], names[0]].sort());
    expect((await readdir(d)).sort()).toEqual([names[2], names[3], names[4]].sort()); // pid 1 is alive
  });
});

describe('a real checkpoint and state survive the bounded readers', () => {
  it('save, load, predict the same bits', async () => {
    const rng = new Rng(4);
    const labels = Int32Array.from({ length: 40 }, () => rng.below(2));
    const ds = makeDataset({ a: { data: Float32Array.from({ length: 120 }, () => rng.next() / 2 ** 32), dim: 3 }, b: { data: Float32Array.from({ length: 80 }, () => rng.next() / 2 ** 32), dim: 2 } }, labels, 2);
    const cfg = defaultConfig({ a: { type: 'mlp', hidden: [4] }, b: { type: 'mlp', hidden: [4] } });
    cfg.solo.epochs = cfg.guided.epochs = 1;
    const { model } = await train(rt, 'udi', { train: ds }, cfg);
    const p = join(await fresh(), 'model.safetensors');
    await writeFile(p, await serializeModel(model));
    const { model: back } = await loadModel(rt, p);
    expect(back.net.classes).toBe(2);
  });
});
