// Resume: a run continued from any saved state ends with the same weights, bit for bit, as the
// uninterrupted run (the state goes through its safetensors encoding on the way).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, defaultConfig, makeDataset, type Method, Rng, type Runtime, train } from '../src/index.js';
import { decodeState, encodeState } from '../src/io/state.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime({ threads: 1 });
});
afterAll(() => rt.dispose());

function data() {
  const rng = new Rng(9);
  const n = 160;
  const labels = Int32Array.from({ length: n }, () => rng.below(3));
  const a = Float32Array.from({ length: n * 10 }, (_, i) => (i % 10 === labels[Math.floor(i / 10)] ? 1 : 0) + rng.next() / 2 ** 32);
  const b = Float32Array.from({ length: n * 6 }, (_, i) => (i % 6 === labels[Math.floor(i / 6)] ? 0.3 : 0) + rng.next() / 2 ** 32);
  return makeDataset({ a: { data: a, dim: 10 }, b: { data: b, dim: 6 } }, labels, 3);
}

function config(followerInit: 'solo' | 'scratch' = 'solo') {
  const c = defaultConfig({ a: { type: 'mlp', hidden: [12], dropout: 0.2 }, b: { type: 'mlp', hidden: [8], dropout: 0.1 } }, 5);
  for (const s of [c.solo, c.guided, c.joint, c.fusionHead]) {
    s.epochs = 4;
    s.earlyStopping = { patience: 2, minDelta: 0 };
    s.optimizer = { type: 'adamw', lr: 5e-3 };
  }
  c.udi.followerInit = followerInit;
  return c;
}

const bits = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe('resume', () => {
  it.each([
    ['udi', 'solo'],
    ['udi', 'scratch'],
    ['ogm-ge', 'solo'],
    ['umt', 'solo'],
  ] as const)('%s (follower init %s): resumed from every saved state, same final weights and trace', async (method, init) => {
    const ds = data();
    const states: Uint8Array[] = [];
    const full = await train(rt, method as Method, { train: ds }, config(init), { onState: (s) => void states.push(encodeState(s, '{}')) });
    const want = rt.arena.read(full.model.net.store.params);
    expect(states.length).toBeGreaterThan(3);
    // Every state for short runs; a spread of them otherwise.
    const picks = states.length <= 8 ? states.map((_, i) => i) : [0, 1, 2, Math.floor(states.length / 2), states.length - 2, states.length - 1];
    for (const i of picks) {
      const { state } = decodeState(states[i]);
      const resumed = await train(rt, method as Method, { train: ds }, config(init), { resume: state });
      const got = rt.arena.read(resumed.model.net.store.params);
      expect(bits(got).equals(bits(want)), `resumed from state ${i} of ${states.length}`).toBe(true);
      expect(resumed.result.fused).toEqual(full.result.fused);
      expect(resumed.result.lambdaTrace.length).toBe(full.result.lambdaTrace.length);
      expect(resumed.result.cost.updates).toEqual(full.result.cost.updates);
      expect(resumed.result.anchor).toEqual(full.result.anchor);
    }
  }, 120_000);

  it('refuses a state from another method or model size', async () => {
    const ds = data();
    let saved: Uint8Array | null = null;
    await train(rt, 'ensemble', { train: ds }, config(), { onState: (s) => void (saved ??= encodeState(s, '{}')) });
    const { state } = decodeState(saved!);
    await expect(train(rt, 'joint', { train: ds }, config(), { resume: state })).rejects.toThrow(/method ensemble/);
    const bigger = config();
    bigger.encoders.a = { type: 'mlp', hidden: [20] };
    await expect(train(rt, 'ensemble', { train: ds }, bigger, { resume: state })).rejects.toThrow(/different config/);
  });
});
