// One source of config defaults: the settings schema (src/train/config.ts). defaultConfig, a config
// file's defaults and the trainer's defaults for absent stage fields are the same values, and every
// config is made of fresh objects (a stage shares nothing with another stage or another config).
import { describe, expect, it } from 'vitest';
import { defaultConfig, parseTrainConfig, toMethodConfig } from '../src/index.js';
import { STAGE_DEFAULTS } from '../src/train/config.js';

const enc = { a: { type: 'mlp' as const, hidden: [128, 64] }, b: { type: 'mlp' as const, hidden: [128, 64] } };

/** Every object reachable from x, with its path. */
function objects(x: unknown, path = 'cfg', out = new Map<object, string>()): Map<object, string> {
  if (x && typeof x === 'object') {
    if (out.has(x)) throw new Error(`${path} is the same object as ${out.get(x)}`);
    out.set(x, path);
    for (const [k, v] of Object.entries(x)) objects(v, `${path}.${k}`, out);
  }
  return out;
}

describe('config defaults', () => {
  it("a config file's defaults are defaultConfig's", () => {
    const file = toMethodConfig(parseTrainConfig({ data: { kind: 'mfeat' }, seed: 4 }), ['a', 'b']);
    expect(file).toEqual(defaultConfig(enc, 4));
    expect(Object.keys(file)).toEqual(Object.keys(defaultConfig(enc, 4)));
  });

  it('the trainer fills an absent stage field with the same default', () => {
    const c = defaultConfig({});
    for (const s of [c.solo, c.guided, c.joint, c.fusionHead]) {
      expect(s.earlyStopping).toEqual(STAGE_DEFAULTS.earlyStopping);
      expect(s.schedule).toEqual(STAGE_DEFAULTS.schedule);
      expect(s.optimizer).toMatchObject(STAGE_DEFAULTS.optimizer);
    }
    expect(Object.isFrozen(STAGE_DEFAULTS) && Object.isFrozen(STAGE_DEFAULTS.optimizer) && Object.isFrozen(STAGE_DEFAULTS.schedule)).toBe(true);
  });

  it('no two parts of a config, nor two configs, share an object', () => {
    const c = defaultConfig(enc);
    objects(c); // throws on a shared object (the encoders are the caller's own)
    const d = defaultConfig(enc);
    for (const [o, path] of objects({ ...d, encoders: {} })) expect(objects({ ...c, encoders: {} }).has(o), path).toBe(false);
  });

  it('changing one stage changes no other stage and no later config (the shared-stage bug)', () => {
    const c = defaultConfig(enc);
    c.guided.epochs = 50;
    c.guided.optimizer.lr = 0.5;
    if (c.guided.earlyStopping) c.guided.earlyStopping.patience = 99;
    c.udi.temperature = 3;
    c.dimml.contrastWeight = 7;
    for (const s of [c.solo, c.joint]) {
      expect(s.epochs).toBe(30);
      expect(s.optimizer.lr).toBe(1e-3);
      expect(s.earlyStopping).toEqual({ patience: 5, minDelta: 0 });
    }
    const fresh = defaultConfig(enc);
    expect(fresh.guided.epochs).toBe(30);
    expect(fresh.guided.optimizer.lr).toBe(1e-3);
    expect(fresh.guided.earlyStopping).toEqual({ patience: 5, minDelta: 0 });
    expect(fresh.udi.temperature).toBe(1);
    expect(fresh.dimml.contrastWeight).toBe(0.1);
    expect(STAGE_DEFAULTS.earlyStopping).toEqual({ patience: 5, minDelta: 0 });
  });
});
