// Issue 15, points 1, 2 and 10: the model owns its preprocessing (train()'s preprocess and
// standardize options, checkpoints that carry it, a warning and a refusal when it is not recorded);
// the prediction API (classify, predictProba, predictClasses, evaluate, the metric helpers) with its
// input forms and errors; and the `init` option ('he' as before, bit for bit; 'pytorch' as PyTorch's
// nn.Linear/nn.Conv2d defaults). The README's "Predicting" and "Library use" snippets run as written.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accuracy, applyStandardize, classify, confusionMatrix, createRuntime, type Dataset, defaultConfig, deserializeModel, evaluate, fitStandardize, loadModel, macroF1, makeDataset, type MethodConfig, type Model, parseTrainConfig, predict, predictClasses, predictProba, Rng, type Runtime, serializeModel, stratifiedSplit, subset, toMethodConfig, train } from '../src/index.js';
import { argmax } from '../src/engine.js';
import { trainCommand } from '../src/cli-train.js';
import { loadData } from '../src/io/data.js';
import { scores } from '../src/train/metrics.js';
import { inferRows, MultimodalNet } from '../src/train/net.js';
import { prefix } from '../src/nn/layers.js';

const exec = promisify(execFile);
const SRC_INDEX = pathToFileURL(join(process.cwd(), 'src/index.ts')).href;
/** tsx's loader by path: a snippet runs in a folder of its own, where `--import tsx` would not resolve. */
const TSX = pathToFileURL(join(process.cwd(), 'node_modules/tsx/dist/loader.mjs')).href;
const C = 3;
const DIMS = { audio: 10, image: 12 } as const;

let rt: Runtime;
let tmp: string;

/**
 * Raw rows of a three-class problem far from standardised: audio around 100 (spread 30), image
 * around -5 (spread 0.01), each carrying the class in a few columns. Integer draws, exact maths.
 */
function rawData(n: number, stream: number): Dataset {
  const rng = new Rng(21, stream);
  const labels = Int32Array.from({ length: n }, () => rng.below(C));
  const u = () => rng.next() / 2 ** 31 - 1;
  const audio = new Float32Array(n * DIMS.audio),
    image = new Float32Array(n * DIMS.image);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < DIMS.audio; j++) audio[i * DIMS.audio + j] = 100 + 30 * (u() + (j % C === labels[i] ? 1.2 : 0));
    for (let j = 0; j < DIMS.image; j++) image[i * DIMS.image + j] = -5 + 0.01 * (u() * 1.5 + (j === labels[i] ? 2 : 0));
  }
  return makeDataset({ audio: { data: audio, dim: DIMS.audio }, image: { data: image, dim: DIMS.image } }, labels, C);
}

function smallConfig(seed = 2): MethodConfig {
  const cfg = defaultConfig({ audio: { type: 'mlp', hidden: [16] }, image: { type: 'mlp', hidden: [16] } }, seed);
  for (const s of [cfg.solo, cfg.guided, cfg.joint, cfg.fusionHead]) s.epochs = 3;
  return cfg;
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
async function sha(a: Float32Array): Promise<string> {
  return Buffer.from(await crypto.subtle.digest('SHA-256', new Uint8Array(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength))).toString('hex').slice(0, 16);
}
const paramHash = (rt: Runtime, m: Model) => sha(rt.arena.read(m.net.store.params));
const rowsOf = (ds: Dataset, m: string) => Array.from({ length: ds.size }, (_, i) => Array.from(ds.modalities[m].data.subarray(i * ds.modalities[m].dim, (i + 1) * ds.modalities[m].dim)));

// Raw training and test rows, their statistics (fitted on the training rows) and the standardised copies.
const rawTrain = rawData(150, 1);
const rawTest = rawData(40, 2);
const stats = fitStandardize(rawTrain);
const stdTrain = applyStandardize(rawTrain, stats);
const stdTest = applyStandardize(rawTest, stats);

beforeAll(async () => {
  rt = await createRuntime({ threads: 1 });
  tmp = await mkdtemp(join(tmpdir(), 'udi-predict-'));
});
afterAll(async () => {
  rt?.dispose();
  await rm(tmp, { recursive: true, force: true });
});

/** A ```ts block of the README: the first one after `heading`, verbatim. */
async function readmeSnippet(heading: string): Promise<string> {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const at = readme.indexOf(`\n${heading}\n`);
  expect(at, `README.md has a "${heading}" heading`).toBeGreaterThanOrEqual(0);
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(m, `a ts block under "${heading}"`).not.toBeNull();
  return m![1];
}

/**
 * Run a README snippet as written in a fresh Node process (cwd `cwd`), its `udi-wasm` import pointed
 * at this checkout's source, then `report` (code appended after it) prints one JSON line.
 */
async function runSnippet(code: string, cwd: string, report: string): Promise<Record<string, unknown>> {
  expect(code).toContain("from 'udi-wasm'");
  const file = join(tmp, `snippet-${Math.random().toString(36).slice(2)}.mts`);
  await writeFile(file, `${code.replaceAll("from 'udi-wasm'", `from '${SRC_INDEX}'`)}\nconsole.log('@@' + JSON.stringify(${report}));\n`);
  const { stdout } = await exec(process.execPath, ['--import', TSX, file], { cwd, maxBuffer: 1 << 26 });
  const line = stdout.split('\n').find((l) => l.startsWith('@@'));
  expect(line, `the snippet's report in:\n${stdout}`).toBeDefined();
  return JSON.parse(line!.slice(2));
}

describe('1. the model owns its preprocessing', () => {
  it('train(..., { preprocess }) records the statistics (the model\'s modalities only) and trains the same bits', async () => {
    const cfg = smallConfig();
    const plain = await train(rt, 'udi', { train: stdTrain, test: stdTest }, cfg);
    const h0 = await paramHash(rt, plain.model);
    expect(plain.model.preprocess).toBeUndefined();
    const extra = { ...stats, other: { mean: new Float64Array(3), std: new Float64Array(3).fill(1) } };
    const withStats = await train(rt, 'udi', { train: stdTrain, test: stdTest }, cfg, { preprocess: extra });
    expect(await paramHash(rt, withStats.model)).toBe(h0);
    expect(withStats.result.fused).toEqual(plain.result.fused);
    expect(Object.keys(withStats.model.preprocess!)).toEqual(['audio', 'image']);
    expect(withStats.model.preprocess!.audio.mean).toEqual(stats.audio.mean);
    expect(withStats.model.preprocess!.image.std).toEqual(stats.image.std);
    // {} records that the model takes raw inputs.
    const raw = await train(rt, 'unimodal', { train: rawTrain }, { ...cfg, encoders: { image: cfg.encoders.image } }, { preprocess: {} });
    expect(raw.model.preprocess).toEqual({});
  });

  it('train(..., { standardize: true }) fits on the rows that train and gives the manual pipeline\'s bits', async () => {
    const cfg = smallConfig(4);
    // The manual pipeline: carve validation as train() does, fit on the rest, standardise every part.
    const { fit, val } = stratifiedSplit(rawTrain.labels, cfg.validationFraction, cfg.seed);
    const fitPart = subset(rawTrain, fit),
      valPart = subset(rawTrain, val);
    const s = fitStandardize(fitPart);
    const manual = await train(rt, 'udi', { train: applyStandardize(fitPart, s), val: applyStandardize(valPart, s), test: applyStandardize(rawTest, s) }, cfg, { preprocess: s });
    const auto = await train(rt, 'udi', { train: rawTrain, test: rawTest }, cfg, { standardize: true });
    expect(await paramHash(rt, auto.model)).toBe(await paramHash(rt, manual.model));
    expect(auto.result.fused).toEqual(manual.result.fused);
    expect(auto.model.preprocess).toEqual(s);
    // The test rows never contribute to the statistics.
    expect(auto.model.preprocess!.audio.mean).not.toEqual(fitStandardize(rawTest).audio.mean);
    // With a validation set given, the statistics are those of the whole training split.
    const given = await train(rt, 'ensemble', { train: fitPart, val: valPart }, cfg, { standardize: true });
    expect(given.model.preprocess).toEqual(fitStandardize(fitPart));
  });

  it('checkpoints carry it without being told, classify() applies it, and the old { preprocess } option still works', async () => {
    const { model } = await train(rt, 'udi', { train: stdTrain, test: stdTest }, smallConfig(), { preprocess: stats });
    const pipeline = predict(model, stdTest);
    const loaded = await deserializeModel(rt, await serializeModel(model), 'm.safetensors');
    expect(loaded.warnings).toEqual([]);
    expect(loaded.model.preprocess).toEqual(model.preprocess);
    expect(bits(classify(loaded.model, rawTest.modalities).probs)).toBe(bits(pipeline));
    // Any batch of rows gives the same bits; a batch that is not a whole number >= 1 is refused, naming the argument.
    const one = await deserializeModel(rt, await serializeModel(model), 'm.safetensors', 1);
    expect(bits(classify(one.model, rawTest.modalities).probs)).toBe(bits(pipeline));
    for (const bad of [0, 2.5, NaN]) await expect(deserializeModel(rt, await serializeModel(model), 'm.safetensors', bad)).rejects.toThrow(/deserializeModel: maxBatch \(rows predicted at a time\) must be a whole number >= 1/);
    expect(bits(classify(model, rawTest.modalities).probs)).toBe(bits(pipeline));
    // A model without statistics, saved with the option (as earlier versions of udi train did).
    const bare = { ...model, preprocess: undefined };
    const old = await deserializeModel(rt, await serializeModel(bare, { preprocess: stats }), 'old.safetensors');
    expect(old.warnings).toEqual([]);
    expect(bits(classify(old.model, rawTest.modalities).probs)).toBe(bits(pipeline));
    // A checkpoint that would not load is never written: statistics of another width than the modality.
    const wrong = { ...stats, audio: { mean: new Float64Array(3), std: new Float64Array(3).fill(1) } };
    await expect(serializeModel(model, { preprocess: wrong })).rejects.toMatchObject({ code: 'CKPT_MODEL', message: expect.stringMatching(/preprocess\.audio\.mean: has 3 values, modality "audio" has 10 features/) });
  });

  it('a model that records none warns on load and refuses raw inputs, naming both ways out', async () => {
    const { model } = await train(rt, 'udi', { train: stdTrain, test: stdTest }, smallConfig());
    const loaded = await deserializeModel(rt, await serializeModel(model), 'bare.safetensors');
    expect(loaded.warnings).toHaveLength(1);
    expect(loaded.warnings[0]).toMatch(/^bare\.safetensors does not record how the model's inputs were standardised/);
    expect(loaded.model.preprocess).toBeUndefined();
    expect(() => classify(loaded.model, rawTest.modalities)).toThrow(expect.objectContaining({ code: 'PREPROCESS_UNKNOWN', message: expect.stringMatching(/\{ inputs: 'preprocessed' \}[\s\S]*model\.preprocess/) }));
    expect(() => evaluate(loaded.model, rawTest.modalities, rawTest.labels)).toThrow(expect.objectContaining({ code: 'PREPROCESS_UNKNOWN' }));
    expect(bits(classify(loaded.model, stdTest.modalities, { inputs: 'preprocessed' }).probs)).toBe(bits(predict(model, stdTest)));
  });

  it('refuses statistics that do not fit, and both options at once', async () => {
    const cfg = smallConfig();
    const data = { train: stdTrain };
    const bad = (p: unknown) => train(rt, 'udi', data, cfg, { preprocess: p as never });
    await expect(bad({ audio: { mean: new Float64Array(4), std: new Float64Array(4).fill(1) } })).rejects.toMatchObject({ code: 'BAD_PREPROCESS', message: 'train(): options.preprocess.audio.mean has 4 values, but modality "audio" has 10 features' });
    await expect(bad({ image: { ...stats.image, std: stats.image.std.map((v, j) => (j === 5 ? 0 : v)) } })).rejects.toMatchObject({ code: 'BAD_PREPROCESS', message: expect.stringMatching(/^train\(\): options\.preprocess\.image\.std\[5\] is 0; a standard deviation must be finite and >= 1e-8/) });
    await expect(bad({ audio: { ...stats.audio, mean: stats.audio.mean.map((v, j) => (j === 2 ? Number.NaN : v)) } })).rejects.toMatchObject({ code: 'BAD_PREPROCESS', message: expect.stringMatching(/audio\.mean\[2\] is NaN/) });
    await expect(train(rt, 'udi', data, cfg, { preprocess: stats, standardize: true })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
  });
});

describe("1. the README's deploy path: a udi train checkpoint predicts from raw input as the training pipeline does", () => {
  it('runs the "Predicting" snippet as written on the tour\'s run folder: the same bits as the pipeline\'s standardised rows', async () => {
    // The tour: manifests in mydata/train and mydata/test (raw float32 audio, CSV image), my.json, udi train --out runs/mine.
    const dir = join(tmp, 'tour');
    const write = async (part: string, ds: Dataset) => {
      const d = join(dir, 'mydata', part);
      await mkdir(d, { recursive: true });
      const a = ds.modalities.audio.data;
      await writeFile(join(d, 'audio.f32'), Buffer.from(a.buffer, a.byteOffset, a.byteLength));
      await writeFile(join(d, 'image.csv'), rowsOf(ds, 'image').map((r) => r.map((v) => v.toPrecision(9)).join(',')).join('\n') + '\n');
      await writeFile(join(d, 'labels.csv'), Array.from(ds.labels).join('\n') + '\n');
      await writeFile(join(d, 'manifest.json'), JSON.stringify({ labels: 'labels.csv', modalities: { audio: { file: 'audio.f32', shape: [ds.size, DIMS.audio] }, image: { file: 'image.csv' } } }));
    };
    await write('train', rawTrain);
    await write('test', rawTest);
    await writeFile(
      join(dir, 'my.json'),
      JSON.stringify({ data: { kind: 'manifest', train: 'mydata/train', test: 'mydata/test' }, method: 'udi', encoders: { audio: { type: 'mlp', hidden: [16] }, image: { type: 'mlp', hidden: [16] } }, solo: { epochs: 20, optimizer: { lr: 0.01 } }, guided: { epochs: 4, optimizer: { lr: 0.01 } } }),
    );
    const out = join(dir, 'runs', 'mine');
    await trainCommand(join(dir, 'my.json'), out, { quiet: true, threads: '1' });

    // The training pipeline: the config's data as udi train and udi eval load it (standardised with the training statistics).
    const config = parseTrainConfig(JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))); // its paths are absolute
    const splits = await loadData(rt, config.data, config);
    const { model, warnings } = await loadModel(rt, join(out, 'model.safetensors'));
    expect(warnings).toEqual([]);
    expect(model.preprocess).toEqual(splits.stats);
    const pipeline = predict(model, splits.test!);
    const labels = splits.test!.labels;

    const snippet = await readmeSnippet('## Predicting');
    const r = await runSnippet(snippet, dir, "{ one: Buffer.from(one.probs.buffer).toString('base64'), oneClass: one.classes[0], all: Buffer.from(all.probs.buffer).toString('base64'), classes: Array.from(all.classes), accuracy: report.accuracy, macroF1: report.macroF1, confusion: Array.from(report.confusion), warnings }");
    expect(r.warnings).toEqual([]);
    expect(r.all, 'classify(raw rows) vs predict(standardised rows of the pipeline)').toBe(bits(pipeline));
    // The one sample is the first row's audio alone: the pipeline's prediction from audio alone.
    expect(r.one).toBe(bits(predict(model, { ...splits.test!, modalities: { audio: splits.test!.modalities.audio } }).subarray(0, C)));
    expect(r.classes).toEqual(Array.from(argmax(pipeline, C)));
    const s = scores(pipeline, labels, C);
    expect(r.accuracy).toBe(s.acc);
    expect(r.macroF1).toBe(s.f1);
    expect((r.confusion as number[]).reduce((a, b) => a + b, 0)).toBe(rawTest.size);
    expect(s.acc, 'the model learned something').toBeGreaterThan(0.6);
  }, 60_000);

  it('runs the "Library use" snippet as written (mfeat): classify on raw test rows scores what train() reported', async () => {
    const snippet = await readmeSnippet('## Library use');
    const r = await runSnippet(snippet, process.cwd(), '{ fused: result.fused.acc, n: classes.length, rows: testSet.size, probs: probs.length, hits: Array.from(classes).filter((c, i) => c === testSet.labels[i]).length }');
    expect(r.n).toBe(r.rows);
    expect(r.probs).toBe((r.rows as number) * 10);
    expect((r.hits as number) / (r.rows as number)).toBe(r.fused);
    expect(r.fused).toBeGreaterThan(0.9);
  }, 60_000);
});

describe('2. classify, predictProba, predictClasses, evaluate', () => {
  let model: Model;
  let reference: Float32Array;
  beforeAll(async () => {
    ({ model } = await train(rt, 'udi', { train: stdTrain, test: stdTest }, smallConfig(), { preprocess: stats }));
    reference = predict(model, stdTest);
  });

  it('takes every input form, one sample or rows, and gives the pipeline\'s bits', () => {
    const n = rawTest.size;
    const a = rawTest.modalities.audio.data,
      im = rawTest.modalities.image.data;
    const forms = {
      'flat Float32Array': { audio: a, image: im },
      '{ data, dim }': { audio: { data: a, dim: DIMS.audio }, image: { data: im, dim: DIMS.image } },
      'flat number[]': { audio: Array.from(a), image: Array.from(im) },
      'flat Float64Array': { audio: Float64Array.from(a), image: Float64Array.from(im) },
      'rows number[][]': { audio: rowsOf(rawTest, 'audio'), image: rowsOf(rawTest, 'image') },
      'rows Float32Array[]': { audio: rowsOf(rawTest, 'audio').map((r) => Float32Array.from(r)), image: rowsOf(rawTest, 'image').map((r) => Float32Array.from(r)) },
    };
    for (const [what, input] of Object.entries(forms)) {
      const p = classify(model, input);
      expect({ what, n: p.n, numClasses: p.numClasses, modalities: p.modalities }).toEqual({ what, n, numClasses: C, modalities: ['audio', 'image'] });
      expect(bits(p.probs), what).toBe(bits(reference));
      expect(Array.from(p.classes), what).toEqual(Array.from(argmax(reference, C)));
    }
    // One sample per modality, as a plain array: row i of the batch.
    for (const i of [0, 7, n - 1]) {
      const one = classify(model, { audio: rowsOf(rawTest, 'audio')[i], image: rowsOf(rawTest, 'image')[i] });
      expect(one.n).toBe(1);
      expect(bits(one.probs)).toBe(bits(reference.subarray(i * C, (i + 1) * C)));
    }
    expect(bits(predictProba(model, forms['flat Float32Array']))).toBe(bits(reference));
    expect(Array.from(predictClasses(model, forms['rows number[][]']))).toEqual(Array.from(argmax(reference, C)));
    // Plain data: it can be posted to or from a worker.
    const p = classify(model, forms['flat Float32Array']);
    expect(bits(structuredClone(p).probs)).toBe(bits(p.probs));
  });

  it('predicts from any non-empty subset of the modalities, as predict() does', () => {
    const onlyImage = classify(model, { image: rawTest.modalities.image });
    expect(onlyImage.modalities).toEqual(['image']);
    expect(bits(onlyImage.probs)).toBe(bits(predict(model, { ...stdTest, modalities: { image: stdTest.modalities.image } })));
  });

  it('evaluate: accuracy, macro-F1, the confusion matrix and per-class scores', () => {
    const e = evaluate(model, rawTest.modalities, Array.from(rawTest.labels));
    const s = scores(reference, rawTest.labels, C);
    expect([e.n, e.numClasses, e.accuracy, e.macroF1]).toEqual([rawTest.size, C, s.acc, s.f1]);
    expect(e.confusion).toEqual(confusionMatrix(argmax(reference, C), rawTest.labels, C));
    let diag = 0;
    for (let c = 0; c < C; c++) diag += e.confusion[c * C + c];
    expect(diag / e.n).toBe(e.accuracy);
    expect(e.perClass.map((c) => c.support)).toEqual([0, 1, 2].map((c) => rawTest.labels.filter((y) => y === c).length));
    const f1 = e.perClass.map((c) => c.f1);
    expect(f1.reduce((a, b) => a + b, 0) / C).toBeCloseTo(e.macroF1, 12);
    expect(bits(e.prediction.probs)).toBe(bits(reference));
    // The helpers on their own.
    expect(accuracy(e.prediction.classes, rawTest.labels)).toBe(s.acc);
    expect(macroF1(e.prediction.classes, rawTest.labels, C)).toBe(s.f1);
    expect(() => argmax(new Float32Array(7), C)).toThrow(/7 values, not a multiple of the 3 classes/);
    expect(() => accuracy([0, 1], [0])).toThrow(/2 predictions but 1 labels/);
    expect(() => confusionMatrix([0, 3], [0, 1], C)).toThrow(/row 1 has label 1 and prediction 3/);
  });

  it('joint-head and unimodal models: which modalities they need', async () => {
    const cfg = smallConfig();
    const joint = (await train(rt, 'joint', { train: stdTrain }, cfg, { preprocess: stats })).model;
    expect(() => classify(joint, { audio: rawTest.modalities.audio })).toThrow(expect.objectContaining({ code: 'PREDICT_MODALITIES', message: 'classify: a joint model fuses in its joint head and needs every modality (audio, image); missing image' }));
    expect(bits(classify(joint, rawTest.modalities).probs)).toBe(bits(predict(joint, stdTest)));
    const uni = (await train(rt, 'unimodal', { train: stdTrain }, cfg, { preprocess: stats })).model;
    const other = ['audio', 'image'].find((m) => !uni.modalities.includes(m))!;
    expect(() => classify(uni, { [other]: rawTest.modalities[other] })).toThrow(expect.objectContaining({ code: 'PREDICT_MODALITIES', message: `classify: none of the modalities the model predicts from (${uni.modalities[0]}) is in the input (it has ${other})` }));
  });

  it('clear errors: width, unknown modality, NaN, non-numbers, row counts, labels, options', () => {
    const e = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return { code: (err as { code?: string }).code, message: (err as Error).message };
      }
      throw new Error('expected an error');
    };
    const rows = rowsOf(rawTest, 'audio');
    expect(e(() => classify(model, { audio: [...rows.slice(0, 2), rows[2].slice(0, 8), ...rows.slice(3)] }))).toEqual({ code: 'BAD_SHAPE', message: 'classify: modality "audio" row 2 has 8 values, the model expects 10 features' });
    expect(e(() => classify(model, { audio: new Float32Array(25) }))).toEqual({
      code: 'BAD_SHAPE',
      message: 'classify: modality "audio" has 25 values, not a multiple of the model\'s 10 features; give one sample of 10 values, n × 10 values row-major, rows of 10 values, or { data, dim: 10 }',
    });
    expect(e(() => classify(model, { audio: { data: new Float32Array(24), dim: 12 } }))).toEqual({ code: 'BAD_SHAPE', message: 'classify: modality "audio" has dim 12, the model expects 10 features' });
    expect(e(() => classify(model, { audio: [] }))).toMatchObject({ code: 'BAD_SHAPE', message: expect.stringMatching(/^classify: modality "audio" has 0 values; give one sample/) });
    expect(e(() => classify(model, { video: [1, 2] }))).toEqual({ code: 'UNKNOWN_MODALITY', message: 'classify: the model has no modality "video" (it has audio (10 features), image (12 features))' });
    const nan = Array.from(rawTest.modalities.audio.data.subarray(0, 10));
    nan[3] = Number.NaN;
    expect(e(() => classify(model, { audio: nan }))).toEqual({ code: 'NON_FINITE', message: 'classify: modality "audio" row 0 column 3 is NaN; inputs must be finite numbers' });
    expect(e(() => classify(model, { image: [...rowsOf(rawTest, 'image')[0].slice(0, 11), '7' as unknown as number] }))).toEqual({ code: 'NON_FINITE', message: 'classify: modality "image" row 0 column 11 is "7"; inputs must be finite numbers' });
    expect(e(() => classify(model, { audio: [1e39, ...nan.slice(1)] }))).toMatchObject({ code: 'NON_FINITE', message: expect.stringMatching(/row 0 column 0 is 1e\+39, outside the float32 range/) });
    expect(e(() => classify(model, { audio: rows.slice(0, 3), image: rowsOf(rawTest, 'image').slice(0, 2) }))).toEqual({ code: 'ROW_COUNT', message: 'classify: modality "image" has 2 rows, but "audio" has 3; every modality needs the same rows' });
    expect(e(() => classify(model, {}))).toMatchObject({ code: 'PREDICT_MODALITIES' });
    expect(e(() => classify(model, [1, 2, 3] as never))).toMatchObject({ code: 'PREDICT_INPUT' });
    // A value far outside the training data overflows float32 once standardised by the image's tiny std.
    expect(e(() => classify(model, { image: Array(12).fill(3e38) }))).toMatchObject({ code: 'NON_FINITE', message: expect.stringMatching(/becomes Infinity after the model's standardisation/) });
    expect(e(() => classify(model, rawTest.modalities, { inputs: 'standardised' as never }))).toMatchObject({ code: 'BAD_OPTIONS' });
    expect(e(() => evaluate(model, rawTest.modalities, rawTest.labels.subarray(1)))).toEqual({ code: 'ROW_COUNT', message: `evaluate: 39 labels for 40 rows of input; give one label per row` });
    const wrong = Array.from(rawTest.labels);
    wrong[4] = 3;
    expect(e(() => evaluate(model, rawTest.modalities, wrong))).toEqual({ code: 'BAD_LABEL', message: 'evaluate: the label of row 4 is 3, but the model has 3 classes (0-2); the labels must be the ones the model was trained with' });
    wrong[4] = 1.5;
    expect(e(() => evaluate(model, rawTest.modalities, wrong))).toMatchObject({ code: 'BAD_LABEL', message: expect.stringMatching(/row 4 is 1\.5/) });
  });

  it('gives back the WebAssembly memory of its inputs: calls do not grow the arena, the first one neither (inference makes no resident copy of its data)', () => {
    const used = rt.arena.usedBytes;
    for (let i = 0; i < 20; i++) classify(model, { audio: rowsOf(rawTest, 'audio'), image: rawTest.modalities.image });
    expect(rt.arena.usedBytes).toBe(used);
  });
});

describe('inference reads its rows from JavaScript', () => {
  it('infer() allocates no WebAssembly memory for data that training never made resident, and gives the same outputs as from a resident copy', async () => {
    const { infer } = await import('../src/train/infer.js');
    const rt = await createRuntime({ threads: 1 });
    try {
      const rng = new Rng(5);
      const n = 600; // three inference batches (256, 256, 88)
      const labels = Int32Array.from({ length: n }, () => rng.below(3));
      const ds = makeDataset({ a: { data: Float32Array.from({ length: n * 20 }, () => rng.next() / 2 ** 32 - 0.5), dim: 20 } }, labels, 3);
      const net = new MultimodalNet(rt, [{ name: 'a', dim: 20, encoder: { type: 'mlp', hidden: [8] } }], 3, 64, 1);
      const used = rt.arena.usedBytes;
      const fresh = infer(net, ds, ['a'], { feats: true });
      expect(rt.arena.usedBytes).toBe(used); // not the 48 KB of the data
      net.load(ds, [0, 1], ['a']); // as a training step: the data becomes resident
      const withData = rt.arena.usedBytes;
      expect(withData - used).toBeGreaterThanOrEqual(4 * n * 20);
      expect(withData - used).toBeLessThan(4 * n * 20 + 128); // (the arena aligns its buffers)
      const resident = infer(net, ds, ['a'], { feats: true });
      expect(resident.probs.a).toEqual(fresh.probs.a);
      expect(resident.feats.a).toEqual(fresh.feats.a);
      expect(rt.arena.usedBytes).toBe(withData);
    } finally {
      rt.dispose();
    }
  });

  it('networks of MLP encoders infer 256 rows at a time while their forward buffers stay within 4 MiB, others in the training batch', () => {
    const mlp = (hidden: number[]) => ({ type: 'mlp' as const, hidden });
    const avmnist = [
      { name: 'audio', dim: 1280, encoder: mlp([128, 64]) },
      { name: 'image', dim: 784, encoder: mlp([128, 64]) },
    ];
    expect(inferRows(avmnist, 10, 64)).toBe(256);
    expect(inferRows(avmnist, 10, 512)).toBe(512); // never below the training batch
    expect(inferRows([{ name: 'text', dim: 20000, encoder: mlp([64]) }], 10, 32)).toBe(51); // 4 MiB / (4 · 20,200 floats a row)
    expect(inferRows([{ name: 'text', dim: 100000, encoder: mlp([64]) }], 10, 32)).toBe(32);
    expect(inferRows([avmnist[0], { name: 'image', dim: 784, encoder: { type: 'cnn', input: [28, 28, 1], channels: [8, 16], dense: 64 } }], 10, 64)).toBe(64);
  });

  it('inference batches of 256 rows give the bits of 64-row batches, on 1 and 2 threads', async () => {
    const { infer } = await import('../src/train/infer.js');
    const rng = new Rng(8);
    const n = 700; // two full batches of 256 and a partial one
    const dims = { a: 300, b: 200 };
    const ds = makeDataset(Object.fromEntries(Object.entries(dims).map(([m, dim]) => [m, { data: Float32Array.from({ length: n * dim }, () => rng.next() / 2 ** 32 - 0.5), dim }])), Int32Array.from({ length: n }, () => rng.below(4)), 4);
    const specs = Object.entries(dims).map(([name, dim]) => ({ name, dim, encoder: { type: 'mlp' as const, hidden: [128, 32], dropout: 0.1 } }));
    const outputs = [];
    for (const threads of [1, 2]) {
      const rt = await createRuntime({ threads });
      try {
        const net = new MultimodalNet(rt, specs, 4, 64, 3);
        expect(net.maxRows).toBe(256);
        const K = rt.kernels;
        // The reference: the network's forward pass over 64 rows at a time, written out.
        const ref = { a: new Float32Array(n * 4), b: new Float32Array(n * 4), joint: new Float32Array(n * 4) };
        const p = rt.arena.f32(64 * 4);
        for (let s = 0; s < n; s += 64) {
          const rows = Array.from({ length: Math.min(64, n - s) }, (_, i) => s + i);
          const q = prefix(p, rows.length * 4);
          net.load(ds, rows, ['a', 'b'], false);
          for (const m of ['a', 'b'] as const) {
            K.softmax(q, net.forward(m, rows.length, false).logits!, rows.length, 4);
            ref[m].set(rt.arena.read(q), s * 4);
          }
          K.softmax(q, net.jointForward(rows.length), rows.length, 4);
          ref.joint.set(rt.arena.read(q), s * 4);
        }
        const load = net.load.bind(net);
        let batches = 0;
        net.load = (...args: Parameters<MultimodalNet['load']>) => (batches++, load(...args));
        const got = infer(net, ds, ['a', 'b'], { joint: true });
        expect(batches).toBe(3); // 256 + 256 + 188 rows
        expect(got.probs.a).toEqual(ref.a);
        expect(got.probs.b).toEqual(ref.b);
        expect(got.joint).toEqual(ref.joint);
        if (threads === 2) expect(rt.threads.stats.splitCalls).toBeGreaterThan(0);
        outputs.push(got);
      } finally {
        rt.dispose();
      }
    }
    expect(outputs[1]).toEqual(outputs[0]);
  });

  it('net.load copies any rows from JavaScript (runs of consecutive rows in one copy) exactly as row by row', async () => {
    const rt = await createRuntime({ threads: 1 });
    try {
      const n = 40,
        dim = 5;
      const data = Float32Array.from({ length: n * dim }, (_, i) => i + 0.5);
      const ds = makeDataset({ a: { data, dim } }, new Int32Array(n), 3);
      const net = new MultimodalNet(rt, [{ name: 'a', dim, encoder: { type: 'mlp', hidden: [4] } }], 3, 16, 1);
      for (const idx of [[7], [3, 4, 5, 6], [9, 2, 3, 4, 30, 31, 0, 39], [5, 5, 6, 8, 7, 8, 9, 10, 11, 1, 2, 3, 12, 13, 14, 15]]) {
        net.load(ds, idx, ['a'], false);
        const got = rt.arena.viewF32(net.branch('a').input).slice(0, idx.length * dim);
        const want = Float32Array.from(idx.flatMap((r) => Array.from(data.subarray(r * dim, (r + 1) * dim))));
        expect(got).toEqual(want);
      }
    } finally {
      rt.dispose();
    }
  });
});

describe("10. init: 'he' as before (bit for bit), 'pytorch' as PyTorch's defaults", () => {
  const specs = [
    { name: 'a', dim: 12, encoder: { type: 'mlp' as const, hidden: [16, 8] } },
    { name: 'img', dim: 64, encoder: { type: 'cnn' as const, input: [8, 8, 1] as [number, number, number], channels: [4], dense: 8 } },
  ];

  it("'he' gives the parameters of the code before the option existed (hashes from commit 6853696)", async () => {
    // SHA-256 prefixes computed with the tree of commit 6853696 (before `init`), same construction.
    const GOLDEN = { init: '67951f05f0d2bcac', udi: 'd09c2f00ff37b950', umt: 'acba3096cb2023ba' };
    const mark = rt.arena.mark();
    const net = new MultimodalNet(rt, specs, 3, 16, 7);
    expect(await sha(rt.arena.read(net.store.params))).toBe(GOLDEN.init);
    expect(net.store.scheme).toBe('he');
    rt.arena.release(mark);
    const rng = new Rng(11);
    const n = 90;
    const labels = Int32Array.from({ length: n }, () => rng.below(3));
    const a = Float32Array.from({ length: n * 12 }, (_, i) => (i % 12 === labels[Math.floor(i / 12)] ? 1 : 0) + rng.next() / 2 ** 33);
    const img = Float32Array.from({ length: n * 64 }, (_, i) => ((i % 64) % 3 === labels[Math.floor(i / 64)] ? 0.5 : 0) + rng.next() / 2 ** 32);
    const ds = makeDataset({ a: { data: a, dim: 12 }, img: { data: img, dim: 64 } }, labels, 3);
    for (const [method, scratch] of [['udi', true], ['umt', false]] as const) {
      for (const init of ['he', undefined]) {
        const cfg = defaultConfig({ a: specs[0].encoder, img: specs[1].encoder }, 3);
        expect(cfg.init).toBe('he');
        if (init === undefined) delete (cfg as Partial<MethodConfig>).init; // a config built before the option
        for (const s of [cfg.solo, cfg.guided, cfg.joint]) s.epochs = 2;
        if (scratch) cfg.udi.followerInit = 'scratch'; // re-initialisation goes through the scheme too
        const mk = rt.arena.mark();
        const { model } = await train(rt, method, { train: ds }, cfg);
        expect(await paramHash(rt, model), `${method}, init ${init}`).toBe(GOLDEN[method]);
        rt.arena.release(mk);
      }
    }
  });

  /** Mean and variance of a tensor's values divided by `bound` (U(-1, 1): 0 and 1/3), and the largest |value|/bound. */
  const moments = (v: Float32Array, bound: number) => {
    let s = 0,
      ss = 0,
      max = 0;
    for (const x of v) {
      const u = x / bound;
      s += u;
      ss += u * u;
      max = Math.max(max, Math.abs(x));
    }
    return { mean: s / v.length, meanSq: ss / v.length, max };
  };

  it("'pytorch': every weight and bias U(±1/√fan_in) (bounds, mean, variance, distribution), fan_in of a convolution = k²·c_in", () => {
    const mark = rt.arena.mark();
    const net = new MultimodalNet(
      rt,
      [
        { name: 'wide', dim: 600, encoder: { type: 'mlp', hidden: [400, 32] } },
        { name: 'pic', dim: 12 * 12 * 3, encoder: { type: 'cnn', input: [12, 12, 3], channels: [16, 8], dense: 32 } },
      ],
      10,
      8,
      9,
    );
    net.store.initialize(9, 'pytorch');
    expect(net.store.scheme).toBe('pytorch');
    const fanIn: Record<string, number> = {
      'enc:wide.fc0': 600,
      'enc:wide.fc1': 400,
      'enc:pic.conv0': 3 * 3 * 3,
      'enc:pic.conv1': 3 * 3 * 16,
      'enc:pic.fc': 3 * 3 * 8,
      'head:wide.fc': 32,
      'head:pic.fc': 32,
      'head:joint.fc': 64,
      'head:shared.fc': 32,
    };
    const seen: string[] = [];
    let pooled = { n: 0, s: 0, ss: 0 };
    for (const p of net.store.parameters) {
      const layer = `${p.group}.${p.name.split('.')[0]}`;
      seen.push(layer);
      expect(p.fanIn, `${layer} fan_in`).toBe(fanIn[layer]);
      const bound = 1 / Math.sqrt(fanIn[layer]);
      const v = rt.arena.read(net.store.paramOf(p));
      const m = moments(v, bound);
      expect(m.max, `${p.group}.${p.name}: |value| <= 1/√fan_in`).toBeLessThanOrEqual(Math.fround(bound));
      const N = v.length;
      pooled = { n: pooled.n + N, s: pooled.s + m.mean * N, ss: pooled.ss + m.meanSq * N };
      if (N >= 2000) {
        // Mean 0 (sd 1/√(3N)) and E[u²] = 1/3 (sd √(4/45)/√N), within 5 standard deviations.
        expect(Math.abs(m.mean), `${p.group}.${p.name} mean`).toBeLessThan(5 / Math.sqrt(3 * N));
        expect(Math.abs(m.meanSq - 1 / 3), `${p.group}.${p.name} variance`).toBeLessThan(5 * Math.sqrt(4 / 45 / N));
        // Kolmogorov-Smirnov against U(-bound, bound): D < 1.95/√N (0.1% level).
        const u = Float64Array.from(v, (x) => (x / bound + 1) / 2).sort();
        let D = 0;
        u.forEach((x, i) => (D = Math.max(D, Math.abs(x - i / N), Math.abs(x - (i + 1) / N))));
        expect(D, `${p.group}.${p.name} KS distance`).toBeLessThan(1.95 / Math.sqrt(N));
      }
      if (p.name.endsWith('bias')) expect(v.some((x) => x !== 0), `${p.group}.${p.name} is drawn, not zero`).toBe(true);
    }
    expect(new Set(seen)).toEqual(new Set(Object.keys(fanIn)));
    // Every parameter together (small tensors included): U(-1, 1) after scaling.
    expect(Math.abs(pooled.s / pooled.n)).toBeLessThan(5 / Math.sqrt(3 * pooled.n));
    expect(Math.abs(pooled.ss / pooled.n - 1 / 3)).toBeLessThan(5 * Math.sqrt(4 / 45 / pooled.n));
    // Re-initialising a group (a follower from scratch) keeps the scheme.
    net.store.reinit('enc:wide', 9, 500);
    const b0 = net.store.parameters.find((p) => p.group === 'enc:wide' && p.name === 'fc1.bias')!;
    const rb = rt.arena.read(net.store.paramOf(b0));
    expect(rb.some((x) => x !== 0) && rb.every((x) => Math.abs(x) <= Math.fround(1 / Math.sqrt(400)))).toBe(true);
    expect(() => net.store.initialize(9, 'xavier' as never)).toThrow("init must be one of 'he', 'pytorch', got \"xavier\"");
    rt.arena.release(mark);
  });

  it("'he' for comparison: encoder weights N(0, 2/fan_in), heads within Xavier's bound, biases 0", () => {
    const mark = rt.arena.mark();
    const net = new MultimodalNet(rt, [{ name: 'wide', dim: 600, encoder: { type: 'mlp', hidden: [400] } }], 10, 8, 9);
    for (const p of net.store.parameters) {
      const v = rt.arena.read(net.store.paramOf(p));
      if (p.name.endsWith('bias')) expect(v.every((x) => x === 0)).toBe(true);
      else if (p.group.startsWith('enc:')) {
        const m = moments(v, Math.sqrt(2 / p.fanIn));
        expect(Math.abs(m.meanSq - 1)).toBeLessThan(5 * Math.sqrt(2 / v.length));
      } else expect(moments(v, 1).max).toBeLessThanOrEqual(Math.fround(Math.sqrt(6 / (p.fanIn + p.fanOut))));
    }
    rt.arena.release(mark);
  });

  it("the option reaches training from a config, and 'pytorch' trains", async () => {
    const c = parseTrainConfig({ data: { kind: 'mfeat' }, init: 'pytorch' });
    expect(c.init).toBe('pytorch');
    expect(toMethodConfig(c, ['fac', 'mor']).init).toBe('pytorch');
    expect(toMethodConfig(parseTrainConfig({ data: { kind: 'mfeat' } }), ['fac', 'mor']).init).toBe('he');
    expect(() => parseTrainConfig({ data: { kind: 'mfeat' }, init: 'xavier' }, 'my.json')).toThrow(/my\.json is not a valid training config:\n {2}init: /);
    const cfg = { ...smallConfig(), init: 'pytorch' as const };
    cfg.solo = { ...cfg.solo, epochs: 20 };
    const { model, result } = await train(rt, 'udi', { train: stdTrain, test: stdTest }, cfg);
    expect(model.net.store.scheme).toBe('pytorch');
    expect(await paramHash(rt, model)).not.toBe(await paramHash(rt, (await train(rt, 'udi', { train: stdTrain, test: stdTest }, { ...cfg, init: 'he' })).model));
    expect(result.fused.acc).toBeGreaterThan(0.6);
  });
});
