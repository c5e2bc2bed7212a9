// Untrusted files through the CLI (issue 14): exit 1 with one message naming the file and what to
// do, no stack trace, no hang. Config paths resolve against the config's folder, so a run folder
// works from anywhere; predict refuses labels outside the model's classes; a tampered state is
// refused before any training.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../src/io-node.js';

const run = promisify(execFile);
// tsx by absolute URL: the commands run from other folders.
const cli = ['--import', new URL('../node_modules/tsx/dist/loader.mjs', import.meta.url).href, join(process.cwd(), 'src/cli.ts')];
const udi = (cwd: string, ...args: string[]) =>
  run(process.execPath, [...cli, ...args], { cwd, timeout: 60_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
/** Exit 1, one `udi:` message matching `re`, no stack trace. */
function userError(r: { code: number; stderr: string }, re: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(/^udi: /);
  expect(r.stderr).toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'udi-untrusted-cli-'));
  // project/data: a two-class manifest; project/cfg/train.json names it by a relative path.
  const data = join(dir, 'project', 'data');
  await mkdir(data, { recursive: true });
  await mkdir(join(dir, 'project', 'cfg'));
  await mkdir(join(dir, 'elsewhere'));
  const rows = 60;
  const labels = Array.from({ length: rows }, (_, i) => i % 2);
  await writeFile(join(data, 'labels.csv'), labels.join('\n') + '\n');
  await writeFile(join(data, 'a.csv'), labels.map((y, i) => `${y + ((i * 37) % 11) / 30},${((i * 13) % 7) / 10}`).join('\n') + '\n');
  await writeFile(join(data, 'b.csv'), labels.map((y, i) => `${((i * 17) % 5) / 9 - y},${((i * 7) % 3) / 4},${y}`).join('\n') + '\n');
  await writeFile(join(data, 'manifest.json'), JSON.stringify({ labels: 'labels.csv', modalities: { a: { file: 'a.csv' }, b: { file: 'b.csv' } } }));
  await writeFile(join(dir, 'project', 'cfg', 'train.json'), JSON.stringify({ data: { kind: 'manifest', train: '../data', test: '../data/manifest.json' }, method: 'ensemble', encoders: { a: { type: 'mlp', hidden: [4] }, b: { type: 'mlp', hidden: [4] } }, solo: { epochs: 2 } }));
}, 30_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('udi train / eval / predict with untrusted files', () => {
  it('relative paths in a config resolve against its folder: train and eval from other folders', async () => {
    const t = await udi(join(dir, 'elsewhere'), 'train', '--config', '../project/cfg/train.json', '--out', 'run', '--quiet', '--threads', '1');
    expect(t.code, t.stderr).toBe(0);
    const saved = JSON.parse(await readFile(join(dir, 'elsewhere', 'run', 'config.json'), 'utf8'));
    expect(saved.data.train).toBe(join(dir, 'project', 'data'));
    const e = await udi(dir, 'eval', '--checkpoint', 'elsewhere/run', '--threads', '1');
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout).rows).toBeGreaterThan(0);
    // The data moved: the message says where it looked and how relative paths resolve.
    await rename(join(dir, 'project', 'data'), join(dir, 'project', 'moved'));
    try {
      const m = await udi(dir, 'train', '--config', 'project/cfg/train.json', '--out', 'elsewhere/run2', '--quiet');
      userError(m, new RegExp(`project/cfg/train\\.json: data: manifest ${join(dir, 'project', 'data')} does not exist \\(relative paths in a config resolve against the config's folder, ${join(dir, 'project', 'cfg')}\\)`));
    } finally {
      await rename(join(dir, 'project', 'moved'), join(dir, 'project', 'data'));
    }
  }, 90_000);

  it('a run folder of an earlier version (paths relative to the working directory): eval works from there, with one warning', async () => {
    const old = join(dir, 'runs', 'old');
    await mkdir(old, { recursive: true });
    await copyFile(join(dir, 'elsewhere', 'run', 'model.safetensors'), join(old, 'model.safetensors'));
    const saved = JSON.parse(await readFile(join(dir, 'elsewhere', 'run', 'config.json'), 'utf8'));
    await writeFile(join(old, 'config.json'), JSON.stringify({ ...saved, data: { ...saved.data, train: 'project/data', test: 'project/data/manifest.json' } }));
    const e = await udi(dir, 'eval', '--checkpoint', 'runs/old', '--threads', '1');
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout).rows).toBeGreaterThan(0);
    const warnings = e.stderr.split('\n').filter((l) => l.startsWith('udi: warning:'));
    expect(warnings).toEqual([
      `udi: warning: runs/old/config.json: data.train "project/data" (${join(dir, 'project', 'data')}), data.test "project/data/manifest.json" (${join(dir, 'project', 'data', 'manifest.json')}) do not exist relative to the config's folder (${old}) ` +
        `but do relative to the working directory (${dir}), so those paths are used (configs written by earlier versions hold paths relative to the working directory); write absolute paths in the config to make it unambiguous`,
    ]);
    // From another folder neither place has the data: the error names the path beside the config.
    userError(await udi(join(dir, 'elsewhere'), 'eval', '--checkpoint', '../runs/old', '--threads', '1'), new RegExp(`manifest ${join(old, 'project', 'data')} does not exist \\(relative paths in a config resolve against the config's folder`));
  }, 60_000);

  it('predict: a label outside the model\'s classes is an error naming the labels file', async () => {
    const input = join(dir, 'input');
    await mkdir(input, { recursive: true });
    await writeFile(join(input, 'a.csv'), '0.1,0.2\n0.9,0.1\n');
    await writeFile(join(input, 'labels.csv'), '1\n50\n');
    await writeFile(join(input, 'manifest.json'), JSON.stringify({ labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } }));
    const p = await udi(dir, 'predict', '--checkpoint', 'elsewhere/run', '--input', input, '--threads', '1');
    userError(p, new RegExp(`${join(input, 'labels.csv')}: the label of row 1 is 50, but the model has 2 classes \\(0-1\\)`));
    await writeFile(join(input, 'labels.csv'), '1\n0\n');
    const ok = await udi(dir, 'predict', '--checkpoint', 'elsewhere/run', '--input', input, '--threads', '1');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim().split('\n')).toHaveLength(3);
  }, 60_000);

  it('resume: a tampered state (done[0].epochs = 1e12) is refused at once, naming the file and field', async () => {
    const out = join(dir, 'elsewhere', 'run');
    const state = join(out, 'state.safetensors');
    const { tensors, metadata } = decodeSafetensors(new Uint8Array(await readFile(state)));
    const j = JSON.parse(metadata.state);
    j.done[0].epochs = 1e12;
    await writeFile(state, encodeSafetensors(tensors, { ...metadata, state: JSON.stringify(j) }));
    const r = await udi(dir, 'train', '--resume', out, '--quiet'); // a spinning replay would hit the test's timeout
    userError(r, new RegExp(`${state}: the training state in the metadata is not valid:\\n  state\\.done\\.0\\.epochs: is 1000000000000, but the stage's history holds 2 epochs`));
  }, 60_000);

  it('a config that is a folder or a checkpoint that is a FIFO: exit 1, no hang', async () => {
    userError(await udi(dir, 'train', '--config', 'project', '--out', 'x'), /config project is a folder, not a regular file/);
    const fifo = join(dir, 'ck.safetensors');
    try {
      await run('mkfifo', [fifo]);
    } catch {
      return; // no mkfifo here
    }
    userError(await udi(dir, 'predict', '--checkpoint', fifo, '--input', 'input'), /checkpoint .*ck\.safetensors is a FIFO \(named pipe\), not a regular file/);
  }, 60_000);
});
