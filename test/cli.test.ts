// The command line's rough edges (issue 15, point 9): --version; each command's own help and options,
// an unknown option named in one line; `udi train --data`; readable summaries on a terminal (JSON with
// --json or through a pipe); a word before AV-MNIST's features build; `udi data fetch` writes where
// the default search looks; `udi data info` fails when nothing is found; mfeat from UCI's own files.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { crc32, deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mfeatFromUci, unzip } from '../src/io/fetch.js';
import { loadMfeat } from '../src/index.js';

const ROOT = process.cwd();
// tsx by its file URL: some runs start in a folder without node_modules.
const CLI = ['--import', pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href, join(ROOT, 'src/cli.ts')];
const pexec = promisify(execFile);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'udi-cli-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Run `udi ...` through pipes (not a terminal). */
async function udi(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return pexec(process.execPath, [...CLI, ...args], { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, maxBuffer: 2 ** 26 }).then(
    (r) => ({ code: 0, ...r }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
}

/** Run `udi ...` with stdout and stderr on a pseudo-terminal (util-linux `script`). */
const hasScript = existsSync('/usr/bin/script');
async function udiOnTty(args: string[]): Promise<string> {
  const cmd = [process.execPath, ...CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = await pexec('script', ['-qefc', cmd, '/dev/null'], { cwd: ROOT, maxBuffer: 2 ** 26 });
  return r.stdout.replace(/\r/g, '');
}

const envWithout = (k: string) => Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== k));

describe('udi --version, help and usage errors', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
    const r = await udi(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`udi-wasm ${pkg.version}\n`);
  });

  it('an unknown option prints one line naming it and the command\'s help, not the whole help', async () => {
    for (const [args, line] of [
      [['train', '--config', 'x.json', '--bogus'], 'udi train: unknown option --bogus (see udi train --help)'],
      [['eval', '--config', 'x.json'], 'udi eval: unknown option --config (see udi eval --help)'],
      [['data', 'info', '--frobnicate'], 'udi data: unknown option --frobnicate (see udi data --help)'],
      [['compare', '--sedes', '3'], 'udi compare: unknown option --sedes (see udi compare --help)'],
      [['train'], 'udi train: --config is required (see udi train --help)'],
    ] as const) {
      const r = await udi([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toBe(`${line}\n`);
    }
  }, 30_000);

  it('each command has its own help', async () => {
    const train = await udi(['train', '--help']);
    expect(train.code).toBe(0);
    expect(train.stdout).toMatch(/^udi train: /);
    expect(train.stdout).toContain('--data DIR');
    expect(train.stdout).not.toContain('udi compare');
    const data = await udi(['data', '--help']);
    expect(data.stdout).toMatch(/^udi data: /);
    expect(data.stdout).toContain('--only mnist,fsdd,mfeat');
    expect((await udi(['eval', '--help'])).stdout).toMatch(/^udi eval: /);
    expect((await udi(['info', '--help'])).stdout).toMatch(/^udi info: /);
  }, 30_000);
});

describe('udi train --data, and the summaries', () => {
  const out = () => join(dir, 'run');
  it('--data sets the data folder (the saved config keeps it), and through a pipe the summary is one JSON line', async () => {
    await writeFile(join(dir, 'cfg.json'), JSON.stringify({ data: { kind: 'mfeat', views: ['fac', 'mor'], dir: join(dir, 'nowhere') }, method: 'ensemble', fusion: 'mean', solo: { epochs: 2 } }));
    const r = await udi(['train', '--config', join(dir, 'cfg.json'), '--out', out(), '--data', join(ROOT, '..', 'shared', 'data'), '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.fusedAcc).toBeGreaterThan(0.5);
    expect(JSON.parse(await readFile(join(out(), 'config.json'), 'utf8')).data.dir).toBe(join(ROOT, '..', 'shared', 'data'));
    // Progress lines carry the totals.
    const epoch = JSON.parse(r.stderr.split('\n').find((l) => l.startsWith('{'))!);
    expect(epoch).toMatchObject({ stage: 'solo:fac', epoch: 0, stageIndex: 0, stageCount: 2, epochs: 2 });
    expect(epoch.runMaxSteps).toBe(2 * 2 * epoch.stepsPerEpoch);
    // A manifest config names its files: --data does not apply.
    await writeFile(join(dir, 'man.json'), JSON.stringify({ data: { kind: 'manifest', train: 'x' } }));
    const bad = await udi(['train', '--config', join(dir, 'man.json'), '--data', dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^udi: --data: .*man\.json reads a manifest/);
  }, 60_000);

  it.runIf(hasScript)('on a terminal: readable summaries for udi train and udi eval; --json keeps one JSON line', async () => {
    const t = await udiOnTty(['train', '--config', join(dir, 'cfg.json'), '--out', join(dir, 'tty'), '--data', join(ROOT, '..', 'shared', 'data'), '--threads', '1']);
    expect(t).toMatch(/stage 2\/2 solo:mor · epoch \d\/2 · step [\d,]+\/[\d,]+ · \d+% · .* · loss \d\.\d{4} · val acc /); // the live line, with totals
    expect(t).toMatch(/done in \d+\.\d s: .*tty\/model\.safetensors\n {2}fused on the test split: accuracy \d+\.\d\d%, macro-F1 \d+\.\d\d%\n {2}modality +alone +in model +updates\n {2}fac +\d+\.\d\d% +\d+\.\d\d% +[\d,]+\n {2}mor /);
    expect(t).not.toMatch(/\{"checkpoint"/);
    const e = await udiOnTty(['eval', '--checkpoint', join(dir, 'tty')]);
    expect(e).toMatch(/tty: test split \(500 rows\): accuracy \d+\.\d\d%, macro-F1 \d+\.\d\d%\n$/);
    const j = await udiOnTty(['eval', '--checkpoint', join(dir, 'tty'), '--json']);
    expect(JSON.parse(j.trim())).toMatchObject({ split: 'test', rows: 500 });
  }, 90_000);

  it('AV-MNIST: says so before its features load (a first run builds them for 15-20 s)', async () => {
    await writeFile(join(dir, 'av.json'), JSON.stringify({ data: { kind: 'avmnist', split: 'A' }, method: 'unimodal', encoders: { image: { type: 'mlp', hidden: [16] } }, solo: { epochs: 1 } }));
    const r = await udi(['train', '--config', join(dir, 'av.json'), '--out', join(dir, 'av'), '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toMatch(/^AV-MNIST: reading FSDD and MNIST; a first run builds the audio features \(about 15-20 s\) and caches them in /);
    expect(lines[1]).toMatch(/^AV-MNIST: ready in \d+\.\d s$/);
  }, 120_000);
});

/** A zip archive (deflated unless stored) of the given files, as zip tools write it. */
function zipOf(files: Record<string, string>, stored: string[] = []): Uint8Array {
  const locals: Buffer[] = [],
    centrals: Buffer[] = [];
  let off = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text);
    const store = stored.includes(name);
    const body = store ? data : deflateRawSync(data);
    const n = Buffer.from(name);
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0);
    head.writeUInt16LE(20, 4);
    head.writeUInt16LE(store ? 0 : 8, 8);
    head.writeUInt32LE(crc32(data), 14);
    head.writeUInt32LE(body.length, 18);
    head.writeUInt32LE(data.length, 22);
    head.writeUInt16LE(n.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(store ? 0 : 8, 10);
    c.writeUInt32LE(crc32(data), 16);
    c.writeUInt32LE(body.length, 20);
    c.writeUInt32LE(data.length, 24);
    c.writeUInt16LE(n.length, 28);
    c.writeUInt32LE(off, 42);
    locals.push(head, n, body);
    centrals.push(c, n);
    off += 30 + n.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(off, 16);
  return new Uint8Array(Buffer.concat([...locals, cd, end]));
}

/** UCI's layout: whitespace-separated, right-aligned numbers, 200 rows per digit in order; `rows` rows of `dim` values. */
function uciFile(rows: number, dim: number, view: number): string {
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const digit = Math.floor(i / 200);
    lines.push(Array.from({ length: dim }, (_, j) => ((j === digit % dim ? 5 : 0) + ((i * 7 + j * 3 + view) % 11) / 10).toExponential(7).padStart(16)).join(''));
  }
  return lines.join('\n') + '\n';
}

describe('mfeat from UCI\'s own files', () => {
  it('converts the whitespace-separated files into what loadMfeat reads (values as written), naming the file, line and value at fault', () => {
    expect(() => mfeatFromUci({ fac: ' 1 2\n 3\n' })).toThrow(/mfeat-fac: line 2 has 1 values, the first line 2/);
    expect(() => mfeatFromUci({ fac: ' 1 x\n' })).toThrow(/mfeat-fac: line 1, value 2 is "x", not a finite number/);
    expect(() => mfeatFromUci({ fac: ' 1 2\n'.repeat(300) })).toThrow(/has 300 rows; UCI's mfeat files have 2,000/);
    expect(() => mfeatFromUci({ fac: ' 1 2\n'.repeat(200), mor: ' 1\n'.repeat(400) })).toThrow(/mfeat-mor has 400 rows, mfeat-fac 200/);
    const ok = mfeatFromUci({ fac: uciFile(400, 3, 0), zer: uciFile(400, 2, 1) });
    expect(ok.rows).toBe(400);
    expect(ok.dims).toEqual({ fac: 3, zer: 2 });
    expect(ok.files['labels.csv'].split('\n').slice(198, 202)).toEqual(['0', '0', '1', '1']);
    expect(ok.files['mfeat-fac.csv'].split('\n')[0]).toBe(uciFile(1, 3, 0).trim().split(/\s+/).join(','));
  });

  it('reads zips (stored and deflated, in a folder), checking each CRC', async () => {
    const z = zipOf({ 'mfeat/mfeat-fac': 'a b\n', 'mfeat/mfeat.info': 'text', 'mfeat-mor': '1\n' }, ['mfeat-mor']);
    const entries = await unzip(z);
    expect(entries.map((e) => [e.name, new TextDecoder().decode(e.data)])).toEqual([
      ['mfeat/mfeat-fac', 'a b\n'],
      ['mfeat/mfeat.info', 'text'],
      ['mfeat-mor', '1\n'],
    ]);
    const broken = z.slice();
    broken[broken.length - 22 - 46 * 3 - 40] ^= 1; // a byte of the stored entry's data
    await expect(unzip(broken, 'x.zip')).rejects.toThrow(/x\.zip: mfeat-mor: CRC-32 mismatch|x\.zip: .*(damaged|missing)/);
    await expect(unzip(new Uint8Array(100), 'y.zip')).rejects.toThrow(/y\.zip: not a zip file/);
  });

  it('udi data fetch --only mfeat --from ZIP writes ./data/mfeat, where udi data info and udi train then find it', async () => {
    const work = join(dir, 'fresh');
    await mkdir(work, { recursive: true });
    const dims = { fac: 5, fou: 4, kar: 4, mor: 3, pix: 6, zer: 3 };
    const files = Object.fromEntries(Object.entries(dims).map(([v, d], i) => [`mfeat/mfeat-${v}`, uciFile(2000, d, i)]));
    await writeFile(join(work, 'multiple+features.zip'), zipOf(files));
    const env = envWithout('UDI_DATA');
    const none = await udi(['data', 'info', '--data', join(work, 'nothing-here')], { cwd: work, env });
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(/^AV-MNIST: not found\. [\s\S]*\nmfeat: not found\. /);
    const f = await udi(['data', 'fetch', '--only', 'mfeat', '--from', 'multiple+features.zip'], { cwd: work, env });
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).toMatch(/mfeat: wrote 6 views \(fac 5, fou 4, kar 4, mor 3, pix 6, zer 3 features\) and labels of 2000 rows to data\/mfeat/);
    const info = await udi(['data', 'info', '--dataset', 'mfeat'], { cwd: work, env });
    expect(info.code).toBe(0);
    expect(info.stdout).toBe(`mfeat: ${join(work, 'data')}\n`);
    const ds = await loadMfeat(join(work, 'data', 'mfeat'), ['fac', 'mor']);
    expect([ds.size, ds.modalities.fac.dim, ds.modalities.mor.dim, ds.labels[1999]]).toEqual([2000, 5, 3, 9]);
    await writeFile(join(work, 'cfg.json'), JSON.stringify({ data: { kind: 'mfeat', views: ['fac', 'mor'] }, method: 'unimodal', solo: { epochs: 1 } }));
    const t = await udi(['train', '--config', 'cfg.json', '--out', 'run', '--quiet', '--threads', '1'], { cwd: work, env });
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout).fusedAcc).toBeGreaterThan(0.2); // chance is 0.1: it learned from the converted files
    const wrong = await udi(['data', 'fetch', '--only', 'mnist', '--from', 'x.zip'], { cwd: work, env });
    expect(wrong.stderr).toBe('udi data: --from converts mfeat files you downloaded: use it with --only mfeat (see udi data --help)\n');
  }, 60_000);
});
