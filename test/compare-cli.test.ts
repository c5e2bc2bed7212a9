// `udi compare` on a user's own data, end to end through the CLI: a tiny manifest (CSV features, two
// modalities, three classes), a compare config with relative paths, the paired and per-fold tables
// in results.md and results.json, config errors that name the key, and compare's own help.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Report } from '../src/compare.js';

const run = promisify(execFile);
const cli = ['--import', 'tsx', join(process.cwd(), 'src/cli.ts')];
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'udi-compare-'));
  // 60 rows, 3 classes: "a" separates the classes well, "b" barely (a strong and a weak modality).
  let s = 1;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const labels: number[] = [],
    a: string[] = [],
    b: string[] = [];
  for (let i = 0; i < 60; i++) {
    const y = i % 3;
    labels.push(y);
    a.push([0, 1, 2, 3].map((j) => ((j === y ? 2 : 0) + 0.5 * rand()).toFixed(4)).join(','));
    b.push([0, 1, 2].map((j) => ((j === y ? 0.4 : 0) + rand()).toFixed(4)).join(','));
  }
  await mkdir(join(dir, 'mydata'));
  await writeFile(join(dir, 'mydata', 'labels.csv'), 'label\n' + labels.join('\n') + '\n');
  await writeFile(join(dir, 'mydata', 'a.csv'), 'a0,a1,a2,a3\n' + a.join('\n') + '\n');
  await writeFile(join(dir, 'mydata', 'b.csv'), b.join('\n') + '\n');
  await writeFile(join(dir, 'mydata', 'manifest.json'), JSON.stringify({ labels: 'labels.csv', modalities: { a: { file: 'a.csv' }, b: { file: 'b.csv' } } }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

it('udi compare --config runs every method × fold × seed on a manifest and reports paired and per-fold tables', async () => {
  const budget = { epochs: 3, batchSize: 16, earlyStopping: false };
  const config = {
    // Relative paths resolve against the config's folder (the CLI runs from the project folder).
    data: { kind: 'manifest', train: 'mydata', splits: 2, testFraction: 0.2 },
    methods: ['udi', 'ensemble', 'unimodal', 'joint'],
    seeds: 2,
    encoders: { a: { type: 'mlp', hidden: [8] }, b: { type: 'mlp', hidden: [8] } },
    solo: budget,
    guided: budget,
    joint: budget,
    udi: { temperature: 2 },
    out: 'results',
  };
  await writeFile(join(dir, 'cmp.json'), JSON.stringify(config));
  const r = await run(process.execPath, [...cli, 'compare', '--config', join(dir, 'cmp.json'), '--jobs', '2']);
  // The final output holds the main table and the paired table.
  expect(r.stdout).toMatch(/\| method \| fused acc % \|/);
  expect(r.stdout).toMatch(/Paired differences/);
  expect(r.stdout).toMatch(/\| udi \| ensemble \| 4 \| /);

  const report = JSON.parse(await readFile(join(dir, 'results', 'results.json'), 'utf8')) as Report;
  expect(report.views).toEqual(['a', 'b']);
  expect(report.runs).toHaveLength(4 * 2 * 2);
  for (const x of report.runs) {
    expect(x.valFusedAcc).toBeGreaterThanOrEqual(0);
    expect(x.valFusedAcc).toBeLessThanOrEqual(1);
  }
  expect(report.options.settings?.udi.temperature).toBe(2);
  expect(report.options.settings?.solo.epochs).toBe(3);
  // Every run kept the budget of the config (3 epochs per stage, no early stopping).
  for (const x of report.runs) for (const st of x.stages) expect(st.epochs).toBe(3);
  expect(report.paired.map((p) => `${p.method}-${p.reference}`)).toEqual(['udi-ensemble', 'joint-ensemble', 'udi-unimodal', 'ensemble-unimodal', 'joint-unimodal']);
  for (const p of report.paired) {
    expect(p.n).toBe(4);
    expect(p.wins + p.ties + p.losses).toBe(4);
    expect(p.ci95[0]).toBeLessThanOrEqual(p.meanDiff + 1e-12);
    expect(p.ci95[1]).toBeGreaterThanOrEqual(p.meanDiff - 1e-12);
    const own = report.runs.filter((x) => x.method === p.method);
    const ref = report.runs.filter((x) => x.method === p.reference);
    const diffs = own.map((x) => 100 * (x.fusedAcc - ref.find((y) => y.fold === x.fold && y.seed === x.seed)!.fusedAcc));
    expect(p.meanDiff).toBeCloseTo(diffs.reduce((s, d) => s + d, 0) / 4, 9);
  }
  expect(report.perFold).toHaveLength(4 * 2);
  expect(report.protocol).toMatch(/stratified 20% test split .*seed 1000 \+ fold.*fit part's statistics/);

  const md = await readFile(join(dir, 'results', 'results.md'), 'utf8');
  expect(md).toContain('## Paired differences');
  expect(md).toContain('| method | reference | n | mean diff (points) | 95% CI (points) | wins/ties/losses |');
  expect(md).toContain('## Per fold');
  expect(md).toContain('| method | fold 0 | fold 1 |');
  const html = await readFile(join(dir, 'results', 'report.html'), 'utf8');
  expect(html).toContain('<h2>Paired differences</h2>');
  expect(html).toContain('<th>fold 1</th>');
}, 60_000);

it('flags override the config; --dataset manifest --data works without one', async () => {
  const r = await run(process.execPath, [...cli, 'compare', '--dataset', 'manifest', '--data', join(dir, 'mydata'), '--folds', '1', '--seeds', '1', '--methods', 'unimodal,ensemble', '--epochs', '2', '--jobs', '1']);
  expect(r.stdout).toMatch(/\| ensemble \| unimodal \| 1 \| /);
  expect(r.stderr).toMatch(/manifest .*mydata a\+b, 2 methods × 1 fold\(s\) × 1 seed\(s\)/);
}, 30_000);

it('a config with an unknown key fails with a message naming the key', async () => {
  await writeFile(join(dir, 'bad.json'), JSON.stringify({ data: { kind: 'manifest', train: 'mydata' }, solo: { epochs: 2, epoch: 3 }, sed: 1 }));
  const r = await run(process.execPath, [...cli, 'compare', '--config', join(dir, 'bad.json')]).catch((e) => e);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/bad\.json is not a valid compare config/);
  expect(r.stderr).toMatch(/solo\.epoch: unknown key/);
  expect(r.stderr).toMatch(/sed: unknown key/);
  expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
});

it('udi compare --help prints compare\'s help', async () => {
  const r = await run(process.execPath, [...cli, 'compare', '--help']);
  expect(r.stdout).toMatch(/^udi compare:/);
  expect(r.stdout).toContain('--config FILE.json');
  expect(r.stdout).toContain('--reference LIST');
  expect(r.stdout).toContain('--dataset avmnist|mfeat|manifest');
  expect(r.stdout).not.toContain('udi predict');
});
