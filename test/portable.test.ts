// Portability (issues 5 and 15): the same schedule gives the same bits in Node (1 and 2 threads),
// Deno, Chromium (cross-origin isolated with 2 threads, and not isolated with 1) and workerd, and the
// package as `npm pack` ships it works from Node, Deno, Chromium, workerd and a Vite build, through
// its export conditions (node/deno: dist/index.js; browser/worker/default: dist/web.js, which
// reaches no `node:*` module), following the README's deploy snippet and edge recipe as written.
//
// Every runtime trains test/portable/fixture.ts (UDI on a small deterministic dataset) and reports
// the SHA-256 of the flat parameter buffer; Node's checkpoint is loaded elsewhere and must give
// Node's probabilities bit for bit. Chromium checks are skipped only when /usr/bin/chromium is
// absent (CI installs Debian's `chromium`). Nothing is downloaded except the package's one
// dependency (zod) when the packed tarball is installed into a fresh project.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../src/index.js';
import { type DeployModel, deployModel, deployProgram } from './portable/deploy.js';
import { FIXTURE, type FixtureResult, predictCheckpoint, probeInputs, runFixture, sha256Hex } from './portable/fixture.js';
import * as H from './portable/harness.js';
import { DEPLOY_REPORT, deployScript, deploySnippet, edgeRecipe } from './portable/readme.js';

const hasChromium = existsSync(H.CHROMIUM);
const CHROMIUM_SKIP = `${H.CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium) or set UDI_CHROMIUM`;
if (!hasChromium) console.warn(`SKIP Chromium checks: ${CHROMIUM_SKIP}`);

let node1: FixtureResult;
let node2: FixtureResult;
let nodeProbsHex: string;
let nodeCheckpointHash: string;
let splitCalls = 0;
/** runtime → parameter hash, and wall times, printed at the end. */
const observed: Record<string, string> = {};
const timings: Record<string, number> = {};
const cleanups: (() => Promise<void>)[] = [];

async function timed<T>(name: string, f: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await f();
  } finally {
    timings[name] = Date.now() - t0;
  }
}

// ---- one Chromium for every browser check -------------------------------------------------------

type Context = import('playwright-core').BrowserContext;
let browser: Promise<Context> | undefined;
function chromium(): Promise<Context> {
  browser ??= (async () => {
    const { chromium: pw } = await import('playwright-core');
    const profile = await H.tempDir('chromium-profile');
    // A fresh profile (--user-data-dir) per run; playwright passes it and --headless itself.
    const ctx = await pw.launchPersistentContext(profile, { executablePath: H.CHROMIUM, headless: true, args: H.CHROMIUM_ARGS, timeout: 30_000 });
    cleanups.push(async () => {
      await H.withTimeout(ctx.close(), 10_000, 'closing Chromium').catch(() => {});
      await H.removeDir(profile);
    });
    return ctx;
  })();
  return browser;
}

interface BrowserRun {
  hash: string;
  checkpointHash: string;
  probs: string;
  probsFromNodeCheckpoint?: string;
  info: FixtureResult['info'];
  workerIsolated: boolean;
}

/** Open `url`, wait for window.ready, then call window.trainInWorker(threads, checkpointUrl). */
async function trainInPage(url: string, threads: number, checkpointUrl: string): Promise<{ run: BrowserRun; mainThread?: FixtureResult['info'] }> {
  const ctx = await chromium();
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
  try {
    await page.goto(url, { timeout: 15_000 });
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, undefined, { timeout: 15_000 });
    const run = (await page.evaluate(([t, c]) => (window as any).trainInWorker(t, c), [threads, checkpointUrl] as const)) as BrowserRun;
    const hasMain = await page.evaluate(() => typeof (window as any).mainThreadInfo === 'function');
    const mainThread = hasMain ? ((await page.evaluate(() => (window as any).mainThreadInfo())) as FixtureResult['info']) : undefined;
    return { run, mainThread };
  } catch (e) {
    throw new Error(`${(e as Error).message}\npage errors: ${errors.join('\n') || 'none'}`);
  } finally {
    await page.close();
  }
}

beforeAll(async () => {
  const rebuilt = await H.ensureBuilt();
  if (rebuilt) console.log(rebuilt);
  node1 = await timed('node: train, 1 thread', () => runFixture(createRuntime, { threads: 1 }));
  // Count the kernel calls the worker pool splits (a private field, read only here), so the 2-thread
  // run is known to have computed rows on both threads.
  node2 = await timed('node: train, 2 threads', () =>
    runFixture(async (o) => {
      const rt = await createRuntime(o);
      const pool = (rt as unknown as { pool: { join: (...a: unknown[]) => void } | null }).pool;
      if (pool) {
        const join = pool.join.bind(pool);
        pool.join = (...a) => {
          splitCalls++;
          join(...a);
        };
      }
      return rt;
    }, { threads: 2 }),
  );
  nodeProbsHex = H.hex(node1.probs);
  nodeCheckpointHash = await sha256Hex(node1.checkpoint);
  observed['node, 1 thread (src)'] = node1.hash;
  observed['node, 2 threads (src)'] = node2.hash;
}, 60_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  const w = Math.max(...Object.keys(observed).map((k) => k.length));
  const tw = Math.max(...Object.keys(timings).map((k) => k.length));
  console.log(
    [
      'parameter hashes (SHA-256 of the flat float32 buffer after training):',
      ...Object.entries(observed).map(([k, v]) => `  ${k.padEnd(w)}  ${v}`),
      'wall times:',
      ...Object.entries(timings).map(([k, v]) => `  ${k.padEnd(tw)}  ${(v / 1000).toFixed(1)} s`),
    ].join('\n'),
  );
}, 30_000);

describe('Node', () => {
  it('1 and 2 threads give the same parameters, checkpoint and probabilities; the model learned', async () => {
    expect(node1.info).toMatchObject({ runtime: 'node', threads: 1, build: 'simd', eventLoopYield: 'setImmediate' });
    expect(node2.info).toMatchObject({ runtime: 'node', threads: 2, build: 'simd-threads', loadMeter: 'machine' });
    expect(splitCalls, 'kernel calls split over the 2 threads').toBeGreaterThan(0);
    expect(node2.hash).toBe(node1.hash);
    expect(H.hex(node2.probs)).toBe(nodeProbsHex);
    expect(Buffer.from(node2.checkpoint).equals(Buffer.from(node1.checkpoint))).toBe(true);
    expect(node1.probs.length).toBe(FIXTURE.probeRows * FIXTURE.classes);
    expect(node1.accuracy).toBeGreaterThan(0.8);
  });

  it('the checkpoint loads back to the same probabilities, bit for bit', async () => {
    const { probs } = await predictCheckpoint(createRuntime, node1.checkpoint, probeInputs());
    expect(H.hex(probs)).toBe(nodeProbsHex);
  });
});

describe('Deno', () => {
  const deno = join(H.ROOT, 'node_modules', '.bin', 'deno');
  let denoDir: string;
  beforeAll(async () => {
    denoDir = await H.tempDir('deno-dir');
    cleanups.push(() => H.removeDir(denoDir));
  });

  async function runDeno(threads: number, library: 'dist' | 'src') {
    const extra: string[] = [];
    if (library === 'dist') {
      // Send the fixture's import of src/index.js to the built dist/index.js.
      const map = join(denoDir, `import-map.json`);
      await writeFile(map, JSON.stringify({ imports: { [new URL('../src/index.js', import.meta.url).href]: new URL('../dist/index.js', import.meta.url).href } }));
      extra.push('--import-map', map);
    }
    const args = ['run', '--no-prompt', '--no-remote', '--cached-only', '--no-lock', '--node-modules-dir=manual', '--sloppy-imports', `--allow-read=${H.ROOT}`, ...extra, join(H.ROOT, 'test', 'portable', 'deno-entry.ts'), String(threads)];
    // Deno must not download anything: a temporary DENO_DIR, no update check, and an npm registry that refuses.
    const env = { ...process.env, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', NPM_CONFIG_REGISTRY: 'http://127.0.0.1:9/' };
    const r = await timed(`deno: train, ${threads} thread(s), ${library}`, () => H.runOk(deno, args, { cwd: H.ROOT, env, timeoutMs: 60_000 }));
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.library).toBe(new URL(`../${library}/index.${library === 'dist' ? 'js' : 'ts'}`, import.meta.url).href);
    return out as { hash: string; checkpointHash: string; probsHash: string; info: FixtureResult['info'] };
  }

  it('the built package (dist/) gives Node\'s bits on 1 and 2 threads', async () => {
    const probsHash = await sha256Hex(new Uint8Array(node1.probs.buffer, node1.probs.byteOffset, node1.probs.byteLength));
    for (const threads of [1, 2]) {
      const out = await runDeno(threads, 'dist');
      observed[`deno, ${threads} thread(s) (dist)`] = out.hash;
      // Deno cannot read /proc/stat without a permission: its governor uses the workers' preemption meter.
      expect(out.info).toMatchObject({ runtime: 'deno', threads, build: threads > 1 ? 'simd-threads' : 'simd', loadMeter: threads > 1 ? 'workers' : null, eventLoopYield: 'setImmediate' });
      expect(out.hash).toBe(node1.hash);
      expect(out.checkpointHash).toBe(nodeCheckpointHash);
      expect(out.probsHash).toBe(probsHash);
    }
  }, 90_000);

  it('the TypeScript sources run directly (sloppy imports map .js to .ts) with the same bits', async () => {
    const out = await runDeno(2, 'src');
    observed['deno, 2 threads (src)'] = out.hash;
    expect(out.info.threads).toBe(2);
    expect(out.hash).toBe(node1.hash);
  }, 60_000);

  // A script that splits kernels over 2 threads and never calls rt.dispose(): its worker is left
  // blocked in Atomics.wait, and the process must still end by itself (Node and Deno alike).
  const forgetful = (lib: string) => `import { createRuntime } from ${JSON.stringify(lib)};
const rt = await createRuntime({ threads: 2 });
const n = 256, a = rt.arena.f32(n * n), b = rt.arena.f32(n * n), c = rt.arena.f32(n * n);
rt.kernels.normal(a, rt.kernels.rng(1));
rt.kernels.normal(b, rt.kernels.rng(2));
rt.kernels.matmul(c, a, b, { m: n, n, k: n });
console.log(JSON.stringify({ info: rt.info, c0: rt.arena.read(c)[0] }));
`;

  it('a Node script and a Deno script that forget rt.dispose() exit by themselves', async () => {
    const dir = await H.tempDir('forgetful');
    cleanups.push(() => H.removeDir(dir));
    await writeFile(join(dir, 'forget.mjs'), forgetful(new URL('../dist/index.js', import.meta.url).href));
    const node = await timed('node: forgetful script', () => H.runOk(process.execPath, [join(dir, 'forget.mjs')], { cwd: dir, timeoutMs: 20_000 }));
    const deno = await timed('deno: forgetful script', () =>
      H.runOk(join(H.ROOT, 'node_modules', '.bin', 'deno'), ['run', '--no-prompt', '--no-remote', '--cached-only', '--no-lock', '--node-modules-dir=manual', `--allow-read=${H.ROOT}`, join(dir, 'forget.mjs')], {
        cwd: H.ROOT,
        env: { ...process.env, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', NPM_CONFIG_REGISTRY: 'http://127.0.0.1:9/' },
        timeoutMs: 20_000,
      }),
    );
    for (const [r, runtime] of [[node, 'node'], [deno, 'deno']] as const) {
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(out.info).toMatchObject({ runtime, threads: 2, build: 'simd-threads' });
      expect(r.ms, `${runtime} exited ${r.ms} ms after starting`).toBeLessThan(15_000);
    }
  }, 60_000);

  it('Deno without --allow-read: createRuntime says which folder to grant read permission to', async () => {
    const r = await H.run(join(H.ROOT, 'node_modules', '.bin', 'deno'), ['run', '--no-prompt', '--no-remote', '--cached-only', '--no-lock', '--node-modules-dir=manual', '-'], {
      cwd: H.ROOT,
      env: { ...process.env, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', NPM_CONFIG_REGISTRY: 'http://127.0.0.1:9/' },
      timeoutMs: 20_000,
      input: `import { createRuntime } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};\nawait createRuntime({ threads: 1 });\n`,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`Grant read permission to its folder: in Deno, \`deno run --allow-read=${join(H.ROOT, 'build')} ...\``);
    expect(r.stderr).not.toContain('build:wasm');
  }, 30_000);
});

describe('Chromium', () => {
  let servers: { isolated: H.StaticServer; plain: H.StaticServer } | undefined;
  async function serve() {
    if (servers) return servers;
    // The worker (fixture + dist/web.js + zod) bundled by esbuild with no external module (a
    // `node:*` import would fail the build), served two levels deep like dist/runtime/.
    const out = await H.bundle({ worker: join(H.ROOT, 'test', 'portable', 'browser', 'worker.ts'), lib: join(H.ROOT, 'dist', 'web.js') }, { platform: 'browser', splitting: true });
    const files: Record<string, string | Uint8Array> = { '/node.safetensors': node1.checkpoint };
    for (const [k, v] of Object.entries(out)) files[`/portable/bundle/${k}`] = v;
    const mounts = { '/build/': join(H.ROOT, 'build'), '/': join(H.ROOT, 'test', 'portable', 'browser') };
    servers = { isolated: await H.serveStatic({ mounts, files, isolated: true }), plain: await H.serveStatic({ mounts, files, isolated: false }) };
    const s = servers;
    cleanups.push(async () => {
      await s.isolated.close();
      await s.plain.close();
    });
    return servers;
  }

  it('cross-origin isolated (COOP + COEP): 2 threads in a Worker, Node\'s bits', async (ctx) => {
    if (!hasChromium) return ctx.skip(CHROMIUM_SKIP);
    const { isolated } = await serve();
    const { run, mainThread } = await timed('chromium: launch + train, isolated, 2 threads', () => H.withTimeout(trainInPage(`${isolated.origin}/index.html`, 2, '/node.safetensors'), 60_000, 'Chromium (isolated)'));
    observed['chromium worker, 2 threads (isolated)'] = run.hash;
    expect(run.workerIsolated).toBe(true);
    expect(run.info).toMatchObject({ runtime: 'worker', threads: 2, build: 'simd-threads', crossOriginIsolated: true, loadMeter: 'workers', eventLoopYield: 'scheduler.yield' });
    expect(run.hash).toBe(node1.hash);
    expect(run.checkpointHash).toBe(nodeCheckpointHash);
    expect(run.probs).toBe(nodeProbsHex);
    expect(run.probsFromNodeCheckpoint).toBe(nodeProbsHex);
    // The main thread may not block: createRuntime falls back to one thread and says why.
    expect(mainThread).toMatchObject({ runtime: 'browser', threads: 1, crossOriginIsolated: true, eventLoopYield: 'scheduler.yield' });
    expect(mainThread!.threadsNote).toMatch(/main thread may not block/);
    // The .wasm came from the loader's default URL next to the package (no explicit source).
    expect(isolated.requests).toContain('/build/udi.simd-threads.wasm');
  }, 90_000);

  it('not isolated (no COOP/COEP headers): 1 thread, says why, still Node\'s bits', async (ctx) => {
    if (!hasChromium) return ctx.skip(CHROMIUM_SKIP);
    const { plain } = await serve();
    const { run } = await timed('chromium: train, not isolated, 2 asked', () => H.withTimeout(trainInPage(`${plain.origin}/index.html`, 2, '/node.safetensors'), 60_000, 'Chromium (not isolated)'));
    observed['chromium worker, 1 thread (not isolated)'] = run.hash;
    expect(run.workerIsolated).toBe(false);
    expect(run.info).toMatchObject({ runtime: 'worker', threads: 1, requestedThreads: 2, build: 'simd', crossOriginIsolated: false });
    expect(run.info.threadsNote).toMatch(/not cross-origin isolated/);
    expect(run.hash).toBe(node1.hash);
    expect(run.probs).toBe(nodeProbsHex);
    expect(run.probsFromNodeCheckpoint).toBe(nodeProbsHex);
  }, 90_000);
});

describe('workerd', () => {
  it('trains to Node\'s bits, and Node\'s checkpoint predicts Node\'s probabilities, bit for bit', async () => {
    const dir = await H.tempDir('workerd');
    cleanups.push(() => H.removeDir(dir));
    // One ES module: the worker, the fixture, dist/web.js and zod; the .wasm stays a separate Wasm module.
    const out = await H.bundle({ worker: join(H.ROOT, 'test', 'portable', 'workerd-worker.ts') }, { platform: 'neutral', external: ['*.wasm'] });
    await writeFile(join(dir, 'worker.js'), out['worker.js']);
    await copyFile(join(H.ROOT, 'build', 'udi.simd.wasm'), join(dir, 'udi.simd.wasm'));
    await writeFile(join(dir, 'checkpoint.safetensors'), node1.checkpoint);
    const inputs = Object.fromEntries(Object.entries(probeInputs()).map(([m, v]) => [m, Array.from(v)]));
    await writeFile(
      join(dir, 'config.capnp'),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .udi) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);
const udi :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "udi.simd.wasm", wasm = embed "udi.simd.wasm"),
  ],
  bindings = [
    (name = "CHECKPOINT", data = embed "checkpoint.safetensors"),
    (name = "INPUTS", json = ${JSON.stringify(JSON.stringify(inputs))}),
  ],
  compatibilityDate = "2025-01-01",
);
`,
    );
    const server = await timed('workerd: start', () => H.startWorkerd(join(dir, 'config.capnp'), 20_000));
    try {
      const get = async (path: string, init?: RequestInit) => {
        const res = await fetch(`${server.origin}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
        if (!res.ok) throw new Error(`workerd ${path}: HTTP ${res.status}: ${await res.text()}\n${server.stderr()}`);
        return res;
      };
      const trained = await timed('workerd: train', async () => (await get('/train')).json());
      observed['workerd, 1 thread (dist bundled)'] = trained.hash;
      expect(trained.info).toMatchObject({ runtime: 'workerd', threads: 1, build: 'simd', eventLoopYield: 'setTimeout' });
      expect(trained.hash).toBe(node1.hash);
      expect(trained.checkpointHash).toBe(nodeCheckpointHash);
      const res = await timed('workerd: predict from Node checkpoint', () => get('/predict', { method: 'POST' }));
      const probs = new Uint8Array(await res.arrayBuffer());
      expect(Buffer.from(probs).toString('hex')).toBe(nodeProbsHex);
      // createRuntime() without `wasm`: a clear error saying to import the module and pass it.
      const { error } = await (await get('/nowasm')).json();
      expect(error).toMatch(/on workerd \(Cloudflare Workers\) the `wasm` option is required/);
      expect(error).toContain("import udiWasm from 'udi-wasm/wasm/udi.simd.wasm'");
      expect(error).not.toMatch(/Invalid URL/);
    } finally {
      await server.stop();
    }
  }, 60_000);
});

describe('the packed package (npm pack → npm install in a fresh project)', () => {
  let app: string;
  let packed: { files: string[]; tarball: string };
  let deploy: DeployModel;

  beforeAll(async () => {
    const dir = await H.tempDir('packed');
    cleanups.push(() => H.removeDir(dir));
    // --ignore-scripts: pack what is built (prepare would rebuild every binary).
    const r = await timed('packed: npm pack', () => H.runOk('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: H.ROOT, timeoutMs: 60_000 }));
    const info = JSON.parse(r.stdout)[0] as { filename: string; files: { path: string }[] };
    packed = { tarball: join(dir, info.filename), files: info.files.map((f) => f.path) };
    app = join(dir, 'app');
    await mkdir(app);
    await H.writeJson(join(app, 'package.json'), { name: 'udi-consumer', private: true, type: 'module' });
    await timed('packed: npm install <tarball>', () => H.runOk('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', packed.tarball], { cwd: app, timeoutMs: 120_000 }));
    await writeFile(join(app, 'node.safetensors'), node1.checkpoint);
    // The checkpoint the README's snippets load (runs/mine/model.safetensors: an audio modality of 1280).
    const rt = await createRuntime({ threads: 1 });
    try {
      deploy = await timed('packed: train the deploy model', () => deployModel(rt));
    } finally {
      rt.dispose();
    }
    await mkdir(join(app, 'runs', 'mine'), { recursive: true });
    await writeFile(join(app, 'runs', 'mine', 'model.safetensors'), deploy.checkpoint);
  }, 200_000);

  it('ships dist, the three .wasm builds, types (with the .wasm import\'s), README and LICENSE, and nothing else', () => {
    const f = packed.files;
    for (const need of ['dist/index.js', 'dist/index.d.ts', 'dist/web.js', 'dist/web.d.ts', 'dist/runtime/loader.js', 'dist/cli.js', 'build/udi.scalar.wasm', 'build/udi.simd.wasm', 'build/udi.simd-threads.wasm', 'types/wasm.d.ts', 'README.md', 'LICENSE', 'package.json']) expect(f).toContain(need);
    const unexpected = f.filter((p) => !/^dist\/.*\.(js|d\.ts)$/.test(p) && !/^build\/udi\.(scalar|simd|simd-threads)\.wasm$/.test(p) && !['types/wasm.d.ts', 'README.md', 'LICENSE', 'package.json'].includes(p));
    expect(unexpected).toEqual([]);
  });

  it('Node: import, train (2 threads) to the same bits, load the checkpoint, the CLI and require() work', async () => {
    await writeFile(join(app, 'fixture.mjs'), await H.fixtureJs('udi-wasm'));
    await writeFile(
      join(app, 'check.mjs'),
      `import { readFile } from 'node:fs/promises';
import { createRuntime } from 'udi-wasm';
import { predictCheckpoint, probeInputs, runFixture } from './fixture.mjs';
const hex = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
const r = await runFixture(createRuntime, { threads: 2 });
const p = await predictCheckpoint(createRuntime, new Uint8Array(await readFile('node.safetensors')), probeInputs());
console.log(JSON.stringify({ hash: r.hash, info: r.info, probs: hex(r.probs), probsFromNodeCheckpoint: hex(p.probs), resolved: import.meta.resolve('udi-wasm') }));
`,
    );
    const r = await timed('packed: node train + predict', () => H.runOk(process.execPath, ['check.mjs'], { cwd: app, timeoutMs: 60_000 }));
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    observed['packed package in node, 2 threads'] = out.hash;
    expect(out.resolved).toContain('/node_modules/udi-wasm/dist/index.js');
    expect(out.info).toMatchObject({ runtime: 'node', threads: 2, build: 'simd-threads' });
    expect(out.hash).toBe(node1.hash);
    expect(out.probs).toBe(nodeProbsHex);
    expect(out.probsFromNodeCheckpoint).toBe(nodeProbsHex);

    const cli = await H.runOk(join(app, 'node_modules', '.bin', 'udi'), ['info'], { cwd: app, timeoutMs: 30_000 });
    expect(JSON.parse(cli.stdout)).toMatchObject({ runtime: 'node', simd: true });
    // No top-level await in the entry: require() of the package works where Node supports require(esm) (>= 20.19).
    if ((process.features as { require_module?: boolean }).require_module) {
      const req = await H.runOk(process.execPath, ['-e', "const u = require('udi-wasm'); console.log(typeof u.createRuntime)"], { cwd: app, timeoutMs: 30_000 });
      expect(req.stdout.trim()).toBe('function');
    }
  }, 90_000);

  let viteApp: string | undefined;
  it('Vite: a build of an app importing udi-wasm emits the three .wasm files, byte for byte, and references them', async () => {
    const web = join(app, 'web');
    await mkdir(join(web, 'public'), { recursive: true });
    await writeFile(join(web, 'fixture.ts'), await H.fixtureTs('udi-wasm'));
    await copyFile(join(app, 'node.safetensors'), join(web, 'public', 'node.safetensors'));
    // A plain object config: vite itself lives in the project under test, not in this app.
    await writeFile(join(web, 'vite.config.mjs'), `export default { logLevel: 'warn', worker: { format: 'es' }, build: { outDir: 'out', emptyOutDir: true } };\n`);
    await writeFile(
      join(web, 'worker.ts'),
      `import { createRuntime } from 'udi-wasm';
import { predictCheckpoint, probeInputs, runFixture } from './fixture';
const hex = (a: Float32Array) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), (b) => b.toString(16).padStart(2, '0')).join('');
self.onmessage = async (e: MessageEvent) => {
  try {
    const r = await runFixture(createRuntime, { threads: e.data.threads });
    const ckpt = new Uint8Array(await (await fetch(e.data.checkpointUrl)).arrayBuffer());
    const p = await predictCheckpoint(createRuntime, ckpt, probeInputs());
    postMessage({ hash: r.hash, checkpointHash: '', probs: hex(r.probs), probsFromNodeCheckpoint: hex(p.probs), info: r.info, workerIsolated: self.crossOriginIsolated });
  } catch (err) {
    postMessage({ error: String((err as Error)?.stack ?? err) });
  }
};
`,
    );
    await writeFile(
      join(web, 'main.ts'),
      `(window as any).trainInWorker = (threads: number, checkpointUrl: string) =>
  new Promise((resolve, reject) => {
    const w = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    w.onmessage = (e) => { w.terminate(); e.data.error ? reject(new Error(e.data.error)) : resolve(e.data); };
    w.onerror = (e) => { w.terminate(); reject(new Error('worker error: ' + e.message)); };
    w.postMessage({ threads, checkpointUrl });
  });
(window as any).ready = true;
`,
    );
    await writeFile(join(web, 'index.html'), `<!doctype html>\n<meta charset="utf-8">\n<link rel="icon" href="data:,">\n<script type="module" src="./main.ts"></script>\n`);
    const vite = join(H.ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
    const built = await timed('packed: vite build', () => H.runOk(process.execPath, [vite, 'build'], { cwd: web, timeoutMs: 120_000 }));
    // The browser entry (export condition "browser") imports no node:* module: not one
    // "Module node:… has been externalized for browser compatibility" warning.
    const log = built.stdout + built.stderr;
    expect(log.match(/externalized/g) ?? [], log).toEqual([]);

    const assets = await readdir(join(web, 'out', 'assets'));
    const js = (await Promise.all(assets.filter((a) => a.endsWith('.js')).map((a) => readFile(join(web, 'out', 'assets', a), 'utf8')))).join('\n');
    expect(js).not.toContain('__vite-browser-external');
    for (const b of H.WASM_BUILDS) {
      const emitted = assets.find((a) => new RegExp(`^udi\\.${b.replace('-', '\\-')}-[\\w-]+\\.wasm$`).test(a));
      expect(emitted, `udi.${b}.wasm in ${assets.join(', ')}`).toBeDefined();
      expect(js).toContain(emitted!);
      // The emitted file is the shipped binary, byte for byte.
      expect(Buffer.compare(await readFile(join(web, 'out', 'assets', emitted!)), await readFile(join(app, 'node_modules', 'udi-wasm', 'build', `udi.${b}.wasm`)))).toBe(0);
    }
    viteApp = web;
  }, 120_000);

  it('Vite: the built app trains in Chromium (Worker, 2 threads) to the same bits', async (ctx) => {
    if (!hasChromium) return ctx.skip(CHROMIUM_SKIP);
    expect(viteApp, 'the Vite build test passed').toBeDefined();
    const server = await H.serveStatic({ mounts: { '/': join(viteApp!, 'out') }, isolated: true });
    cleanups.push(() => server.close());
    const { run } = await timed('packed: vite bundle in chromium, 2 threads', () => H.withTimeout(trainInPage(`${server.origin}/index.html`, 2, '/node.safetensors'), 60_000, 'Chromium (Vite build)'));
    observed['vite bundle of the packed package, chromium, 2 threads'] = run.hash;
    expect(run.info).toMatchObject({ threads: 2, build: 'simd-threads', crossOriginIsolated: true });
    expect(run.hash).toBe(node1.hash);
    expect(run.probs).toBe(nodeProbsHex);
    expect(run.probsFromNodeCheckpoint).toBe(nodeProbsHex);
    expect(server.requests.some((p) => /\/assets\/udi\.simd-threads-[\w-]+\.wasm$/.test(p))).toBe(true);
  }, 90_000);

  // ---- the README, as written, against the packed package -------------------------------------

  /** Run the README's deploy lines for Node or Deno in the app folder; the parsed report. */
  async function deployIn(runtime: 'node' | 'deno'): Promise<{ probs: string; classes: number[]; info: FixtureResult['info']; ms: number }> {
    const program = deployProgram(deployScript(await deploySnippet(), runtime), "console.log('UDI_REPORT ' + JSON.stringify(r));", DEPLOY_REPORT);
    let r: H.RunResult;
    if (runtime === 'node') {
      const { transform } = await import('esbuild');
      await writeFile(join(app, 'deploy-node.mjs'), (await transform(program, { loader: 'ts', format: 'esm', target: 'es2022' })).code);
      r = await timed('packed: README deploy snippet in node', () => H.runOk(process.execPath, ['deploy-node.mjs'], { cwd: app, timeoutMs: 30_000 }));
    } else {
      await writeFile(join(app, 'deploy-deno.ts'), program);
      // As the README says: deno run --allow-read app.ts (plus flags that keep Deno offline; 'udi-wasm' resolves from node_modules).
      const denoDir = await H.tempDir('deno-dir');
      cleanups.push(() => H.removeDir(denoDir));
      const env = { ...process.env, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', NPM_CONFIG_REGISTRY: 'http://127.0.0.1:9/' };
      const args = ['run', '--allow-read', '--no-prompt', '--no-remote', '--cached-only', '--no-lock', '--node-modules-dir=manual', 'deploy-deno.ts'];
      r = await timed('packed: README deploy snippet in deno', () => H.runOk(join(H.ROOT, 'node_modules', '.bin', 'deno'), args, { cwd: app, env, timeoutMs: 30_000 }));
    }
    const line = r.stdout.split('\n').find((l) => l.startsWith('UDI_REPORT '));
    if (!line) throw new Error(`no report from ${runtime}:\n${r.stdout}\n${r.stderr}`);
    return { ...JSON.parse(line.slice('UDI_REPORT '.length)), ms: r.ms };
  }

  it("README deploy snippet, as written: Node and Deno give the library's probabilities and exit without rt.dispose()", async () => {
    for (const runtime of ['node', 'deno'] as const) {
      const out = await deployIn(runtime);
      // 2 threads: a worker was started, and the script (which never calls rt.dispose()) still ended by itself.
      expect(out.info).toMatchObject({ runtime, threads: 2, build: 'simd-threads' });
      expect(out.probs, `${runtime}: probabilities`).toBe(deploy.probsHex);
      expect(out.classes).toEqual(deploy.classes);
    }
  }, 90_000);

  it("README deploy snippet, as written: Chromium (its browser lines, in a Worker, esbuild bundle of the packed package)", async (ctx) => {
    if (!hasChromium) return ctx.skip(CHROMIUM_SKIP);
    const program = deployProgram(deployScript(await deploySnippet(), 'browser'), 'self.postMessage(r);', DEPLOY_REPORT);
    await writeFile(join(app, 'deploy-browser.ts'), program);
    const { build } = await import('esbuild');
    // 'udi-wasm' resolves by the package's export conditions (platform browser: dist/web.js); no
    // module is external, so a node:* import anywhere would fail this build.
    const out = await build({ entryPoints: { deploy: join(app, 'deploy-browser.ts') }, absWorkingDir: app, bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, outdir: join(app, 'out'), logLevel: 'silent', metafile: true });
    expect(Object.keys(out.metafile.inputs).filter((f) => f.includes('udi-wasm/dist/index.js') || f.includes('udi-wasm/dist/runtime/node.js'))).toEqual([]);
    expect(Object.keys(out.metafile.inputs)).toContain('node_modules/udi-wasm/dist/web.js');
    const server = await H.serveStatic({
      mounts: { '/build/': join(app, 'node_modules', 'udi-wasm', 'build') },
      files: { '/index.html': '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">', '/model.safetensors': deploy.checkpoint, '/portable/bundle/deploy.js': out.outputFiles[0].contents },
      isolated: true,
    });
    cleanups.push(() => server.close());
    const page = await (await chromium()).newPage();
    try {
      await page.goto(`${server.origin}/index.html`, { timeout: 15_000 });
      const run = (await timed('packed: README deploy snippet in chromium', () =>
        H.withTimeout(
          page.evaluate(
            () =>
              new Promise((resolve, reject) => {
                const w = new Worker('/portable/bundle/deploy.js', { type: 'module' });
                w.onmessage = (e) => (w.terminate(), resolve(e.data));
                w.onerror = (e) => (w.terminate(), reject(new Error(`worker error: ${e.message}`)));
              }),
          ),
          60_000,
          'the README deploy snippet in Chromium',
        ),
      )) as { probs: string; classes: number[]; info: FixtureResult['info'] };
      expect(run.info).toMatchObject({ runtime: 'worker', threads: 2, build: 'simd-threads', crossOriginIsolated: true });
      expect(run.probs).toBe(deploy.probsHex);
      expect(run.classes).toEqual(deploy.classes);
      expect(server.requests).toContain('/model.safetensors');
    } finally {
      await page.close();
    }
  }, 90_000);

  it("README edge recipe, as written: strict TypeScript, the npx esbuild command, workerd with config.capnp; Node's probabilities", async () => {
    const recipe = await edgeRecipe();
    // "npm install udi-wasm && npm install -D esbuild workerd": the packed package is installed;
    // esbuild and workerd are linked from this repository (nothing is downloaded).
    expect(recipe.commands[0]).toBe('npm install udi-wasm && npm install -D esbuild workerd');
    for (const pkg of ['esbuild', 'workerd']) {
      await H.link(join(H.ROOT, 'node_modules', pkg), join(app, 'node_modules', pkg));
      await H.link(join('..', pkg, 'bin', pkg), join(app, 'node_modules', '.bin', pkg));
    }
    await mkdir(join(app, 'src'), { recursive: true });
    await writeFile(join(app, 'src', 'worker.ts'), recipe.worker);
    await writeFile(join(app, 'config.capnp'), recipe.capnp);

    // The worker type-checks under strict with no declarations of its own: 'udi-wasm' resolves to
    // dist/web.d.ts, 'udi-wasm/wasm/udi.simd.wasm' to the shipped types/wasm.d.ts.
    await H.writeJson(join(app, 'tsconfig.json'), {
      compilerOptions: { strict: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'], types: [], noEmit: true, skipLibCheck: true, noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true },
      include: ['src'],
    });
    const tsc = await timed('packed: tsc --strict of the edge worker', () => H.run(process.execPath, [join(H.ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--traceResolution'], { cwd: app, timeoutMs: 60_000 }));
    expect(tsc.code, `${tsc.stdout.split('\n').filter((l) => l.includes('error')).join('\n')}${tsc.stderr}`).toBe(0);
    expect(tsc.stdout).toMatch(/Module name 'udi-wasm' was successfully resolved to '[^']*\/node_modules\/udi-wasm\/dist\/web\.d\.ts'/);
    expect(tsc.stdout).toMatch(/Module name 'udi-wasm\/wasm\/udi\.simd\.wasm' was successfully resolved to '[^']*\/node_modules\/udi-wasm\/types\/wasm\.d\.ts'/);

    const [bundleCmd, serveCmd] = recipe.commands.slice(1);
    expect(bundleCmd).toMatch(/^npx esbuild /);
    expect(bundleCmd).not.toContain('node:');
    await timed('packed: README esbuild command', () => H.runOk('sh', ['-c', bundleCmd], { cwd: app, env: { ...process.env, npm_config_offline: 'true' }, timeoutMs: 60_000 }));
    const bundled = await readFile(join(app, 'dist', 'worker.js'), 'utf8');
    expect(bundled).toContain('from "udi-wasm/wasm/udi.simd.wasm"');
    expect(bundled).not.toMatch(/from ["']node:/);

    // npx workerd serve config.capnp, with the socket on a free port (the one change to the command).
    expect(serveCmd).toBe('npx workerd serve config.capnp');
    const server = await timed('packed: workerd start (README config)', () => H.startWorkerd('config.capnp', 20_000, { cwd: app }));
    try {
      const { audioFeatures } = (await import('./portable/deploy.js')).deployInputs();
      const post = (body: unknown) => fetch(server.origin, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
      const res = await timed('packed: workerd predict (README worker)', () => post({ audio: audioFeatures }));
      expect(res.status, await res.clone().text()).toBe(200);
      const json = (await res.json()) as { classes: number[]; probs: number[] };
      expect(H.hex(Float32Array.from(json.probs))).toBe(deploy.probsHex);
      expect(json.classes).toEqual(deploy.classes);
      const bad = await post({ audio: [[1, 2, 3]] });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toMatch(/audio/);
    } finally {
      await server.stop();
    }
  }, 120_000);
});

describe('the demo page (bench/web), built by Vite, in Chromium', () => {
  it('trains UDI and a baseline in its Worker on 2 threads, plots, offers the checkpoints and predicts', async (ctx) => {
    if (!hasChromium) return ctx.skip(CHROMIUM_SKIP);
    const dir = await H.tempDir('demo');
    cleanups.push(() => H.removeDir(dir));
    // Vite's JS API in a child process: the demo's own config, output elsewhere, no public/ copy.
    const script = `import { build } from 'vite';
await build({ configFile: ${JSON.stringify(join(H.ROOT, 'bench', 'web', 'vite.config.ts'))}, publicDir: false, logLevel: 'error', build: { outDir: ${JSON.stringify(join(dir, 'out'))}, emptyOutDir: true } });`;
    await timed('demo: vite build', () => H.runOk(process.execPath, ['--input-type=module', '-e', script], { cwd: H.ROOT, timeoutMs: 120_000 }));
    // Small data in the demo's format: the fixture's rows, plus a held-out test split.
    const { encodeDemo } = await import('../bench/web/data.js');
    const { fixtureDataset } = await import('./portable/fixture.js');
    const bin = encodeDemo({ description: 'portable fixture', classes: FIXTURE.classes, train: fixtureDataset(FIXTURE.rows, 1), test: fixtureDataset(60, 3) });
    const server = await H.serveStatic({ mounts: { '/': join(dir, 'out') }, files: { '/data.bin': bin }, isolated: true });
    cleanups.push(() => server.close());
    const page = await (await chromium()).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
      await timed('demo: train udi + ensemble in chromium', async () => {
        await page.goto(`${server.origin}/index.html`, { timeout: 15_000 });
        await page.fill('#epochs', '3');
        await page.selectOption('#baseline', 'ensemble');
        await page.click('#train');
        await page.waitForFunction(() => /^(done|error)/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 60_000 });
      });
      expect(await page.textContent('#status'), errors.join('\n')).toMatch(/^done: udi [\d.]+%, ensemble [\d.]+%/);
      expect(await page.textContent('#runtime')).toMatch(/build simd-threads, 2 thread\(s\).*cross-origin isolated: true/);
      expect(await page.textContent('#anchor')).toMatch(/^anchor (wide|narrow)/);
      expect(await page.locator('#lambda polyline').count()).toBe(2);
      // udi-wasm/vis live charts, one card per method: two uPlot charts each, and the totals and ETA line.
      expect(await page.locator('#cards .uplot').count()).toBe(4);
      expect(await page.textContent('#cards [data-method="udi"] .udi-live-status')).toMatch(/^done: stage 3\/3 guided:\w+ · epoch \d\/3 · step [\d,]+\/[\d,]+ · 100% · /);
      // The downloadable checkpoint is a udi-wasm safetensors file.
      const href = await page.getAttribute('#results a[download="udi-wasm-udi.safetensors"]', 'href');
      const head = (await page.evaluate(async (u) => new TextDecoder().decode((await (await fetch(u!)).arrayBuffer()).slice(8, 4096)), href)) as string;
      expect(head).toContain('udi-wasm/1');
      await page.fill('#sample', '5');
      await page.click('#predict');
      await page.waitForSelector('#prediction table', { timeout: 10_000 });
      expect(await page.locator('#prediction tr').count()).toBe(3);
    } finally {
      await page.close();
    }
  }, 120_000);
});
