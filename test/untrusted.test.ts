// Untrusted files: property-based mutations (fast-check, seeded) of real checkpoints, CSV and
// configs. Only typed errors may come out, each quickly; nothing may pollute prototypes.
import fc from 'fast-check';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, createRuntime, DataError, defaultConfig, deserializeModel, makeDataset, parseCsv, parseTrainConfig, Rng, type Runtime, serializeModel, train } from '../src/index.js';

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
