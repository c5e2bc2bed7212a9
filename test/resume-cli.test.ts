// The CLI's resume contract: kill a training process at any point, `udi train --resume DIR`, and the
// checkpoint equals that of an uninterrupted run, bit for bit.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeSafetensors } from '../src/index.js';

const run = promisify(execFile);
const cli = ['--import', 'tsx', join(process.cwd(), 'src/cli.ts')];
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'udi-resume-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const tensorsOf = async (file: string) => decodeSafetensors(new Uint8Array(await readFile(file))).tensors;

it('a killed run resumes to the same checkpoint as an uninterrupted one', async () => {
  const config = {
    data: { kind: 'mfeat', views: ['pix', 'fou'] },
    method: 'udi',
    encoders: { pix: { type: 'mlp', hidden: [256, 64], dropout: 0.1 }, fou: { type: 'mlp', hidden: [64] } },
    solo: { epochs: 12, earlyStopping: false },
    guided: { epochs: 12, earlyStopping: false },
  };
  await writeFile(join(dir, 'cfg.json'), JSON.stringify(config));
  const args = (out: string) => [...cli, 'train', '--config', join(dir, 'cfg.json'), '--out', out, '--quiet', '--threads', '1'];
  await run(process.execPath, args(join(dir, 'full')));

  const out = join(dir, 'cut');
  const child = spawn(process.execPath, args(out), { stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  // Kill it (SIGKILL: no chance to clean up) once a few epochs' states have been written.
  const t0 = Date.now();
  let states = 0;
  while (Date.now() - t0 < 60_000) {
    await new Promise((r) => setTimeout(r, 20));
    if (existsSync(join(out, 'state.safetensors')) && ++states > 3) break;
  }
  child.kill('SIGKILL');
  expect(await exited, 'the run finished before it could be interrupted: make it longer').toBeNull();
  expect(existsSync(join(out, 'model.safetensors'))).toBe(false);
  // What a SIGKILL in the middle of a state write leaves (a process id that cannot be running): removed on resume.
  await writeFile(join(out, `state.safetensors.tmp-${2 ** 22 + 7}-${Date.now()}`), 'half a state');
  const resumed = await run(process.execPath, [...cli, 'train', '--resume', out, '--quiet', '--threads', '1']);
  expect((await readdir(out)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  expect(JSON.parse(resumed.stdout.trim()).checkpoint).toContain('model.safetensors');
  const a = await tensorsOf(join(dir, 'full', 'model.safetensors'));
  const b = await tensorsOf(join(out, 'model.safetensors'));
  expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
  for (const k of Object.keys(a)) expect(Buffer.from(b[k].data.buffer).equals(Buffer.from(a[k].data.buffer)), k).toBe(true);
}, 180_000);

it('says what to do when there is nothing to resume', async () => {
  await writeFile(join(dir, 'config.json'), JSON.stringify({ data: { kind: 'mfeat' } }));
  const r = await run(process.execPath, [...cli, 'train', '--resume', dir]).catch((e) => e);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/state\.safetensors does not exist: nothing to resume/);
});
