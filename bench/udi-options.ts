// Validation-only investigation of UDI's [ours] options on AV-MNIST split B: every variant is trained
// on the fit part and scored on the speaker-disjoint validation part; the test speaker is never loaded
// into training or scoring. Run: npx tsx bench/udi-options.ts [folds, e.g. 0,1]
import { createRuntime } from '../src/index.js';
import { loadAvmnist, avmnistSplit } from '../src/data/avmnist.js';
import { train, defaultConfig } from '../src/train/methods.js';
const rt = await createRuntime({ threads: 1 });
const d = await loadAvmnist(rt, { dataDir: '../shared/data', cacheDir: `${process.env.HOME}/.cache/udi-wasm` });
const variants: Record<string, (c: any) => void> = {
  'ensemble': () => {},
  'udi default': () => {},
  'udi fusion=validation': (c) => (c.fusion = 'validation'),
  'udi T=2': (c) => (c.udi.temperature = 2),
  'udi T=4': (c) => (c.udi.temperature = 4),
  'udi fixed': (c) => (c.udi.controller = 'fixed'),
  'udi scratch': (c) => (c.udi.followerInit = 'scratch'),
  'udi com=none': (c) => (c.udi.complementary = 'none'),
  'ensemble fusion=validation': (c) => (c.fusion = 'validation'),
};
const folds = process.argv[2] ? process.argv[2].split(',').map(Number) : [0, 1, 2, 3, 4, 5];
const acc: Record<string, number[]> = {};
for (const fold of folds) {
  const s = avmnistSplit(d, 'B', fold, 0);
  for (const [name, f] of Object.entries(variants)) {
    const cfg = defaultConfig({ audio: { type: 'mlp', hidden: [128, 64] }, image: { type: 'mlp', hidden: [128, 64] } }, 0);
    f(cfg);
    const { result } = await train(rt, name.split(' ')[0] as any, { train: s.train, val: s.val }, cfg); // evaluated on validation
    (acc[name] ??= []).push(result.fused.acc);
  }
  console.log('fold', fold, Object.entries(acc).map(([k, v]) => `${k}=${v[v.length - 1].toFixed(3)}`).join('  '));
}
console.log('MEAN', Object.entries(acc).map(([k, v]) => `${k}=${(v.reduce((a, b) => a + b) / v.length).toFixed(4)}`).join('  '));
rt.dispose();
