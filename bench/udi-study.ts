// How UDI's defaults were chosen: a validation-only study over every development dataset.
//
// Run: npx tsx bench/udi-study.ts [dataset keys, default all] [--json FILE]
//      keys: avA avB avC mfeat:fac+mor mfeat:pix+fou mfeat:kar+zer mfeat:fac+fou+mor
//      npx tsx bench/udi-study.ts --summarise FILE...   applies the rule below to saved rows
//      npx tsx bench/udi-study.ts --init [keys] --json FILE   udi.followerInit 'solo' (default) vs 'scratch'
//        on top of the chosen defaults; 'scratch' would be adopted by the same rule
//
// Protocol (written down before any outcome was looked at; the test split is never loaded into
// training or scoring):
// - Every dataset's training split is cut into fit / val / dev. `val` is what the methods see as
//   validation (early stopping, anchor, gate, calibration); `dev` is scored and nothing selects on
//   it, so options that fit on validation are not flattered.
//     AV-MNIST B, fold f (6 folds, seed 0): test speaker f excluded; val = speaker f+1; dev = speaker
//       f+2; fit = the other three speakers.
//     AV-MNIST A and C (seeds 0, 1, 2): test recordings (index 0-4) excluded; dev = stratified 10%
//       of train (seed 2000 + seed); val = stratified 10% of the rest (seed).
//     mfeat pairs and the triple (folds 0, 1, 2, seed 0): the fold's 25% test excluded (seed 1000 +
//       fold); dev = stratified 15% of the rest (seed 2000 + fold); val = stratified 10% of the rest.
//   Audio and mfeat features are standardised with the fit part's statistics.
// - Encoders as the main job: AV-MNIST audio MLP 128-64, image CNN conv8-pool-conv16-pool-dense64;
//   mfeat MLP 64. Budgets: the library's defaults.
// - Candidates, in this order, starting from the paper's form (udi.monitor 'follower', no gate,
//   fusion 'mean', udi.temperature 1):
//     1. udi.monitor = 'fused'   2. udi.gate = true   3. fusion = 'calibrated'   4. udi.temperature = 2
//   A candidate is adopted, on top of those already adopted, iff it raises the mean dev accuracy over
//   the seven datasets (each dataset weighted equally: its mean over folds × seeds) and lowers no
//   dataset's mean by more than 0.5 points. All 16 combinations are trained (the solo stage once per
//   run, shared through a resumable training state, so every variant sees the same solo models);
//   `ensemble` (mean and calibrated fusion) and `joint` are reported beside them.
import { readFileSync, writeFileSync } from 'node:fs';
import { bootstrapMeanCI } from '../src/compare-stats.js';
import { createRuntime } from '../src/index.js';
import { loadAvmnist } from '../src/data/avmnist.js';
import { loadMfeat, type MfeatView } from '../src/data/mfeat.js';
import { applyStandardize, type Dataset, fitStandardize, makeDataset, stratifiedSplit, subset } from '../src/data/dataset.js';
import type { EncoderConfig } from '../src/nn/encoders.js';
import { defaultConfig, type MethodConfig, type Method, train, type TrainState } from '../src/train/methods.js';

const DATA = process.env.UDI_DATA ?? '../shared/data';
const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args.splice(jsonAt, 2)[1] : undefined;
// --init: the follower-initialisation question on top of the chosen defaults (solo vs scratch), same protocol and rule.
const initAt = args.indexOf('--init');
const initStudy = initAt >= 0 && !!args.splice(initAt, 1);
const ALL = ['avA', 'avB', 'avC', 'mfeat:fac+mor', 'mfeat:pix+fou', 'mfeat:kar+zer', 'mfeat:fac+fou+mor'];
const keys = args.length ? args : ALL;

interface Part {
  key: string;
  run: string;
  fit: Dataset;
  val: Dataset;
  dev: Dataset;
  encoders: Record<string, EncoderConfig>;
  seed: number;
}

const rows = (n: number) => Array.from({ length: n }, (_, i) => i);
/** fit/val/dev subsets of `all`, with the named modalities standardised on fit's statistics. */
function parts(all: Dataset, fit: ArrayLike<number>, val: ArrayLike<number>, dev: ArrayLike<number>, standardise: string[]) {
  const [f, v, d] = [fit, val, dev].map((r) => subset(all, r));
  const stats = fitStandardize(subset(f, rows(f.size), standardise));
  const std = (ds: Dataset): Dataset => {
    const s = applyStandardize(subset(ds, rows(ds.size), standardise), stats);
    return { ...ds, modalities: { ...ds.modalities, ...s.modalities } };
  };
  return { fit: std(f), val: std(v), dev: std(d) };
}

async function* datasets(rt: Awaited<ReturnType<typeof createRuntime>>): AsyncGenerator<Part> {
  for (const key of keys) {
    if (key.startsWith('av')) {
      const split = key.slice(2);
      const d = await loadAvmnist(rt, { dataDir: DATA, cacheDir: `${process.env.HOME}/.cache/udi-wasm` });
      const all = makeDataset({ audio: { data: d.audio, dim: d.audioDim }, image: { data: split === 'C' ? d.imageC : d.image, dim: 784 } }, d.labels, 10);
      const encoders: Record<string, EncoderConfig> = { audio: { type: 'mlp', hidden: [128, 64] }, image: { type: 'cnn', input: [28, 28, 1], channels: [8, 16], kernel: 3, dense: 64 } };
      if (split === 'B') {
        const S = d.speakers.length;
        for (let f = 0; f < S; f++) {
          const [held, vs, ds] = [0, 1, 2].map((k) => d.speakers[(f + k) % S]);
          const fit: number[] = [],
            val: number[] = [],
            dev: number[] = [];
          d.speaker.forEach((s, i) => {
            if (s !== held) (s === vs ? val : s === ds ? dev : fit).push(i);
          });
          yield { key, run: `fold ${f}`, ...parts(all, fit, val, dev, ['audio']), encoders, seed: 0 };
        }
      } else {
        const train = Int32Array.from(rows(all.size).filter((i) => d.index[i] >= 5));
        for (let seed = 0; seed < 3; seed++) {
          const s1 = stratifiedSplit(Int32Array.from(train, (i) => d.labels[i]), 0.1, 2000 + seed);
          const rest = Int32Array.from(s1.fit, (j) => train[j]);
          const s2 = stratifiedSplit(Int32Array.from(rest, (i) => d.labels[i]), 0.1, seed);
          yield { key, run: `seed ${seed}`, ...parts(all, Array.from(s2.fit, (j) => rest[j]), Array.from(s2.val, (j) => rest[j]), Array.from(s1.val, (j) => train[j]), ['audio']), encoders, seed };
        }
      }
    } else {
      const views = key.split(':')[1].split('+') as MfeatView[];
      const all = await loadMfeat(`${DATA}/mfeat`, views);
      for (let fold = 0; fold < 3; fold++) {
        const train = stratifiedSplit(all.labels, 0.25, 1000 + fold).fit;
        const s1 = stratifiedSplit(Int32Array.from(train, (i) => all.labels[i]), 0.15, 2000 + fold);
        const rest = Int32Array.from(s1.fit, (j) => train[j]);
        const s2 = stratifiedSplit(Int32Array.from(rest, (i) => all.labels[i]), 0.1, 0);
        const encoders = Object.fromEntries(views.map((v) => [v, { type: 'mlp', hidden: [64] } as EncoderConfig]));
        yield { key, run: `fold ${fold}`, ...parts(all, Array.from(s2.fit, (j) => rest[j]), Array.from(s2.val, (j) => rest[j]), Array.from(s1.val, (j) => train[j]), views), encoders, seed: 0 };
      }
    }
  }
}

/** The 16 combinations of the four candidates, named by the letters of those switched on (M G C T). */
const COMBOS = rows(16).map((b) => ({ name: ['M', 'G', 'C', 'T'].filter((_, k) => b & (1 << k)).join('') || 'paper', M: !!(b & 1), G: !!(b & 2), C: !!(b & 4), T: !!(b & 8) }));

type Row = { key: string; run: string; variant: string; acc: number; detail?: unknown };

/** Apply the adoption rule to the study's rows and print the tables (markdown). */
function summarise(all: Row[]): void {
  const ds = [...new Set(all.map((r) => r.key))];
  const variants = [...new Set(all.map((r) => r.variant))];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const acc = (v: string, k: string) => mean(all.filter((r) => r.variant === v && r.key === k).map((r) => r.acc));
  const overall = (v: string) => mean(ds.map((k) => acc(v, k)));
  const pct = (x: number) => (100 * x).toFixed(1);
  console.log(`\n| variant | ${ds.join(' | ')} | mean |\n|---|${ds.map(() => '---|').join('')}---|`);
  for (const v of variants) console.log(`| ${v} | ${ds.map((k) => pct(acc(v, k))).join(' | ')} | ${(100 * overall(v)).toFixed(2)} |`);
  if (variants.includes('udi init=scratch')) {
    const gain = overall('udi init=scratch') - overall('udi init=solo');
    const worst = Math.min(...ds.map((d) => acc('udi init=scratch', d) - acc('udi init=solo', d)));
    console.log(`\nscratch vs solo: mean ${(100 * gain).toFixed(2)} points, worst dataset ${(100 * worst).toFixed(2)}: ${gain > 0 && worst >= -0.005 ? 'adopt scratch' : 'keep solo'}`);
    return;
  }
  // The rule, in its order.
  let cur = { M: false, G: false, C: false, T: false };
  const name = (c: typeof cur) => `udi ${(['M', 'G', 'C', 'T'] as const).filter((k) => c[k]).join('') || 'paper'}`;
  console.log('\nAdoption rule (mean over datasets up; no dataset down by more than 0.5 points):');
  for (const k of ['M', 'G', 'C', 'T'] as const) {
    const next = { ...cur, [k]: true };
    const [a, b] = [name(cur), name(next)];
    if (!variants.includes(b)) continue;
    const gain = overall(b) - overall(a);
    const worst = Math.min(...ds.map((d) => acc(b, d) - acc(a, d)));
    const adopt = gain > 0 && worst >= -0.005;
    console.log(`  ${k}: ${a} -> ${b}: mean ${gain >= 0 ? '+' : ''}${(100 * gain).toFixed(2)} points, worst dataset ${(100 * worst).toFixed(2)}: ${adopt ? 'adopted' : 'not adopted'}`);
    if (adopt) cur = next;
  }
  const chosen = name(cur);
  console.log(`  chosen: ${chosen}`);
  // Paired differences over every (dataset, run), with a bootstrap CI.
  const runs = [...new Set(all.map((r) => `${r.key}|${r.run}`))];
  const at = (v: string, kr: string) => all.find((r) => `${r.key}|${r.run}` === kr && r.variant === v)?.acc;
  console.log('\n| comparison (dev accuracy, points) | n | mean diff | 95% CI | wins/ties/losses |\n|---|---|---|---|---|');
  for (const [a, b] of [[chosen, 'ensemble'], [chosen, 'ensemble calibrated'], [chosen, 'udi paper'], ['udi paper', 'ensemble'], [chosen, 'joint']]) {
    const d = runs.map((kr) => [at(a, kr), at(b, kr)]).filter(([x, y]) => x !== undefined && y !== undefined).map(([x, y]) => 100 * (x! - y!));
    if (!d.length) continue;
    const ci = bootstrapMeanCI(d);
    console.log(`| ${a} − ${b} | ${ci.n} | ${ci.mean.toFixed(2)} | [${ci.lo.toFixed(2)}, ${ci.hi.toFixed(2)}] | ${d.filter((x) => x > 1e-7).length}/${d.filter((x) => Math.abs(x) <= 1e-7).length}/${d.filter((x) => x < -1e-7).length} |`);
  }
}

const summariseAt = args.indexOf('--summarise');
if (summariseAt >= 0) {
  summarise(args.slice(summariseAt + 1).flatMap((f) => JSON.parse(readFileSync(f, 'utf8')) as Row[]));
  process.exit(0);
}

const rt = await createRuntime({ threads: 1 });
const out: Row[] = [];
for await (const p of datasets(rt)) {
  const t0 = Date.now();
  const data = { train: p.fit, val: p.val, test: p.dev };
  const base = (): MethodConfig => defaultConfig(p.encoders, p.seed);
  const mark = rt.arena.mark();
  // The solo stages once: keep the state emitted when they are done (no stage in progress).
  let soloState: TrainState | undefined;
  const names = Object.keys(p.encoders);
  const run = async (variant: string, method: Method, cfg: MethodConfig, resume?: TrainState) => {
    const m = rt.arena.mark();
    const { result } = await train(rt, method, data, cfg, {
      resume,
      onState: resume ? undefined : (s) => void (s.current === null && s.done.length === names.length && (soloState = s)),
    });
    rt.arena.release(m);
    out.push({ key: p.key, run: p.run, variant, acc: result.fused.acc, detail: { anchor: result.anchor?.name, guided: result.guided, T: result.fusionTemperatures } });
    return result;
  };
  const ens = base();
  ens.fusion = 'mean'; // the row the rule's "ensemble" means (the library's default fusion changed after this study)
  await run('ensemble', 'ensemble', ens);
  if (initStudy) {
    for (const init of ['solo', 'scratch'] as const) {
      const cfg = base();
      cfg.udi.followerInit = init;
      await run(`udi init=${init}`, 'udi', cfg, { ...soloState!, method: 'udi' });
    }
    rt.arena.release(mark);
    console.log(`${p.key} ${p.run}: ${out.filter((r) => r.key === p.key && r.run === p.run).map((r) => `${r.variant}=${(100 * r.acc).toFixed(1)}`).join(' ')}`);
    if (jsonFile) writeFileSync(jsonFile, JSON.stringify(out, null, 1));
    continue;
  }
  const asEnsemble = { ...soloState!, method: 'ensemble' as const };
  const cal = base();
  cal.fusion = 'calibrated';
  await run('ensemble calibrated', 'ensemble', cal, asEnsemble);
  const asUdi = { ...soloState!, method: 'udi' as const };
  for (const c of COMBOS) {
    const cfg = base();
    cfg.udi.monitor = c.M ? 'fused' : 'follower';
    cfg.udi.gate = c.G;
    cfg.fusion = c.C ? 'calibrated' : 'mean';
    cfg.udi.temperature = c.T ? 2 : 1;
    await run(`udi ${c.name}`, 'udi', cfg, asUdi);
  }
  await run('joint', 'joint', base());
  rt.arena.release(mark);
  const mine = out.filter((r) => r.key === p.key && r.run === p.run);
  console.log(`${p.key} ${p.run} (${((Date.now() - t0) / 1000).toFixed(0)} s): ${mine.map((r) => `${r.variant}=${(100 * r.acc).toFixed(1)}`).join(' ')}`);
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify(out, null, 1));
}
rt.dispose();
summarise(out);
