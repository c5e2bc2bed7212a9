/**
 * CPU profile of udi-wasm training steps: V8's sampling CPU profiler (the one behind
 * `node --cpu-prof`), started in-process around the timed steps only, then summarised by self time
 * per function (JavaScript and WebAssembly).
 *
 *   npx tsx bench/cpuprof.ts --model mlp --threads 1 --steps 2000
 *   npx tsx bench/cpuprof.ts --model cnn --threads 2 --steps 200 --out /tmp/cnn.cpuprofile
 *
 * --model mlp: the MLP 784-256-10 SGD step; cnn: the image CNN encoder + head trainer step (AdamW);
 * audio: the audio MLP encoder + head trainer step (see bench/steps.ts). The .cpuprofile written
 * with --out opens in Chrome DevTools. WebAssembly functions without a name section are named by
 * their export (function index → export name read from the binary).
 */
import { parseArgs } from 'node:util';
import os from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { createRuntime } from '../src/runtime/node.js';
import { avmnistSplit, loadAvmnist } from '../src/data/avmnist.js';
import { defaultConfig } from '../src/train/methods.js';
import { mlpStep, trainerStep, type UdiStep } from './steps.js';

const { values: o } = parseArgs({
  options: {
    model: { type: 'string', default: 'mlp' },
    threads: { type: 'string', default: '1' },
    steps: { type: 'string' },
    top: { type: 'string', default: '20' },
    'interval-us': { type: 'string', default: '100' },
    out: { type: 'string' },
    data: { type: 'string', default: '../shared/data' },
    cache: { type: 'string' },
  },
  strict: true,
});

/** Export names by function index, from the export section of a .wasm binary. */
function exportNames(bytes: Uint8Array): Map<number, string> {
  const names = new Map<number, string>();
  let p = 8;
  const leb = () => {
    let r = 0,
      s = 0,
      b: number;
    do {
      b = bytes[p++];
      r |= (b & 0x7f) << s;
      s += 7;
    } while (b & 0x80);
    return r >>> 0;
  };
  let imported = 0;
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = leb();
    const end = p + size;
    if (id === 2) {
      // imports: count functions, they take the first indices
      for (let n = leb(); n > 0; n--) {
        p += leb();
        p += leb();
        const kind = bytes[p++];
        if (kind === 0) {
          leb();
          imported++;
        } else if (kind === 1) {
          p++;
          const f = leb();
          leb();
          if (f & 1) leb();
        } else if (kind === 2) {
          const f = leb();
          leb();
          if (f & 1) leb();
        } else if (kind === 3) p += 2;
      }
    } else if (id === 7) {
      for (let n = leb(); n > 0; n--) {
        const len = leb();
        const name = new TextDecoder().decode(bytes.subarray(p, p + len));
        p += len;
        const kind = bytes[p++];
        const index = leb();
        if (kind === 0) names.set(index, name);
      }
    }
    p = end;
  }
  void imported;
  return names;
}

async function main(): Promise<void> {
  const threads = Number(o.threads);
  const rt = await createRuntime({ threads });
  const d = await loadAvmnist(rt, { dataDir: o.data!, cacheDir: o.cache ?? process.env.UDI_CACHE ?? join(os.homedir(), '.cache', 'udi-wasm') });
  const { train } = avmnistSplit(d, 'B', 0, 0);
  const solo = defaultConfig({}, 0).solo;
  let s: UdiStep;
  if (o.model === 'mlp') s = mlpStep(rt, train, 'image', { hidden: 256, batch: 64, lr: 0.01, momentum: 0.9, seed: 0 });
  else if (o.model === 'cnn') s = trainerStep(rt, train, 'image', { type: 'cnn', input: [28, 28, 1], channels: [8, 16], kernel: 3, dense: 64 }, solo, 0);
  else if (o.model === 'audio') s = trainerStep(rt, train, 'audio', { type: 'mlp', hidden: [128, 64] }, solo, 0);
  else throw new Error(`--model must be mlp, cnn or audio, got ${o.model}`);
  const steps = Number(o.steps ?? (o.model === 'cnn' ? 300 : 3000));
  for (let i = 0; i < Math.min(200, steps); i++) s.step(); // warm-up outside the profile

  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: Number(o['interval-us']) });
  await session.post('Profiler.start');
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) s.step();
  const wall = performance.now() - t0;
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  rt.dispose();
  if (o.out) writeFileSync(o.out, JSON.stringify(profile));

  const build = rt.info.build;
  const wasmNames = exportNames(new Uint8Array(readFileSync(new URL(`../build/udi.${build}.wasm`, import.meta.url))));
  const dt = new Map<number, number>();
  profile.samples!.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + profile.timeDeltas![i] / 1000));
  const total = [...dt.values()].reduce((a, b) => a + b, 0);
  const by = new Map<string, number>();
  for (const n of profile.nodes) {
    const cf = n.callFrame;
    let name = cf.functionName || '(anonymous)';
    let where = cf.url.replace(/^.*\/(src|bench|node_modules)\//, '$1/');
    if (cf.url.startsWith('wasm://')) {
      const m = /^(?:\$|wasm-function\[)(\d+)\]?$/.exec(name);
      if (m) name = wasmNames.get(Number(m[1])) ?? `wasm function ${m[1]} (internal)`;
      where = `udi.${build}.wasm`;
    }
    const key = `${name}  [${where || 'native'}]`;
    by.set(key, (by.get(key) ?? 0) + (dt.get(n.id) ?? 0));
  }
  console.log(`${o.model}, ${threads} thread(s), ${steps} steps: ${(wall / steps).toFixed(3)} ms/step while profiling; ${total.toFixed(0)} ms sampled (main thread only; worker threads are not in this profile)`);
  console.log('self time per step (ms)   share   function');
  for (const [k, ms] of [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(o.top))) {
    console.log(`${(ms / steps).toFixed(4).padStart(18)}   ${((100 * ms) / total).toFixed(1).padStart(5)}%   ${k}`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
