// The CLI's resume contract: kill a training process at any point, `udi train --resume DIR`, and the
// checkpoint equals that of an uninterrupted run, bit for bit.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrainConfig } from '../src/index.js';
import { decodeSafetensors } from '../src/io-node.js';
import { loadTrainConfig } from '../src/io/config-file.js';
import { checkResumeConfig } from '../src/io/state.js';
import { VERSION } from '../src/version.js';

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

describe('a resumed run must have the config its state was saved under', () => {
  const config = { data: { kind: 'manifest', train: 'data' }, method: 'udi', solo: { epochs: 3 } };
  /** The run folder's config.json as `udi train --resume` loads it, and the state's copy as an earlier run wrote it. */
  async function runFolder(now: unknown, saved: unknown = config, run = join(dir, `cfg-${Math.random().toString(36).slice(2)}`)) {
    await mkdir(run, { recursive: true });
    const configFile = join(run, 'config.json');
    await writeFile(configFile, JSON.stringify(now));
    const loaded = await loadTrainConfig(configFile, { cwd: run });
    return { loaded, configFile, file: join(run, 'state.safetensors'), savedText: typeof saved === 'string' ? saved : JSON.stringify(saved) };
  }
  /** null: a state of an earlier version, which recorded none. */
  const check = async (r: Awaited<ReturnType<typeof runFolder>>, version: string | null = VERSION) =>
    checkResumeConfig({ config: r.savedText, version: version ?? undefined }, r.loaded, { file: r.file, configFile: r.configFile, cwd: dirname(r.configFile) }).catch((e) => e);

  it('the same config resumes: as written, or resolved (absolute paths, defaults filled in) as udi train saves it', async () => {
    let r = await runFolder(config);
    expect(await check(r)).toBeUndefined();
    r = await runFolder(config, r.loaded, dirname(r.configFile));
    expect(await check(r)).toBeUndefined();
    // A run folder of an earlier version: no udi.monitor / udi.gate in either copy (the defaults fill both alike).
    r = await runFolder({ ...config, udi: { epsilon: 0.01 } }, { ...config, udi: { epsilon: 0.01 } });
    expect(await check(r, null)).toBeUndefined();
  });

  it('an edited config is RESUME_MISMATCH naming the state file, the fields, both values and the version that saved it', async () => {
    const r = await runFolder({ ...config, solo: { epochs: 3, optimizer: { lr: 0.01 } }, udi: { gate: false }, fusion: 'entropy' });
    const e = await check(r, '0.0.9');
    expect(e).toMatchObject({ code: 'RESUME_MISMATCH' });
    expect(e.message.startsWith(`${r.file}: the config differs from the one the state was saved under (saved by udi-wasm 0.0.9; this is ${VERSION}): `)).toBe(true);
    expect(e.message).toContain(`solo.optimizer.lr is 0.01 in ${r.configFile}, 0.001 in the state; udi.gate is false in ${r.configFile}, true in the state; fusion is "entropy" in ${r.configFile}, "calibrated" in the state.`);
    expect(e.message).toContain(`restore ${r.configFile} as it was when the run started, or start a new run with udi train --config`);
    // An earlier version that did not record its version; a moved data path.
    const moved = await check(await runFolder({ ...config, data: { kind: 'manifest', train: 'other' } }), null);
    expect(moved.message).toMatch(/\(saved by udi-wasm \(an earlier version, which did not record it\); this is [^)]+\): data\.train is ".*other" in .*, ".*data" in the state/);
  });

  it('many differences: the first five with their values, then how many more', async () => {
    const r = await runFolder({ ...config, seed: 1, solo: { epochs: 4, batchSize: 8 }, guided: { epochs: 2 }, joint: { epochs: 2 }, fusionHead: { epochs: 2 }, ogmAlpha: 0.5, umtWeight: 2 });
    const e = await check(r);
    expect(e.message).toMatch(/: seed is 1 in .*; solo\.epochs is 4 in .*; solo\.batchSize is 8 in .*; guided\.epochs is 2 in .*; joint\.epochs is 2 in [^;]*; and 3 more \(fusionHead\.epochs, ogmAlpha, umtWeight\)\./);
  });

  it('a copy that is not JSON is STATE_BAD; one this version cannot read is RESUME_MISMATCH saying why', async () => {
    expect(await check(await runFolder(config, '{ "data": '))).toMatchObject({ code: 'STATE_BAD', message: expect.stringMatching(/state\.safetensors: the config in the metadata is not valid JSON/) });
    expect(await check(await runFolder(config, ''))).toMatchObject({ code: 'STATE_BAD', message: expect.stringMatching(/the metadata holds no config/) });
    const e = await check(await runFolder(config, { ...config, retired: 1 }), '0.0.1');
    expect(e).toMatchObject({ code: 'RESUME_MISMATCH' });
    expect(e.message).toMatch(/state\.safetensors: the config the state was saved under is not a valid training config:\n  retired: unknown key\n\(saved by udi-wasm 0\.0\.1; this is [^)]+\); this version cannot resume the run: start a new run/);
  });

  it('udi train --resume refuses an edited config.json before training, and resumes once it is restored', async () => {
    const cfg = { data: { kind: 'mfeat', views: ['fac', 'mor'] }, method: 'ensemble', encoders: { fac: { type: 'mlp', hidden: [8] }, mor: { type: 'mlp', hidden: [4] } }, solo: { epochs: 2, earlyStopping: false } };
    await writeFile(join(dir, 'small.json'), JSON.stringify(cfg));
    const out = join(dir, 'edited');
    await run(process.execPath, [...cli, 'train', '--config', join(dir, 'small.json'), '--out', out, '--quiet', '--threads', '1']);
    const file = join(out, 'config.json');
    const original = await readFile(file, 'utf8');
    const edited = JSON.parse(original);
    edited.solo.optimizer.lr = 0.01;
    edited.udi.gate = false;
    await writeFile(file, JSON.stringify(edited, null, 2));
    const r = await run(process.execPath, [...cli, 'train', '--resume', out, '--quiet', '--threads', '1']).catch((e) => e);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`udi: ${join(out, 'state.safetensors')}: the config differs from the one the state was saved under (saved by udi-wasm ${VERSION}; this is ${VERSION}): solo.optimizer.lr is 0.01 in ${file}, 0.001 in the state; udi.gate is false in ${file}, true in the state.`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    await writeFile(file, original);
    const ok = await run(process.execPath, [...cli, 'train', '--resume', out, '--quiet', '--threads', '1']);
    expect(JSON.parse(ok.stdout.trim()).checkpoint).toBe(join(out, 'model.safetensors'));
  }, 120_000);
});
