// Export: ONNX graphs of every encoder type and every fusion, run in onnxruntime-web (its WebAssembly
// backend, in Node) and compared with the library's predictions; `udi export`; the README's section
// "Export: ONNX and PyTorch" run as written, its PyTorch recipe with Debian's python3-torch
// (/usr/bin/python3; skipped, saying why, where torch is missing).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyStandardize, createRuntime, type Dataset, defaultConfig, exportOnnx, fitStandardize, makeDataset, type Method, type MethodConfig, type Model, predict, Rng, type Runtime, saveModel, train } from '../src/index.js';
import type { FusionKind } from '../src/train/fusion.js';
import { ProtoWriter } from '../src/io/protobuf.js';

ort.env.wasm.numThreads = 1;
const TOL = 1e-5;
const run = promisify(execFile);
const root = process.cwd();
const tsx = ['--import', pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href];
const cli = [...tsx, join(root, 'src/cli.ts')];
const PYTHON = '/usr/bin/python3';

/** Why the PyTorch recipe cannot run here (null: it can). */
const noTorch = await run(PYTHON, ['-c', 'import torch']).then(
  () => null,
  (e) => `${PYTHON} -c "import torch" failed (${String((e as { stderr?: string }).stderr || (e as Error).message).trim().split('\n').pop()})`,
);
if (noTorch) console.log(`skipping the PyTorch recipe test: ${noTorch}`);

let rt: Runtime;
let dir: string;
let rawTrain: Dataset, rawTest: Dataset, stats: ReturnType<typeof fitStandardize>;
const encoders: MethodConfig['encoders'] = {
  // MLP with GELU and dropout (the identity at inference).
  a: { type: 'mlp', hidden: [8, 6], activation: 'gelu', dropout: 0.2 },
  // 2-D CNN on a non-square 7×5×2 map: pooling floors 7×5 → 3×2 → 1×1.
  b: { type: 'cnn', input: [7, 5, 2], channels: [3, 4], kernel: 3, dense: 6 },
  // An even kernel (padding 1 on each side grows the map by one), GELU, dropout.
  c: { type: 'cnn', input: [4, 6, 1], channels: [2], kernel: 2, dense: 6, activation: 'gelu', dropout: 0.1 },
};
const dims: Record<string, number> = { a: 6, b: 70, c: 24 };

/** Rows whose class shows in every modality, offset and scaled so that the standardisation matters. */
function synthetic(rng: Rng, n: number, d: Record<string, number>, classes: number): Dataset {
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const mods = Object.fromEntries(
    Object.entries(d).map(([m, w], k) => [m, { dim: w, data: Float32Array.from({ length: n * w }, (_, i) => 5 * k + 3 + 10 * ((i % w) % classes === labels[Math.floor(i / w)] ? 1 : 0) + 4 * (rng.next() / 2 ** 32 - 0.5)) }]),
  );
  return makeDataset(mods, labels, classes);
}

const CASES: [string, Method, FusionKind?][] = [
  ['ensemble, mean fusion', 'ensemble', 'mean'],
  ['ensemble, entropy fusion', 'ensemble', 'entropy'],
  ['ensemble, validation weights', 'ensemble', 'validation'],
  ['ensemble, calibrated (temperatures)', 'ensemble', 'calibrated'],
  ['ensemble, fusion head', 'ensemble', 'head'],
  ['udi (defaults)', 'udi'],
  ['unimodal (one modality)', 'unimodal'],
  ['joint (joint head)', 'joint'],
  ['di-mml (fusion head)', 'di-mml'],
];

/** Each case's model, trained once (2 epochs per stage) on the standardised training rows. */
const models = new Map<string, Promise<Model>>();
function trained(method: Method, fusion: FusionKind = 'calibrated'): Promise<Model> {
  const key = `${method}/${fusion}`;
  if (!models.has(key)) {
    const cfg = defaultConfig(encoders, 4);
    for (const s of [cfg.solo, cfg.guided, cfg.joint, cfg.fusionHead]) s.epochs = 2;
    cfg.fusion = fusion;
    models.set(key, train(rt, method, { train: applyStandardize(rawTrain, stats) }, cfg).then((r) => r.model));
  }
  return models.get(key)!;
}

/** The inputs a model's graph takes: the fused modalities, or all of them for a joint or fusion head. */
const inputsOf = (model: Model) => (model.fusion === 'joint' || model.fusion === 'head' ? model.net.branches.map((b) => b.name) : model.modalities);

async function runOnnx(bytes: Uint8Array, ds: Dataset, names: readonly string[]): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const feeds = Object.fromEntries(names.map((m) => [m, new ort.Tensor('float32', ds.modalities[m].data, [ds.size, ds.modalities[m].dim])]));
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

function expectClose(what: string, got: Float32Array, lib: Float32Array): void {
  expect(got.length).toBe(lib.length);
  let d = 0;
  for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - lib[i]));
  console.log(`${what}: max |exported − predict| = ${d.toExponential(2)} (tolerance ${TOL})`);
  expect(d).toBeLessThanOrEqual(TOL);
}

/** The fenced code blocks of the README's section "Export: ONNX and PyTorch", in order. */
async function readmeBlocks(): Promise<{ lang: string; code: string }[]> {
  const text = await readFile(join(root, 'README.md'), 'utf8');
  const start = text.indexOf('\n## Export: ONNX and PyTorch\n');
  expect(start, 'README section "Export: ONNX and PyTorch"').toBeGreaterThanOrEqual(0);
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1], code: m[2] }));
}

beforeAll(async () => {
  rt = await createRuntime({ threads: 1 });
  dir = await mkdtemp(join(tmpdir(), 'udi-onnx-'));
  const rng = new Rng(11);
  rawTrain = synthetic(rng, 120, dims, 3);
  rawTest = synthetic(rng, 70, dims, 3); // more than one of the engine's batches (64 rows)
  stats = fitStandardize(rawTrain);
});
afterAll(async () => {
  rt?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ProtoWriter', () => {
  it('writes the wire format of the protobuf encoding guide', () => {
    const hex = (w: ProtoWriter) => Buffer.from(w.finish()).toString('hex');
    expect(hex(new ProtoWriter().int(1, 150))).toBe('089601');
    expect(hex(new ProtoWriter().string(2, 'testing'))).toBe('120774657374696e67');
    expect(hex(new ProtoWriter().message(3, new ProtoWriter().int(1, 150)))).toBe('1a03089601');
    expect(hex(new ProtoWriter().int(1, -1))).toBe('08ffffffffffffffffff01'); // int64 −1: ten bytes
    expect(hex(new ProtoWriter().int(1, 2n ** 63n))).toBe('0880808080808080808001');
    expect(hex(new ProtoWriter().float(2, 1.5))).toBe('150000c03f');
    expect(() => new ProtoWriter().int(1, 0.5)).toThrow(/not a whole number/);
    expect(() => new ProtoWriter().int(0, 1)).toThrow(/field number 0/);
  });
});

describe('exportOnnx', () => {
  it.each(CASES)("%s: onnxruntime-web gives the library's probabilities from raw inputs", async (what, method, fusion) => {
    const model = await trained(method, fusion);
    if (fusion === 'validation') expect(Object.values(model.fusionWeights!).some((w) => Math.abs(w - 1 / 3) > 1e-9)).toBe(true);
    if (fusion === 'calibrated') expect(Object.values(model.fusionTemperatures!).some((t) => t !== 1)).toBe(true);
    const out = await runOnnx(exportOnnx(model, { preprocess: stats }), rawTest, inputsOf(model));
    expect(Object.keys(out)).toEqual(['probs']);
    expectClose(what, out.probs, predict(model, applyStandardize(rawTest, stats)));
  });

  it("outputs each modality's own probabilities when asked, and one row works as well as many", async () => {
    const model = await trained('ensemble', 'calibrated');
    const out = await runOnnx(exportOnnx(model, { preprocess: stats, perModality: true }), rawTest, model.modalities);
    expect(Object.keys(out).sort()).toEqual(['probs', 'probs_a', 'probs_b', 'probs_c']);
    const std = applyStandardize(rawTest, stats);
    for (const m of model.modalities) expectClose(`own head of ${m}`, out[`probs_${m}`], predict({ ...model, fusion: 'mean' }, { ...std, modalities: { [m]: std.modalities[m] } }));
    const one = makeDataset(Object.fromEntries(Object.entries(rawTest.modalities).map(([m, v]) => [m, { dim: v.dim, data: v.data.slice(0, v.dim) }])), [0], 3);
    expectClose('one row', (await runOnnx(exportOnnx(model, { preprocess: stats }), one, model.modalities)).probs, predict(model, applyStandardize(one, stats)));
  });

  it('uses the statistics the model carries; without any it refuses unless told the inputs are taken as they are', async () => {
    const model = await trained('ensemble', 'mean');
    const lib = predict(model, applyStandardize(rawTest, stats));
    const carrying: Model = { ...model, preprocess: stats };
    expectClose('model.preprocess', (await runOnnx(exportOnnx(carrying), rawTest, model.modalities)).probs, lib);
    expect(() => exportOnnx(carrying, { preprocess: { ...stats, a: { mean: new Float64Array(6), std: new Float64Array(6).fill(1) } } })).toThrow(/carries its own input standardisation and options\.preprocess differs from it \(modality "a"\)/);
    expect(() => exportOnnx(model)).toThrow(/records no input standardisation.*pass options\.preprocess/);
    expectClose('inputs as they are', (await runOnnx(exportOnnx(model, { preprocess: {} }), applyStandardize(rawTest, stats), model.modalities)).probs, lib);
  });

  it('refuses what it cannot express, naming it', async () => {
    const model = await trained('joint');
    expect(() => exportOnnx(model, { perModality: true, preprocess: stats })).toThrow(/joint head; perModality outputs are for late-fusion models/);
    expect(() => exportOnnx(model, { preprocess: { a: { mean: [0], std: [1] } } })).toThrow(/standardisation of "a" has 1 means and 1 standard deviations, the modality has 6 features/);
  });
});

describe('udi export', () => {
  it('writes the ONNX file (--out, or model.onnx next to the checkpoint: README test below); unknown formats and missing checkpoints are clear errors', async () => {
    const model = await trained('ensemble', 'calibrated');
    const ckpt = join(dir, 'run');
    await saveModel(model, join(ckpt, 'model.safetensors'), { preprocess: stats });
    const out = join(dir, 'elsewhere', 'm.onnx');
    const [byFile, badFormat, missing, none] = await Promise.all(
      [
        ['--checkpoint', join(ckpt, 'model.safetensors'), '--format', 'onnx', '--out', out],
        ['--checkpoint', ckpt, '--format', 'tflite'],
        ['--checkpoint', join(dir, 'nothing-here')],
        [],
      ].map((args) => run(process.execPath, [...cli, 'export', ...args]).then((r) => ({ ...r, code: 0 }), (e) => e as { code: number; stderr: string })),
    );
    expect(byFile.code).toBe(0);
    expect(byFile.stderr).toMatch(/^wrote .*m\.onnx .*inputs a \[N, 6\], b \[N, 70\], c \[N, 24\] \(float32, raw: standardised inside\); output probs \[N, 3\]\n$/);
    const bytes = new Uint8Array(await readFile(out));
    expectClose('udi export', (await runOnnx(bytes, rawTest, model.modalities)).probs, predict(model, applyStandardize(rawTest, stats)));
    expect([badFormat.code, badFormat.stderr]).toEqual([2, 'udi export: --format must be onnx, got "tflite" (see udi export --help)\n']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^udi: .*checkpoint .*nothing-here/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    expect([none.code, none.stderr]).toEqual([2, 'udi export: --checkpoint is required: DIR (a udi train output folder) or --checkpoint FILE.safetensors (see udi export --help)\n']);
  });
});

describe('README, "Export: ONNX and PyTorch"', () => {
  /** A folder holding runs/mine: a checkpoint with the README's modalities (audio 1280, image 28×28). */
  let work: string;
  let avModel: Model;
  let avStats: ReturnType<typeof fitStandardize>;
  const avDims = { audio: 1280, image: 784 };
  beforeAll(async () => {
    work = join(dir, 'readme');
    await mkdir(join(work, 'runs', 'mine'), { recursive: true });
    await symlink(join(root, 'node_modules'), join(work, 'node_modules'));
    const raw = synthetic(new Rng(5), 200, avDims, 10);
    avStats = fitStandardize(raw);
    const cfg = defaultConfig({ audio: { type: 'mlp', hidden: [8] }, image: { type: 'cnn', input: [28, 28, 1], channels: [2], dense: 8 } }, 0);
    for (const s of [cfg.solo, cfg.guided]) s.epochs = 1;
    avModel = (await train(rt, 'udi', { train: applyStandardize(raw, avStats) }, cfg)).model;
    await saveModel(avModel, join(work, 'runs', 'mine', 'model.safetensors'), { preprocess: avStats });
  });

  it('the sh and TypeScript snippets run as written and give the library\'s probabilities', async () => {
    const blocks = await readmeBlocks();
    const sh = blocks.filter((b) => b.lang === 'sh');
    expect(sh.length).toBe(1);
    // `npx udi ...` runs the package's bin; here the same command line through the sources.
    for (const line of sh[0].code.split('\n').filter((l) => l.startsWith('npx udi '))) {
      const args = line.replace(/#.*$/, '').trim().split(/\s+/).slice(2);
      await run(process.execPath, [...cli, ...args], { cwd: work });
    }
    const fromCli = new Uint8Array(await readFile(join(work, 'runs', 'mine', 'model.onnx')));
    const ts = blocks.filter((b) => b.lang === 'ts');
    expect(ts.length).toBe(1);
    // The package's name resolves to this checkout's sources.
    await writeFile(join(work, 'snippet.mts'), ts[0].code.replaceAll("from 'udi-wasm'", `from '${pathToFileURL(join(root, 'src/index.ts')).href}'`));
    const { stdout } = await run(process.execPath, [...tsx, 'snippet.mts'], { cwd: work });
    expect(stdout).toMatch(/^\[ 2, 10 \]/);
    const fromLib = new Uint8Array(await readFile(join(work, 'model.onnx')));
    expect(Buffer.from(fromLib).equals(Buffer.from(fromCli))).toBe(true);
    const zeros = makeDataset({ audio: { data: new Float32Array(2 * 1280), dim: 1280 }, image: { data: new Float32Array(2 * 784), dim: 784 } }, [0, 0], 10);
    const printed = Float32Array.from(stdout.slice(stdout.indexOf('Float32Array(20) [') + 18).match(/-?\d+(\.\d+)?(e-?\d+)?/g)!.map(Number));
    expectClose('README ts snippet', printed, predict(avModel, applyStandardize(zeros, avStats)));
  });

  it.skipIf(noTorch !== null)('the PyTorch recipe loads every encoder type and fusion and gives the library\'s probabilities', async () => {
    const py = (await readmeBlocks()).filter((b) => b.lang === 'python');
    expect(py.length).toBe(2);
    await writeFile(join(work, 'udi_torch.py'), py[0].code);
    await writeFile(join(work, 'use.py'), py[1].code);
    // Every case, compared to the library to 1e-5: raw float32 rows in, raw float32 probabilities out.
    const cases = [];
    for (const [what, method, fusion] of CASES) {
      const model = await trained(method, fusion);
      const file = join(dir, `${method}-${fusion ?? 'default'}.safetensors`);
      await saveModel(model, file, { preprocess: stats });
      cases.push({ what, checkpoint: file, out: `${file}.probs`, lib: predict(model, applyStandardize(rawTest, stats)) });
    }
    const inputs: Record<string, string> = {};
    for (const [m, v] of Object.entries(rawTest.modalities)) await writeFile((inputs[m] = join(dir, `${m}.f32`)), v.data);
    const driver = [
      'import json, runpy, sys, torch',
      "runpy.run_path('use.py')   # the usage snippet as written (runs/mine: audio and image, 10 classes)",
      'print("---", flush=True)',
      'from udi_torch import UdiModel',
      'spec = json.load(open(sys.argv[1]))',
      "rows = {m: torch.frombuffer(bytearray(open(f, 'rb').read()), dtype=torch.float32).reshape(spec['n'], -1) for m, f in spec['inputs'].items()}",
      "for c in spec['cases']:",
      "    model = UdiModel(c['checkpoint']).eval()",
      '    with torch.no_grad():',
      "        open(c['out'], 'wb').write(model(rows).numpy().astype('<f4').tobytes())",
    ].join('\n');
    await writeFile(join(work, 'driver.py'), driver);
    await writeFile(join(work, 'spec.json'), JSON.stringify({ n: rawTest.size, inputs, cases: cases.map(({ checkpoint, out }) => ({ checkpoint, out })) }));
    const { stdout } = await run(PYTHON, ['driver.py', 'spec.json'], { cwd: work });
    const printed = stdout.slice(0, stdout.indexOf('---'));
    expect(printed).toMatch(/^tensor\(\[\[/);
    expect(printed.match(/\[[^[\]]+\]/g)!.length).toBe(2);
    for (const c of cases) {
      const b = await readFile(c.out);
      expectClose(`PyTorch, ${c.what}`, new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4), c.lib);
    }
  });
});
