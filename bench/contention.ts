/**
 * Threads under contention (issue 13: "on a machine with other processes busy, 2 threads never
 * slower than 1"): pairs of whole training runs, one on 1 thread and one on 2, in alternating
 * order, while other processes compete for the cores.
 *
 *   npx tsx bench/contention.ts [--pairs 10] [--busy 2] [--method udi|joint] [--epochs 4] [--meter host|workers|none] [--runtime node|chromium] [--json FILE]
 *
 * --busy K starts K processes that spin (a `for (;;)` loop each) for the whole measurement and stops
 * them at the end; --busy 0 measures the machine as it is (other work already running on it).
 * The runs: train(rt, method) on AV-MNIST split B fold 0, seed 0, the MLP encoders of `npm run
 * bench`, every stage capped at --epochs epochs, a fresh runtime per run. Both runs of a pair give
 * the same weights (checked: the fused test accuracy must be equal).
 * --meter: how the governor tells that the machine is busy: 'host', Node's reading of /proc/stat
 * (the default here); 'workers', the workers' own preemption meter, as in browsers and Deno;
 * 'none', no meter (the per-call governor alone, as outside Node before the preemption meter).
 * --runtime chromium runs the same training in a dedicated Worker of a cross-origin isolated page in
 * headless Chromium (bench/contention-worker.ts; $UDI_CHROMIUM or /usr/bin/chromium), where the
 * governor has the workers' meter only (--meter host).
 * Reported: per pair the speed ratio r = wall(1 thread) / wall(2 threads) (> 1: threads paid), the
 * median r, the geometric mean with a 95% bootstrap interval (of the mean log r), min and max, and
 * the governor's fallbacks and share of split calls in the 2-thread runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bootstrapMeanCI } from '../src/compare-stats.js';
import { avmnistSplit, loadAvmnist } from '../src/data/avmnist.js';
import type { EncoderConfig } from '../src/nn/encoders.js';
import { createRuntime, nodeHost } from '../src/runtime/node.js';
import type { Host } from '../src/runtime/env.js';
import { startRuntime } from '../src/runtime/runtime.js';
import { defaultConfig, train } from '../src/train/methods.js';

const { values: o } = parseArgs({
  options: {
    pairs: { type: 'string', default: '10' },
    busy: { type: 'string', default: '2' },
    method: { type: 'string', default: 'udi' },
    epochs: { type: 'string', default: '4' },
    meter: { type: 'string', default: 'host' },
    runtime: { type: 'string', default: 'node' },
    json: { type: 'string' },
    data: { type: 'string', default: '../shared/data' },
  },
});
const pairs = Number(o.pairs),
  busy = Number(o.busy),
  epochs = Number(o.epochs);
const method = o.method as 'udi' | 'joint';
const meter = o.meter!;
const runtime = o.runtime!;
const ok = ['host', 'workers', 'none'].includes(meter) && (runtime === 'node' || (runtime === 'chromium' && meter === 'host'));
if (!(pairs >= 1 && busy >= 0 && epochs >= 1 && (method === 'udi' || method === 'joint') && ok)) {
  console.error('usage: npx tsx bench/contention.ts [--pairs N >= 1] [--busy K >= 0] [--method udi|joint] [--epochs E >= 1] [--meter host|workers|none] [--runtime node|chromium (--meter host only)] [--json FILE]');
  process.exit(2);
}

const ENCODERS: Record<string, EncoderConfig> = { audio: { type: 'mlp', hidden: [128, 64] }, image: { type: 'mlp', hidden: [128, 64] } };
const setup = await createRuntime({ threads: 1 });
const d = await loadAvmnist(setup, { dataDir: o.data!, cacheDir: join(os.homedir(), '.cache', 'udi-wasm') });
const split = avmnistSplit(d, 'B', 0, 0);
setup.dispose();

// A host whose meter never reads (null) leaves the governor without a hold; one with no meter gets the workers'.
const host: Host = meter === 'host' ? nodeHost : { ...nodeHost, loadMeter: meter === 'none' ? () => () => null : undefined };

type RunResult = { ms: number; acc: number; loadMeter: string | null; fallbacks: number; holds: number; splitShare: number };
const inBrowser = runtime === 'chromium' ? await chromiumRunner() : null;

async function run(threads: number): Promise<RunResult> {
  if (inBrowser) return inBrowser.run(threads);
  const rt = await startRuntime(host, { threads });
  const cfg = defaultConfig(ENCODERS, 0);
  cfg.solo.epochs = cfg.guided.epochs = cfg.joint.epochs = epochs;
  const t0 = performance.now();
  const { result } = await train(rt, method, split, cfg);
  const ms = performance.now() - t0;
  const g = rt.threads.stats;
  rt.dispose();
  return { ms, acc: result.fused.acc, loadMeter: rt.info.loadMeter, fallbacks: g.fallbacks, holds: g.holds, splitShare: g.splitCalls / Math.max(1, g.splitCalls + g.serialCalls) };
}

/** A cross-origin isolated page in headless Chromium whose Worker trains (bench/contention-worker.ts). */
async function chromiumRunner(): Promise<{ run(threads: number): Promise<RunResult>; close(): Promise<void> }> {
  const H = await import('../test/portable/harness.js');
  const { encodeDemo } = await import('./web/data.js');
  const { chromium } = await import('playwright-core');
  const out = await H.bundle({ worker: join(H.ROOT, 'bench', 'contention-worker.ts') }, { platform: 'browser' });
  const page = '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module">' +
    "const w = new Worker('/bundle/worker.js', { type: 'module' }); let done; w.onmessage = (e) => done(e.data);" +
    'window.runOnce = (m) => new Promise((r) => { done = r; w.postMessage(m); }); window.ready = true;</script>';
  const data = encodeDemo({ description: split.description, classes: split.train.classes, train: split.train, val: split.val, test: split.test! });
  const server = await H.serveStatic({ mounts: { '/build/': join(H.ROOT, 'build') }, files: { '/index.html': page, '/data.bin': data, '/bundle/worker.js': out['worker.js'] }, isolated: true });
  const browser = await chromium.launch({ executablePath: H.CHROMIUM, args: H.CHROMIUM_ARGS, headless: true });
  const tab = await browser.newPage();
  await tab.goto(`${server.origin}/index.html`);
  await tab.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  const close = async () => {
    await browser.close();
    await server.close();
  };
  return {
    async run(threads) {
      const r = (await tab.evaluate((m) => (window as any).runOnce(m), { threads, epochs, method, encoders: ENCODERS })) as RunResult & { error?: string; threads: number };
      if (r.error) throw new Error(`Chromium: ${r.error}`);
      if (r.threads !== threads) throw new Error(`Chromium ran ${r.threads} threads, not ${threads} (is the page cross-origin isolated?)`);
      return r;
    },
    close,
  };
}

const spinners: ChildProcess[] = [];
const stopSpinners = () => {
  for (const c of spinners) c.kill('SIGKILL');
};
process.on('exit', stopSpinners);
process.on('SIGINT', () => process.exit(130));
for (let i = 0; i < busy; i++) spinners.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));

console.log(`contention: ${os.cpus()[0]?.model} ×${os.cpus().length}, ${runtime === 'node' ? `node ${process.version}` : 'headless Chromium'}, ${busy} busy process(es), meter ${meter}, ${method} runs capped at ${epochs} epochs per stage, ${pairs} pairs`);
const warm = await run(2); // warm-up: compiled code and the cached features, not counted
console.log(`  the 2-thread runtime's load meter: ${meter === 'none' ? 'none' : warm.loadMeter}`);
const rows: { pair: number; first: number; ms1: number; ms2: number; ratio: number; fallbacks: number; holds: number; splitShare: number }[] = [];
for (let p = 0; p < pairs; p++) {
  const order = p % 2 === 0 ? [1, 2] : [2, 1];
  const r: Record<number, Awaited<ReturnType<typeof run>>> = {};
  for (const t of order) r[t] = await run(t);
  if (r[1].acc !== r[2].acc) throw new Error(`pair ${p}: 1 and 2 threads gave different results (fused accuracy ${r[1].acc} vs ${r[2].acc})`);
  const row = { pair: p, first: order[0], ms1: r[1].ms, ms2: r[2].ms, ratio: r[1].ms / r[2].ms, fallbacks: r[2].fallbacks, holds: r[2].holds, splitShare: r[2].splitShare };
  rows.push(row);
  console.log(`  pair ${p} (${order[0]} thread first): 1T ${(row.ms1 / 1000).toFixed(2)} s, 2T ${(row.ms2 / 1000).toFixed(2)} s, 1T/2T ${row.ratio.toFixed(2)}; 2T fallbacks ${row.fallbacks}, holds ${row.holds}, calls split ${(100 * row.splitShare).toFixed(0)}%`);
}
stopSpinners();
await inBrowser?.close();

const ratios = rows.map((x) => x.ratio).sort((a, b) => a - b);
const median = ratios.length % 2 ? ratios[(ratios.length - 1) / 2] : (ratios[ratios.length / 2 - 1] + ratios[ratios.length / 2]) / 2;
const ci = bootstrapMeanCI(rows.map((x) => Math.log(x.ratio)));
const summary = { median, geomean: Math.exp(ci.mean), lo: Math.exp(ci.lo), hi: Math.exp(ci.hi), min: ratios[0], max: ratios[ratios.length - 1] };
console.log(
  `1T/2T speed ratio over ${rows.length} pairs (> 1: 2 threads faster): median ${median.toFixed(2)}, geometric mean ${summary.geomean.toFixed(2)} [95% CI ${summary.lo.toFixed(2)}, ${summary.hi.toFixed(2)}], min ${summary.min.toFixed(2)}, max ${summary.max.toFixed(2)}`,
);
if (o.json) writeFileSync(o.json, `${JSON.stringify({ cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, runtime, busy, meter, method, epochs, loadavg: os.loadavg(), rows, summary }, null, 1)}\n`);
