// Checkpoints (safetensors, checksum, atomic writes), the config schema, and the CLI's contract.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, defaultConfig, deserializeModel, makeDataset, parseTrainConfig, predict, Rng, type Runtime, serializeModel, train, VERSION } from '../src/index.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io-node.js';
import { writeFileAtomic } from '../src/io/checkpoint-file.js';

const run = promisify(execFile);
let rt: Runtime;
let dir: string;
let bytes: Uint8Array;
let reference: Float32Array;
let ds: ReturnType<typeof makeDataset>;

beforeAll(async () => {
  rt = await createRuntime({ threads: 1 });
  dir = await mkdtemp(join(tmpdir(), 'udi-ckpt-'));
  const rng = new Rng(3);
  const n = 150;
  const labels = Int32Array.from({ length: n }, () => rng.below(3));
  const a = Float32Array.from({ length: n * 6 }, (_, i) => (i % 6 === labels[Math.floor(i / 6)] ? 1 : 0) + rng.next() / 2 ** 33);
  const b = Float32Array.from({ length: n * 4 }, () => rng.next() / 2 ** 32);
  ds = makeDataset({ a: { data: a, dim: 6 }, b: { data: b, dim: 4 } }, labels, 3);
  const cfg = defaultConfig({ a: { type: 'mlp', hidden: [8] }, b: { type: 'mlp', hidden: [8] } }, 1);
  for (const s of [cfg.solo, cfg.guided]) s.epochs = 3;
  const { model, result } = await train(rt, 'udi', { train: ds }, cfg);
  bytes = await serializeModel(model, { anchor: result.anchor?.name });
  reference = predict(model, ds);
});
afterAll(async () => {
  rt.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('checkpoints', () => {
  it('round-trip in another runtime (2 threads) and predict the same bits, from any subset of modalities', async () => {
    const rt2 = await createRuntime({ threads: 2 });
    try {
      const { model, description, metadata } = await deserializeModel(rt2, bytes);
      expect(description.anchor).toBe('a');
      expect(metadata.library_version).toBe(VERSION);
      expect(Buffer.from(predict(model, ds).buffer).equals(Buffer.from(reference.buffer))).toBe(true);
      const onlyB = predict(model, { ...ds, modalities: { b: ds.modalities.b } });
      expect(onlyB.length).toBe(ds.size * 3);
    } finally {
      rt2.dispose();
    }
  });

  it('is plain safetensors: header JSON with F32 tensors named by group and layer', () => {
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(Object.keys(tensors)).toContain('enc.a.fc0.weight');
    expect(tensors['head.b.fc.bias'].shape).toEqual([3]);
    expect(metadata.format).toBe('udi-wasm/1');
    expect(JSON.parse(metadata.model).modalities.map((m: { name: string }) => m.name)).toEqual(['a', 'b']);
  });

  it('rejects damaged or foreign files with a specific error', async () => {
    const flip = bytes.slice();
    flip[flip.length - 3] ^= 0x40;
    await expect(deserializeModel(rt, flip, 'x.safetensors')).rejects.toMatchObject({ code: 'CKPT_CHECKSUM' });
    await expect(deserializeModel(rt, bytes.subarray(0, 5), 'x')).rejects.toMatchObject({ code: 'ST_TRUNCATED' });
    const huge = bytes.slice();
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    await expect(deserializeModel(rt, huge, 'x')).rejects.toMatchObject({ code: 'ST_HEADER_TOO_LARGE' });
    const other = encodeSafetensors({ w: { shape: [2], data: Float32Array.from([1, 2]) } }, { format: 'something-else' });
    await expect(deserializeModel(rt, other, 'x')).rejects.toMatchObject({ code: 'CKPT_FORMAT' });
    const { tensors, metadata } = decodeSafetensors(bytes);
    // A well-formed, correctly checksummed file whose tensor does not fit the described model.
    const wrong = { ...tensors, 'enc.a.fc0.weight': { shape: [5, 8], data: new Float32Array(40) } };
    const draft = encodeSafetensors(wrong, metadata);
    const dataStart = 8 + Number(new DataView(draft.buffer).getBigUint64(0, true));
    const digest = Buffer.from(await crypto.subtle.digest('SHA-256', draft.slice(dataStart))).toString('hex');
    const reenc = encodeSafetensors(wrong, { ...metadata, sha256: digest });
    await expect(deserializeModel(rt, reenc, 'x')).rejects.toMatchObject({ code: 'CKPT_TENSORS', message: expect.stringMatching(/x: tensor enc\.a\.fc0\.weight has shape 5×8, the model needs 6×8/) });
  });

  it('ignores prototype-polluting keys in the metadata JSON', async () => {
    const { tensors, metadata } = decodeSafetensors(bytes);
    const model = JSON.parse(metadata.model);
    const polluted = JSON.stringify(model).replace('{', '{"__proto__":{"polluted":true},');
    const draft = encodeSafetensors(tensors, { ...metadata, model: polluted });
    await deserializeModel(rt, draft, 'x').catch(() => undefined);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('writes atomically: a failed write leaves the previous file and no temporary file', async () => {
    const file = join(dir, 'model.safetensors');
    await writeFileAtomic(file, bytes);
    await expect(writeFileAtomic(file, 42 as unknown as Uint8Array)).rejects.toThrow();
    expect(Buffer.from(await readFile(file)).equals(Buffer.from(bytes))).toBe(true);
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('config schema', () => {
  it('fills every default and names the path of each problem', () => {
    const c = parseTrainConfig({ data: { kind: 'avmnist' } });
    expect(c.method).toBe('udi');
    expect(c.udi.temperature).toBe(1);
    expect(c.solo.optimizer.lr).toBe(1e-3);
    expect(() => parseTrainConfig({ data: { kind: 'avmnist', fold: 9 }, udi: { controller: 'magic' }, extra: 1 }, 'my.json')).toThrow(/my\.json[\s\S]*data\.fold[\s\S]*udi\.controller[\s\S]*\n  extra: unknown key/);
    // Unknown keys are named by their full path, one line each (as in a compare config).
    expect(() => parseTrainConfig({ data: { kind: 'mfeat' }, solo: { optimizer: { lrr: 1 } }, udi: { gates: true, monitr: 'fused' } }, 'my.json')).toThrow(
      /my\.json is not a valid training config:\n  solo\.optimizer\.lrr: unknown key\n  udi\.gates: unknown key\n  udi\.monitr: unknown key$/,
    );
  });
});

describe('the udi command', () => {
  const cli = ['--import', 'tsx', join(process.cwd(), 'src/cli.ts')];
  const udi = (...args: string[]) => run(process.execPath, [...cli, ...args], { cwd: process.cwd() }).then(
    (r) => ({ code: 0, ...r }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
  it('exits 2 on bad usage, 1 on a user error with one message and no stack trace, 0 on success', async () => {
    const usage = await udi('frobnicate');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/unknown command "frobnicate"/);
    await writeFile(join(dir, 'bad.json'), '{"data":{"kind":"mfeat"},"solo":{"epochs":0}}');
    const bad = await udi('train', '--config', join(dir, 'bad.json'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/solo\.epochs/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const help = await udi('predict', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/udi predict --checkpoint/);
  }, 60_000);

  it('trains from a config, then evaluates and predicts from the checkpoint', async () => {
    const out = join(dir, 'run');
    await writeFile(join(dir, 'cfg.json'), JSON.stringify({ data: { kind: 'mfeat', views: ['fac', 'mor'] }, method: 'ensemble', solo: { epochs: 3 } }));
    const t = await udi('train', '--config', join(dir, 'cfg.json'), '--out', out, '--quiet', '--threads', '1');
    expect(t.code).toBe(0);
    const summary = JSON.parse(t.stdout.trim().split('\n').pop()!);
    const e = await udi('eval', '--checkpoint', out);
    expect(e.code).toBe(0);
    expect(JSON.parse(e.stdout).acc).toBe(summary.fusedAcc);
  }, 120_000);
});

describe('documentation and version', () => {
  it("the README's config reference is the one generated from the schema", async () => {
    const { configReference } = await import('../src/io/config-docs.js');
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const block = readme.slice(readme.indexOf('<!-- config:start -->') + '<!-- config:start -->'.length, readme.indexOf('<!-- config:end -->')).trim();
    expect(block).toBe(configReference());
  });
  it('VERSION matches package.json', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
    expect(VERSION).toBe(pkg.version);
  });
});
