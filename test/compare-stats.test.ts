// Paired statistics of `udi compare` (bootstrap interval, pairing, wins/ties/losses, per-fold means),
// the repeated stratified-split protocol for a user's data, and the compare config's validation.
import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../src/compare.js';
import { parseCompareConfig } from '../src/compare-config.js';
import { bootstrapMeanCI, pairedDifferences, perFold, referencesOf } from '../src/compare-stats.js';
import { renderMarkdown, renderPairedTable } from '../src/report.js';
import { makeDataset } from '../src/data/dataset.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime } from '../src/index.js';
import { loadData, repeatedSplit } from '../src/io/data.js';
import { defaultConfig, type Method } from '../src/train/methods.js';

describe('bootstrapMeanCI', () => {
  it('all differences equal: the mean and both ends are that value, exactly', () => {
    for (const d of [0, 0.1, -2.5, 1 / 3]) {
      const r = bootstrapMeanCI([d, d, d, d, d, d, d]);
      expect(r).toEqual({ n: 7, mean: d, lo: d, hi: d });
    }
  });

  it('n = 1: the interval is the single difference', () => {
    expect(bootstrapMeanCI([3.7])).toEqual({ n: 1, mean: 3.7, lo: 3.7, hi: 3.7 });
  });

  it('follows the sign of the differences and contains the mean', () => {
    const pos = [1.2, 0.8, 2.0, 1.5, 0.4, 1.1];
    const r = bootstrapMeanCI(pos);
    expect(r.lo).toBeGreaterThan(0);
    expect(r.lo).toBeLessThanOrEqual(r.mean);
    expect(r.hi).toBeGreaterThanOrEqual(r.mean);
    const neg = bootstrapMeanCI(pos.map((x) => -x));
    expect(neg.mean).toBeCloseTo(-r.mean, 12);
    // The same resampling indices: the interval mirrors exactly.
    expect(neg.lo).toBeCloseTo(-r.hi, 12);
    expect(neg.hi).toBeCloseTo(-r.lo, 12);
    const mixed = bootstrapMeanCI([-1, 1, -0.5, 0.5, 2, -2]);
    expect(mixed.lo).toBeLessThan(0);
    expect(mixed.hi).toBeGreaterThan(0);
  });

  it('stays within [min, max] and narrows with more pairs', () => {
    const xs = [0.2, -0.4, 1.0, 0.6, 0.0, 0.8];
    const r = bootstrapMeanCI(xs);
    expect(r.lo).toBeGreaterThanOrEqual(-0.4);
    expect(r.hi).toBeLessThanOrEqual(1.0);
    const big = bootstrapMeanCI(Array.from({ length: 16 }, () => xs).flat());
    expect(big.hi - big.lo).toBeLessThan(r.hi - r.lo);
    expect(big.mean).toBeCloseTo(r.mean, 12);
  });

  it('is deterministic given the seed, and the seed matters', () => {
    const xs = [0.3, -1.2, 2.4, 0.9, -0.1, 1.7, 0.0, 0.5];
    expect(bootstrapMeanCI(xs)).toEqual(bootstrapMeanCI(xs));
    expect(bootstrapMeanCI(xs, { seed: 5 })).toEqual(bootstrapMeanCI(xs, { seed: 5 }));
    const a = bootstrapMeanCI(xs, { seed: 1 }),
      b = bootstrapMeanCI(xs, { seed: 2 });
    expect([a.lo, a.hi]).not.toEqual([b.lo, b.hi]);
    // Close to the normal-theory interval for a mean (a loose sanity check).
    const m = xs.reduce((s, x) => s + x, 0) / xs.length;
    const se = Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length / xs.length);
    expect(a.lo).toBeGreaterThan(m - 2.6 * se);
    expect(a.lo).toBeLessThan(m - 1.4 * se);
    expect(a.hi).toBeGreaterThan(m + 1.4 * se);
    expect(a.hi).toBeLessThan(m + 2.6 * se);
  });

  it('rejects empty or non-finite input', () => {
    expect(() => bootstrapMeanCI([])).toThrow(/no differences/);
    expect(() => bootstrapMeanCI([1, NaN])).toThrow(/difference 1 is NaN/);
  });
});

const rec = (method: Method, fold: number, seed: number, fusedAcc: number): RunRecord => ({
  method,
  fold,
  seed,
  fusedAcc,
  fusedF1: fusedAcc,
  valFusedAcc: fusedAcc,
  soloAcc: {},
  inModelAcc: {},
  anchor: null,
  anchorReason: null,
  guided: null,
  updates: {},
  wallMs: 1,
  stages: [],
  curves: [],
  lambda: [],
});

describe('pairedDifferences and perFold', () => {
  // 2 folds × 2 seeds; udi beats ensemble on 2 pairs, ties 1 (within 1e-9), loses 1.
  const runs = [
    rec('ensemble', 0, 0, 0.9),
    rec('udi', 0, 0, 0.92),
    rec('unimodal', 0, 0, 0.85),
    rec('ensemble', 0, 1, 0.9),
    rec('udi', 0, 1, 0.9 + 1e-12),
    rec('unimodal', 0, 1, 0.86),
    rec('ensemble', 1, 0, 0.8),
    rec('udi', 1, 0, 0.83),
    rec('unimodal', 1, 0, 0.8),
    rec('ensemble', 1, 1, 0.8),
    rec('udi', 1, 1, 0.79),
    // unimodal fold 1 seed 1 missing: that pair is left out of unimodal's rows
  ];
  const methods: Method[] = ['udi', 'ensemble', 'unimodal'];

  it('pairs by (fold, seed), in points, with wins/ties/losses; reference pairs once', () => {
    const refs = referencesOf(methods);
    expect(refs).toEqual(['ensemble', 'unimodal']);
    const p = pairedDifferences(runs, methods, refs);
    expect(p.map((x) => `${x.method}-${x.reference}`)).toEqual(['udi-ensemble', 'udi-unimodal', 'ensemble-unimodal']);
    const ue = p[0];
    expect(ue.n).toBe(4);
    expect(ue.meanDiff).toBeCloseTo((2 + 0 + 3 - 1) / 4, 9);
    expect([ue.wins, ue.ties, ue.losses]).toEqual([2, 1, 1]);
    expect(ue.ci95[0]).toBeLessThanOrEqual(ue.meanDiff);
    expect(ue.ci95[1]).toBeGreaterThanOrEqual(ue.meanDiff);
    const uu = p[1];
    expect(uu.n).toBe(3);
    expect(uu.meanDiff).toBeCloseTo((7 + 4 + 3) / 3, 9);
    expect([uu.wins, uu.ties, uu.losses]).toEqual([3, 0, 0]);
    const eu = p[2];
    expect([eu.n, eu.wins, eu.ties, eu.losses]).toEqual([3, 2, 1, 0]);
  });

  it('uses only the references given, and none when none was run', () => {
    expect(referencesOf(['udi', 'joint'])).toEqual([]);
    expect(pairedDifferences(runs, methods, ['udi']).map((x) => `${x.method}-${x.reference}`)).toEqual(['ensemble-udi', 'unimodal-udi']);
    expect(pairedDifferences(runs, methods, [])).toEqual([]);
  });

  it('per-fold means over seeds', () => {
    const f = perFold(runs, methods);
    const get = (m: Method, fold: number) => f.find((x) => x.method === m && x.fold === fold)!;
    expect(get('udi', 0).fusedAcc).toBeCloseTo(0.91, 9);
    expect(get('udi', 1).fusedAcc).toBeCloseTo(0.81, 9);
    expect(get('unimodal', 1)).toMatchObject({ runs: 1, fusedAcc: 0.8 });
  });

  it('renders the tables', () => {
    const report = {
      dataset: 'test',
      views: ['a', 'b'],
      protocol: 'p',
      createdAt: '',
      options: {} as never,
      runs,
      summary: methods.map((method) => ({ method, runs: 1, fusedAcc: { mean: 0.9, std: 0 }, fusedF1: { mean: 0.9, std: 0 }, valFusedAcc: { mean: 0.9, std: 0 }, soloAcc: {}, inModelAcc: {}, wallMs: { mean: 1, std: 0 }, anchors: {} })),
      perFold: perFold(runs, methods),
      paired: pairedDifferences(runs, methods, ['ensemble']),
      pairedBootstrap: { resamples: 10000, seed: 0, confidence: 0.95, unit: 'pairs' },
    };
    const t = renderPairedTable(report);
    expect(t.split('\n')[0]).toBe('| method | reference | n | mean diff (points) | 95% CI (points) | wins/ties/losses |');
    expect(t).toMatch(/\| udi \| ensemble \| 4 \| \+1\.00 \| \[[−+]?\d+\.\d\d, \+\d+\.\d\d\] \| 2\/1\/1 \|/);
    const md = renderMarkdown(report);
    expect(md).toContain('## Paired differences');
    expect(md).toContain('| method | fold 0 | fold 1 |');
    expect(md).toContain('| udi | 91.0 | 81.0 |');
  });
});

describe('repeatedSplit (a manifest fold)', () => {
  const n = 60;
  const labels = Array.from({ length: n }, (_, i) => i % 3);
  const ds = makeDataset(
    {
      a: Array.from({ length: n }, (_, i) => [i, labels[i] * 10 + (i % 7)]),
      b: Array.from({ length: n }, (_, i) => [100 + 3 * i]),
    },
    labels,
  );
  const opts = { fold: 0, seed: 0, testFraction: 0.2, validationFraction: 0.1, standardize: true };

  it('carves a stratified test and validation part, disjoint, standardised with the fit part only', () => {
    const s = repeatedSplit({ train: ds }, opts);
    expect(s.test!.size).toBe(12);
    expect(s.val!.size).toBe(6);
    expect(s.train.size).toBe(42);
    for (const part of [s.train, s.val!, s.test!]) for (let c = 0; c < 3; c++) expect(part.labels.filter((y) => y === c).length).toBe(part.size / 3);
    // Column 0 of "a" is the row number: the parts are disjoint and cover every row.
    const rowsOf = (d: typeof s.train) => Array.from({ length: d.size }, (_, i) => Math.round(d.modalities.a.data[i * 2] * s.stats.a.std[0] + s.stats.a.mean[0]) + 0); // + 0: no -0
    const all = [...rowsOf(s.train), ...rowsOf(s.val!), ...rowsOf(s.test!)].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
    // Standardised with the fit part's statistics: mean 0 there, not on the other parts.
    const meanOf = (d: typeof s.train) => d.modalities.b.data.reduce((x, v) => x + v, 0) / d.size;
    expect(Math.abs(meanOf(s.train))).toBeLessThan(1e-5);
    const fitRows = rowsOf(s.train);
    expect(s.stats.b.mean[0]).toBeCloseTo(100 + (3 * fitRows.reduce((x, r) => x + r, 0)) / fitRows.length, 6);
  });

  it('fold f uses seed 1000 + f for test, the run seed for validation; deterministic', () => {
    const testRows = (o: typeof opts) => Array.from(repeatedSplit({ train: ds }, { ...o, standardize: false }).test!.modalities.a.data.filter((_, i) => i % 2 === 0));
    expect(testRows(opts)).toEqual(testRows(opts));
    expect(testRows({ ...opts, fold: 1 })).not.toEqual(testRows(opts));
    expect(testRows({ ...opts, seed: 5 })).toEqual(testRows(opts)); // the run seed moves validation only
    const valRows = (o: typeof opts) => Array.from(repeatedSplit({ train: ds }, { ...o, standardize: false }).val!.modalities.a.data.filter((_, i) => i % 2 === 0));
    expect(valRows({ ...opts, seed: 5 })).not.toEqual(valRows(opts));
  });

  it('a separate test set is used as it is; modalities can be chosen', () => {
    const s = repeatedSplit({ train: ds, test: ds }, { ...opts, modalities: ['b'] });
    expect(s.test!.size).toBe(60);
    expect(s.train.size + s.val!.size).toBe(60);
    expect(Object.keys(s.train.modalities)).toEqual(['b']);
  });
});

describe('loadData: validation rows are in no standardisation statistic', () => {
  const part = { seed: 3, validationFraction: 0.1 };
  /** Per-feature means of a part's first modality (standardised data: 0 on the rows the statistics came from). */
  const maxAbsMean = (d: { size: number; modalities: Record<string, { data: Float32Array; dim: number }> }) => {
    const m = Object.values(d.modalities)[0];
    let worst = 0;
    for (let j = 0; j < m.dim; j++) {
      let s = 0;
      for (let i = 0; i < d.size; i++) s += m.data[i * m.dim + j];
      worst = Math.max(worst, Math.abs(s / d.size));
    }
    return worst;
  };

  it('mfeat: a 25% test split, then the validation part train() would carve, then statistics of the rest', async () => {
    const rt = await createRuntime({ threads: 1 });
    const s = await loadData(rt, { kind: 'mfeat', views: ['fac', 'mor'], fold: 0, dir: '../shared/data' }, part);
    expect([s.train.size, s.val?.size, s.test?.size]).toEqual([1350, 150, 500]);
    expect(maxAbsMean(s.train)).toBeLessThan(1e-4);
    expect(maxAbsMean(s.val!)).toBeGreaterThan(0.05); // had validation been in the statistics, fit + val would average 0
    expect(s.description).toContain('validation a stratified 10% of the rest (seed 3)');
    rt.dispose();
  });

  it("a manifest without validation: the part train() would carve is carved first; with one, it is kept", async () => {
    const rt = await createRuntime({ threads: 1 });
    const dir = await mkdtemp(join(tmpdir(), 'udi-load-'));
    try {
      const n = 40;
      await writeFile(join(dir, 'labels.csv'), Array.from({ length: n }, (_, i) => i % 2).join('\n'));
      await writeFile(join(dir, 'a.csv'), Array.from({ length: n }, (_, i) => `${i * i},${i % 2}`).join('\n'));
      await writeFile(join(dir, 'manifest.json'), JSON.stringify({ labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } }));
      const s = await loadData(rt, { kind: 'manifest', train: dir, standardize: true }, part);
      expect([s.train.size, s.val?.size]).toEqual([36, 4]);
      expect(maxAbsMean(s.train)).toBeLessThan(1e-5);
      const t = await loadData(rt, { kind: 'manifest', train: dir, val: dir, standardize: true }, part);
      expect([t.train.size, t.val?.size]).toEqual([40, 40]);
      // One row per class: carving validation leaves nothing to fit on; a clear error, not NaN statistics.
      await writeFile(join(dir, 'labels.csv'), '0\n1\n');
      await writeFile(join(dir, 'a.csv'), '1,2\n3,4\n');
      await expect(loadData(rt, { kind: 'manifest', train: dir, standardize: true }, part)).rejects.toThrow(/labels\.csv: classes 0, 1 have no example left to train on once the validation part \(validationFraction 0\.1/);
    } finally {
      rt.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('parseCompareConfig', () => {
  it('accepts udi train fields and applies their defaults', () => {
    const c = parseCompareConfig({ data: { kind: 'manifest', train: 'd' }, solo: { epochs: 4 }, udi: { temperature: 2 }, methods: ['udi', 'ensemble'], reference: ['ensemble'] });
    expect(c.data).toMatchObject({ kind: 'manifest', train: 'd', splits: 5, testFraction: 0.2, standardize: true });
    expect(c.solo.epochs).toBe(4);
    expect(c.guided.epochs).toBe(30);
    expect(c.udi.temperature).toBe(2);
    expect(c.fusion).toBe(defaultConfig({}).fusion);
    expect(c.validationFraction).toBe(0.1);
  });

  it('names every unknown key by its full path', () => {
    let message = '';
    try {
      parseCompareConfig({ data: { kind: 'manifest', train: 'd', zzz: 1 }, solo: { optimizer: { lrr: 1 } }, method: 'udi' }, 'c.json');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^c\.json is not a valid compare config:\n/);
    for (const path of ['data.zzz', 'solo.optimizer.lrr', 'method']) expect(message).toContain(`  ${path}: unknown key`);
  });

  it('rejects bad values with their path', () => {
    expect(() => parseCompareConfig({ data: { kind: 'manifest', train: 'd', testFraction: 1.5 } })).toThrow(/data\.testFraction/);
    expect(() => parseCompareConfig({ methods: ['nope'] })).toThrow(/methods\.0/);
    expect(() => parseCompareConfig({ data: { kind: 'mfeat', fold: 1 } })).toThrow(/data\.fold: unknown key/);
  });
});
