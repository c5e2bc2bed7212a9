// Untrusted files: property-based mutations (fast-check, seeded) of real checkpoints, CSV and
// configs. Only typed errors may come out, each quickly; nothing may pollute prototypes.
import fc from 'fast-check';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, createRuntime, DataError, defaultConfig, deserializeModel, fitStandardize, makeDataset, type Method, type MethodConfig, parseTrainConfig, predict, Rng, type Runtime, serializeModel, stratifiedSplit, train, TrainingError } from '../src/index.js';
import { decodeSafetensors, encodeSafetensors, parseCsv } from '../src/io-node.js';
import { metadataDigest } from '../src/io/checkpoint.js';
import { MAX_NAME_LENGTH } from '../src/io/names.js';
import { checkResumeState, checkStateFitsNet, decodeState, encodeState } from '../src/io/state.js';
import { VERSION } from '../src/version.js';

let rt: Runtime;
let ckpt: Uint8Array;
let csv: string;
const SEED = 20261127;

beforeAll(async () => {
  rt = await createRuntime({ threads: 1 });
  const rng = new Rng(1);
  const n = 60;
  const labels = Int32Array.from({ length: n }, () => rng.below(3));
  const ds = makeDataset({ a: { data: Float32Array.from({ length: n * 4 }, () => rng.next() / 2 ** 32), dim: 4 }, b: { data: Float32Array.from({ length: n * 3 }, () => rng.next() / 2 ** 32), dim: 3 } }, labels, 3);
  const cfg = defaultConfig({ a: { type: 'mlp', hidden: [4] }, b: { type: 'mlp', hidden: [4] } });
  for (const s of [cfg.solo, cfg.guided]) s.epochs = 1;
  ckpt = await serializeModel((await train(rt, 'udi', { train: ds }, cfg)).model);
  csv = (await readFile(new URL('../../shared/data/mfeat/mfeat-mor.csv', import.meta.url), 'utf8')).split('\n').slice(0, 40).join('\n');
});
afterAll(() => rt.dispose());

/** Runs f; it must either succeed or throw an error of one of the allowed classes, within `ms`. */
async function onlyTyped(f: () => unknown, allowed: (new (...a: never[]) => Error)[], ms: number): Promise<void> {
  const t0 = performance.now();
  try {
    await f();
  } catch (e) {
    if (!allowed.some((c) => e instanceof c)) throw new Error(`untyped error: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    if (!(e as { code?: string }).code) throw new Error(`error without a code: ${(e as Error).message}`);
  }
  expect(performance.now() - t0).toBeLessThan(ms);
}

describe('untrusted checkpoints', () => {
  it('byte flips, truncations and insertions give typed errors only', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.option(fc.nat()), async (flips, cut) => {
        const b = ckpt.slice();
        for (const [i, v] of flips) b[i % b.length] = v;
        const bytes = cut === null ? b : b.subarray(0, cut % (b.length + 1));
        await onlyTyped(() => deserializeModel(rt, bytes, 'fuzz.safetensors'), [DataError], 2000);
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('arbitrary JSON headers give typed errors only', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (header) => {
        const head = new TextEncoder().encode(JSON.stringify(header));
        const b = new Uint8Array(8 + head.length + 16);
        new DataView(b.buffer).setBigUint64(0, BigInt(head.length), true);
        b.set(head, 8);
        await onlyTyped(() => deserializeModel(rt, b, 'fuzz.safetensors'), [DataError], 2000);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { seed: SEED, numRuns: 150 },
    );
  });
});

describe('untrusted CSV', () => {
  it('mutated real CSV gives a table or a DataError naming the file', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(), fc.constantFrom(',', '\n', 'x', '', '1e999', '-', ' ', '"', '\r\n', 'NaN')), { maxLength: 6 }), async (edits) => {
        let text = csv;
        for (const [i, s] of edits) {
          const at = i % (text.length + 1);
          text = text.slice(0, at) + s + text.slice(at + 1);
        }
        await onlyTyped(() => parseCsv(text, 'fuzz.csv'), [DataError], 1000);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('untrusted configs', () => {
  it('arbitrary JSON gives a config or a ConfigError; prototypes stay clean', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.record({ data: fc.record({ kind: fc.constantFrom('avmnist', 'mfeat', 'manifest', 'x') }), solo: fc.jsonValue(), udi: fc.jsonValue() }, { requiredKeys: [] })), async (cfg) => {
        await onlyTyped(() => parseTrainConfig(cfg, 'fuzz.json'), [ConfigError], 1000);
      }),
      { seed: SEED, numRuns: 300 },
    );
    const polluted = JSON.parse('{"data":{"kind":"mfeat"},"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}');
    await onlyTyped(() => parseTrainConfig(polluted), [ConfigError], 1000);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});


// ---- training states and checkpoint metadata (issue 14, points 3 and 4) -------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path into a JSON value (the root included). */
function paths(v: Json, p: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(p);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...p, i], out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) paths(v[k], [...p, k], out);
  return out;
}

/** Apply one edit at `path`: replace the value, delete it, or add a sibling key / element. */
function edit(root: Json, path: (string | number)[], op: 'replace' | 'delete' | 'add', value: Json): Json {
  if (path.length === 0) return op === 'replace' ? value : root;
  const copy = structuredClone(root);
  let parent = copy as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, Json>;
  const last = path[path.length - 1];
  if (op === 'replace') parent[last] = value;
  else if (op === 'delete') Array.isArray(parent) ? parent.splice(last as number, 1) : delete parent[last];
  else if (Array.isArray(parent)) parent.push(structuredClone(parent[last as number]));
  else parent[`${String(last)}x`] = value;
  return copy;
}

/** Values a hostile edit puts in: huge and negative counts, wrong types, names of other things. */
const hostile = fc.oneof(
  fc.constantFrom<Json>(1e12, -1, 0, 0.5, 2 ** 31, 2 ** 53, 1e308, '', 'x', null, [], {}, true, { $num: 'NaN' }, { $num: 'Infinity' }, { $num: '-Infinity' }, 'solo:a', 'guided:b', 'enc:a', 'head:joint', 'a', 'b', 'c', '__proto__', 'joint', 'calibrated'),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
);
const editArb = fc.tuple(fc.nat(), fc.constantFrom<'replace' | 'delete' | 'add'>('replace', 'replace', 'delete', 'add'), hostile);

describe('untrusted training states', () => {
  const names = ['a', 'b'];
  let ds: ReturnType<typeof makeDataset>;
  const states: { method: Method; bytes: Uint8Array }[] = [];
  const cfgOf = (): MethodConfig => {
    const c = defaultConfig({ a: { type: 'mlp', hidden: [6], dropout: 0.1 }, b: { type: 'mlp', hidden: [5] } }, 2);
    for (const st of [c.solo, c.guided, c.joint, c.fusionHead]) {
      st.epochs = 3;
      st.earlyStopping = { patience: 2, minDelta: 0 };
    }
    return c;
  };

  beforeAll(async () => {
    const rng = new Rng(11);
    const n = 48;
    const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
    ds = makeDataset({ a: { data: Float32Array.from({ length: n * 4 }, (_, i) => (i % 4 === labels[i >> 2] ? 1 : 0) + rng.next() / 2 ** 33), dim: 4 }, b: { data: Float32Array.from({ length: n * 3 }, () => rng.next() / 2 ** 32), dim: 3 } }, labels, 3);
    for (const method of ['udi', 'umt'] as Method[]) {
      const all: Uint8Array[] = [];
      await train(rt, method, { train: ds }, cfgOf(), { onState: (st) => void all.push(encodeState(st, '{}')) });
      // A spread of states: in the solo stage, between stages, in the guided / joint stage.
      for (const i of [0, Math.floor(all.length / 3), Math.floor((2 * all.length) / 3), all.length - 2]) states.push({ method, bytes: all[i] });
    }
  }, 60_000);

  /** What `udi train --resume` does with a state file: decode, check against the config and the network, train. */
  async function resumeAsCli(bytes: Uint8Array, method: Method, cfg = cfgOf()): Promise<void> {
    const file = 'run/state.safetensors';
    const { state } = decodeState(bytes, file);
    checkResumeState(state, { file, configFile: 'run/config.json', method, cfg, names });
    const trainRows = stratifiedSplit(ds.labels, cfg.validationFraction, cfg.seed).fit.length;
    await train(rt, method, { train: ds }, cfg, { resume: state, callbacks: { onTrainBegin: (net) => checkStateFitsNet(state, net, { file, trainRows }) } });
  }

  /** The state's metadata JSON (non-finite numbers as {$num}), and a state file with it replaced. */
  const jsonOf = (bytes: Uint8Array) => JSON.parse(decodeSafetensors(bytes).metadata.state) as Json;
  const withJson = (bytes: Uint8Array, j: Json | string) => {
    const { tensors, metadata } = decodeSafetensors(bytes);
    return encodeSafetensors(tensors, { ...metadata, state: typeof j === 'string' ? j : JSON.stringify(j) });
  };
  const stateWith = (bytes: Uint8Array, path: (string | number)[], value: Json) => withJson(bytes, edit(jsonOf(bytes), path, 'replace', value));
  /** The udi state furthest into a stage (at least 2 epochs done). */
  const inProgress = () => {
    const epoch = (b: Uint8Array) => (jsonOf(b) as { current: { epoch: number } | null }).current?.epoch ?? 0;
    const b = states.filter((x) => x.method === 'udi').sort((x, y) => epoch(y.bytes) - epoch(x.bytes))[0].bytes;
    expect(epoch(b)).toBeGreaterThanOrEqual(2);
    return b;
  };

  it('every real state resumes', async () => {
    for (const { method, bytes } of states) await resumeAsCli(bytes, method);
  }, 60_000);

  it('a current epoch of 1e12 is an error at once, not an endless replay of shuffles', async () => {
    const t0 = performance.now();
    const e = await resumeAsCli(stateWith(inProgress(), ['current', 'epoch'], 1e12), 'udi').catch((x) => x);
    expect(e).toBeInstanceOf(DataError);
    expect(e.code).toBe('STATE_BAD');
    expect(e.message).toMatch(/run\/state\.safetensors: the training state in the metadata is not valid:[\s\S]*state\.current\.epoch: is 1000000000000, but the stage's history holds \d+ epochs/);
    expect(e.message).toMatch(/start afresh with udi train --config/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('epochs beyond the config\'s budget are a mismatch naming both files', async () => {
    const small = cfgOf();
    small.solo.epochs = small.guided.epochs = 1;
    const e = await resumeAsCli(inProgress(), 'udi', small).catch((x) => x);
    expect(e).toMatchObject({ code: 'RESUME_MISMATCH', message: expect.stringMatching(/run\/state\.safetensors: .*more than the config's budget of 1.*\(run\/config\.json\)/) });
  });

  it('metadata {}, without generator states, or of another method: errors naming the file and field', async () => {
    let e = await resumeAsCli(withJson(states[0].bytes, '{}'), 'udi').catch((x) => x);
    expect(e).toMatchObject({ code: 'STATE_BAD' });
    expect(e.message).toMatch(/run\/state\.safetensors:[\s\S]*state\.method[\s\S]*state\.rngs/);
    const j = jsonOf(states[0].bytes) as Record<string, Json>;
    delete j.rngs;
    e = await resumeAsCli(withJson(states[0].bytes, j), 'udi').catch((x) => x);
    expect(e).toMatchObject({ code: 'STATE_BAD', message: expect.stringMatching(/state\.rngs: /) });
    e = await resumeAsCli(states[0].bytes, 'ensemble').catch((x) => x);
    expect(e).toMatchObject({ code: 'RESUME_MISMATCH', message: expect.stringMatching(/^run\/state\.safetensors: the saved state is of method udi, but run\/config\.json says ensemble/) });
    e = await resumeAsCli(stateWith(states[0].bytes, ['rngs', 0], [1, 2, 3]), 'udi').catch((x) => x);
    expect(e).toMatchObject({ code: 'STATE_BAD', message: expect.stringMatching(/state\.rngs\.0: a generator state is 4 whole numbers/) });
  });

  it('a negative wall time (the clock stepped back) is a good state, read as 0; a non-finite one is refused', async () => {
    const b = inProgress();
    const j = jsonOf(b) as { wallMs: Json; current: { wallMs: Json }; done: { wallMs: Json }[] };
    j.wallMs = -5;
    j.current.wallMs = -1.5;
    expect(j.done.length).toBeGreaterThan(0);
    j.done[0].wallMs = -3;
    const back = withJson(b, j as unknown as Json);
    const { state } = decodeState(back, 'run/state.safetensors');
    expect([state.wallMs, state.current!.wallMs, state.done[0].wallMs]).toEqual([0, 0, 0]);
    await resumeAsCli(back, 'udi');
    const e = await resumeAsCli(stateWith(b, ['wallMs'], { $num: 'Infinity' }), 'udi').catch((x) => x);
    expect(e).toMatchObject({ code: 'STATE_BAD', message: expect.stringMatching(/state\.wallMs: .*Infinity/) });
  });

  it('records the library version that saved it (none in states of earlier versions)', () => {
    expect(decodeState(states[0].bytes).version).toBe(VERSION);
    const { tensors, metadata } = decodeSafetensors(states[0].bytes);
    const { library_version: _v, ...old } = metadata;
    expect(decodeState(encodeSafetensors(tensors, old)).version).toBeUndefined();
    expect(() => decodeState(encodeSafetensors(tensors, { ...metadata, library_version: 'x'.repeat(100) }), 'run/state.safetensors')).toThrow(/run\/state\.safetensors: the library version in the metadata .* is not a version number/);
  });

  it('modality names of MAX_NAME_LENGTH characters: every state of a run decodes and fits (stage names guided:<name> too)', async () => {
    const [A, B] = [`a${'x'.repeat(MAX_NAME_LENGTH - 1)}`, `b${'y'.repeat(MAX_NAME_LENGTH - 1)}`];
    const long = makeDataset({ [A]: { data: ds.modalities.a.data, dim: 4 }, [B]: { data: ds.modalities.b.data, dim: 3 } }, ds.labels, 3);
    const cfg = defaultConfig({ [A]: { type: 'mlp', hidden: [4] }, [B]: { type: 'mlp', hidden: [3] } }, 2);
    for (const st of [cfg.solo, cfg.guided]) {
      st.epochs = 2;
      st.earlyStopping = false;
    }
    const all: Uint8Array[] = [];
    await train(rt, 'udi', { train: long }, cfg, { onState: (st) => void all.push(encodeState(st, '{}')) });
    const stages = new Set<string>();
    for (const bytes of all) {
      const { state } = decodeState(bytes, 'long/state.safetensors');
      checkResumeState(state, { file: 'long/state.safetensors', method: 'udi', cfg, names: [A, B] });
      for (const r of state.done) stages.add(r.name);
    }
    expect([...stages].some((n) => n.startsWith('guided:') && n.length === 'guided:'.length + MAX_NAME_LENGTH)).toBe(true);
  }, 60_000);

  it('snapshots and cached teachers must fit the network', async () => {
    const withTensor = (bytes: Uint8Array, name: string, data: Float32Array) => {
      const { tensors, metadata } = decodeSafetensors(bytes);
      return encodeSafetensors({ ...tensors, [name]: { shape: [data.length], data } }, metadata);
    };
    const b = inProgress();
    const snap = Object.keys(decodeSafetensors(b).tensors).find((k) => k.startsWith('state.snapshot.'))!;
    let e = await resumeAsCli(withTensor(b, snap, new Float32Array(3)), 'udi').catch((x) => x);
    expect(e).toMatchObject({ code: 'STATE_BAD', message: expect.stringMatching(/the snapshot of group .* holds 3 values, the model's group has \d+/) });
    const umt = states.filter((x) => x.method === 'umt').at(-1)!.bytes;
    const teacher = Object.keys(decodeSafetensors(umt).tensors).find((k) => k.startsWith('state.memo.teachers.'));
    expect(teacher).toBeDefined();
    e = await resumeAsCli(withTensor(umt, teacher!, new Float32Array(7)), 'umt').catch((x) => x);
    expect(e).toMatchObject({ code: 'STATE_BAD', message: expect.stringMatching(/cached teacher features of "[ab]" hold 7 values, expected \d+ rows × \d+/) });
  });

  it('property: any edit of a real state\'s metadata resumes, or fails with a typed error naming the file, quickly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), editArb, async (which, [at, op, value]) => {
        const { method, bytes } = states[which % states.length];
        const j = jsonOf(bytes);
        const ps = paths(j);
        const mutated = withJson(bytes, edit(j, ps[at % ps.length], op, value));
        const t0 = performance.now();
        try {
          await resumeAsCli(mutated, method);
        } catch (e) {
          if (!(e instanceof DataError || e instanceof TrainingError)) throw new Error(`untyped error after editing ${JSON.stringify(ps[at % ps.length])} (${op} ${JSON.stringify(value)}): ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
          expect((e as DataError).code).toBeTruthy();
          if (e instanceof DataError) expect(e.message).toContain('state.safetensors');
        }
        expect(performance.now() - t0).toBeLessThan(5000);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { seed: SEED, numRuns: 300 },
    );
  }, 120_000);
});

describe('untrusted checkpoint metadata', () => {
  let signed: Uint8Array;
  let ds2: ReturnType<typeof makeDataset>;
  beforeAll(async () => {
    const rng = new Rng(5);
    const n = 40;
    const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
    ds2 = makeDataset({ a: { data: Float32Array.from({ length: n * 4 }, () => rng.next() / 2 ** 32), dim: 4 }, b: { data: Float32Array.from({ length: n * 3 }, () => rng.next() / 2 ** 32), dim: 3 } }, labels, 2);
    const cfg = defaultConfig({ a: { type: 'mlp', hidden: [4] }, b: { type: 'mlp', hidden: [4] } });
    cfg.solo.epochs = cfg.guided.epochs = 1;
    cfg.fusion = 'validation';
    const { model, result } = await train(rt, 'udi', { train: ds2 }, cfg);
    signed = await serializeModel(model, { anchor: result.anchor?.name, preprocess: fitStandardize(ds2) });
  });

  /** The checkpoint with its model description edited and both checksums recomputed (a crafted file). */
  async function crafted(bytes: Uint8Array, f: (d: Json) => Json, sign = true): Promise<Uint8Array> {
    const { tensors, metadata } = decodeSafetensors(bytes);
    const m = { ...metadata, model: JSON.stringify(f(JSON.parse(metadata.model))) };
    delete (m as Record<string, string>).metadata_sha256;
    return encodeSafetensors(tensors, sign ? { ...m, metadata_sha256: await metadataDigest(m) } : { ...m, metadata_sha256: metadata.metadata_sha256 });
  }
  const set = (path: (string | number)[], value: Json) => (d: Json) => edit(d, path, 'replace', value);
  const load = (b: Uint8Array) => deserializeModel(rt, b, 'm.safetensors');

  it('the metadata is covered by a checksum: an edit without re-signing is damage', async () => {
    await expect(load(await crafted(signed, set(['classes'], 3), false))).rejects.toMatchObject({ code: 'CKPT_CHECKSUM', message: expect.stringMatching(/m\.safetensors: the metadata \(model description\) does not match its SHA-256/) });
    // A checkpoint from before metadata_sha256 still loads (its description is validated all the same).
    const { tensors, metadata } = decodeSafetensors(signed);
    const old = { ...metadata } as Record<string, string>;
    delete old.metadata_sha256;
    await expect(load(encodeSafetensors(tensors, old))).resolves.toBeDefined();
  });

  it.each([
    ['preprocess.std of 0', set(['preprocess', 'a', 'std', 0], 0), /model\.preprocess\.a\.std\.0: a standard deviation must be >= 1e-8/],
    ['an unknown fusion kind', set(['fusion'], 'magic'), /model\.fusion: /],
    ['fusion that does not fit the method', set(['fusion'], 'joint'), /model\.fusion: a udi model fuses with "mean" or .*not "joint"/],
    ['no "fused" list', (d: Json) => edit(d, ['fused'], 'delete', null), /model\.fused: /],
    ['an unknown modality in "fused"', set(['fused', 1], 'c'), /model\.fused\.1: "c" is not a modality of the model \(a, b\)/],
    ['a wrong-length mean', (d: Json) => edit(d, ['preprocess', 'a', 'mean', 0], 'delete', null), /model\.preprocess\.a\.mean: has 3 values, modality "a" has 4 features/],
    ['fusion weights summing to 0', set(['fusionWeights'], { a: 0, b: 0 }), /model\.fusionWeights: the weights of the fused modalities sum to 0/],
    ['a missing fusion weight', set(['fusionWeights'], { a: 1 }), /model\.fusionWeights: no value for fused modality "b"/],
    ['an unknown key', set(['extra'], 1), /\n  model\.extra: unknown key/],
    ['a modality name longer than MAX_NAME_LENGTH', set(['modalities', 0, 'name'], 'a'.repeat(MAX_NAME_LENGTH + 1)), new RegExp(`model\\.modalities\\.0\\.name: a modality name must be at most ${MAX_NAME_LENGTH} characters`)],
    ['a reserved modality name', set(['modalities', 0, 'name'], '__proto__'), /model\.modalities\.0\.name: a reserved name/],
    ['classes of 1e12', set(['classes'], 1e12), /model\.classes/],
  ])('%s: CKPT_MODEL naming the file and the field', async (_, f, message) => {
    const e = await load(await crafted(signed, f)).catch((x) => x);
    expect(e).toBeInstanceOf(DataError);
    expect(e.code).toBe('CKPT_MODEL');
    expect(e.message).toMatch(/^m\.safetensors: the model description in the metadata is not valid:/);
    expect(e.message).toMatch(message);
  });

  it('property: any edit of a real description loads and predicts, or fails with a typed error, quickly', async () => {
    await fc.assert(
      fc.asyncProperty(editArb, async ([at, op, value]) => {
        const d = JSON.parse(decodeSafetensors(signed).metadata.model) as Json;
        const ps = paths(d);
        const b = await crafted(signed, () => edit(d, ps[at % ps.length], op, value));
        const t0 = performance.now();
        try {
          const { model, description } = await load(b);
          const input = makeDataset(Object.fromEntries(description.modalities.map((m) => [m.name, { data: new Float32Array(5 * m.dim).fill(0.5), dim: m.dim }])), [0, 1, 0, 1, 0], description.classes);
          const probs = predict(model, input);
          expect(probs.every(Number.isFinite)).toBe(true);
        } catch (e) {
          if (!(e instanceof DataError || e instanceof TrainingError)) throw new Error(`untyped error after editing ${JSON.stringify(ps[at % ps.length])} (${op} ${JSON.stringify(value)}): ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
          expect((e as DataError).code).toBeTruthy();
        }
        expect(performance.now() - t0).toBeLessThan(2000);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { seed: SEED, numRuns: 300 },
    );
  }, 60_000);
});
