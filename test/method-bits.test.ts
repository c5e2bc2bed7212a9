// The bits every method produces, pinned. Each method trains a small deterministic problem (the
// portable fixture's data: MLP encoders, and a CNN on one modality) and the SHA-256 of its flat
// parameter buffer, λ trace, per-epoch losses and fused probabilities must equal the values stored in
// test/fixtures/method-bits.json. A refactor must leave them alone; a change that moves arithmetic on
// purpose (a new kernel order, a fixed bug) regenerates the file with
//   UDI_UPDATE_BITS=1 npx vitest run test/method-bits.test.ts
// and says in its commit and in the README which results moved.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, defaultConfig, METHODS, predict, train, type MethodConfig, type Runtime } from '../src/index.js';
import { fixtureDataset, FIXTURE, sha256Hex } from './portable/fixture.js';

const FILE = new URL('./fixtures/method-bits.json', import.meta.url);
const update = process.env.UDI_UPDATE_BITS === '1';
const stored: Record<string, Record<string, string>> = existsSync(FILE) ? JSON.parse(readFileSync(FILE, 'utf8')) : {};
const seen: Record<string, Record<string, string>> = {};

const bytes = (a: Float32Array | Float64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const text = (x: unknown) => new TextEncoder().encode(JSON.stringify(x, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)));

function config(encoder: 'mlp' | 'cnn', gate = true): MethodConfig {
  const { wide, narrow } = FIXTURE.dims;
  const cfg = defaultConfig(
    {
      wide: encoder === 'cnn' ? { type: 'cnn', input: [4, wide / 4, 1], channels: [4, 6], kernel: 3, dense: 12 } : { type: 'mlp', hidden: [32, 12], dropout: 0.1 },
      narrow: { type: 'mlp', hidden: [12] },
    },
    FIXTURE.seed,
  );
  const stage = { epochs: 3, batchSize: 32, optimizer: { type: 'adamw' as const, lr: 5e-3, weightDecay: 1e-4 } };
  cfg.solo = { ...cfg.solo, ...stage, schedule: { type: 'cosine' } };
  cfg.guided = { ...cfg.guided, ...stage, epochs: 2 };
  cfg.joint = { ...cfg.joint, ...stage };
  cfg.udi = { ...cfg.udi, gate };
  return cfg;
}

describe('every method gives the pinned bits', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await createRuntime({ threads: 1 });
  });
  afterAll(() => {
    rt?.dispose();
    if (update) writeFileSync(FILE, `${JSON.stringify(seen, null, 2)}\n`);
  });

  // The gate keeps the solo follower on this small problem; the ungated runs pin the guided step itself.
  const runs = [...METHODS.map((m) => [m, 'mlp', true] as const), ['udi', 'mlp', false] as const, ['udi', 'cnn', false] as const, ['joint', 'cnn', true] as const, ['ogm-ge', 'cnn', true] as const];
  for (const [method, encoder, gate] of runs) {
    const key = `${method}/${encoder}${gate ? '' : '/ungated'}`;
    it(key, async () => {
      const { result, model } = await train(rt, method, { train: fixtureDataset(FIXTURE.rows, 1) }, config(encoder, gate));
      const got = {
        params: await sha256Hex(bytes(rt.arena.read(model.net.store.params))),
        trace: await sha256Hex(text(result.lambdaTrace)),
        history: await sha256Hex(text(result.history.map(({ stage, epoch, loss, monitor }) => ({ stage, epoch, loss, monitor })))),
        probs: await sha256Hex(bytes(predict(model, fixtureDataset(FIXTURE.probeRows, 2)))),
      };
      seen[key] = got;
      if (!update) {
        expect(stored[key], `${key} has no stored bits: run with UDI_UPDATE_BITS=1`).toBeDefined();
        expect(got).toEqual(stored[key]);
      }
    });
  }
});
