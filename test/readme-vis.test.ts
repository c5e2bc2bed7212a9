// The README's "Callbacks and live plots" snippets, run as written (only the package name is mapped
// to the sources): the Node progress lines, and the live-chart page in Chromium (uPlot drawing from
// the callbacks, the status line with the totals and the ETA).
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as H from './portable/harness.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** The fenced block after `<!-- snippet:NAME -->` in README.md. */
async function snippet(name: string): Promise<string> {
  const readme = await readFile(join(H.ROOT, 'README.md'), 'utf8');
  const m = new RegExp(`<!-- snippet:${name} -->\\n\`\`\`ts\\n([\\s\\S]*?)\\n\`\`\``).exec(readme);
  if (!m) throw new Error(`README.md has no snippet ${name}`);
  return m[1];
}

/**
 * The package's names pointed at the sources of what its exports map gives under `condition`
 * (`./dist/web.js` → src/web.ts).
 */
async function toSources(code: string, condition: 'node' | 'browser'): Promise<string> {
  const pkg = JSON.parse(await readFile(join(H.ROOT, 'package.json'), 'utf8'));
  const target = (entry: unknown): string => {
    if (typeof entry === 'string') return entry;
    const e = entry as Record<string, unknown>;
    return target(e[condition] ?? e.default);
  };
  const source = (sub: string) => JSON.stringify(join(H.ROOT, target(pkg.exports[sub]).replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')));
  return code.replace(/from 'udi-wasm\/vis'/g, `from ${source('./vis')}`).replace(/from 'udi-wasm'/g, `from ${source('.')}`);
}

describe('README: Callbacks and live plots', () => {
  it('the Node snippet prints the plan, then one progress line per epoch with totals and an ETA', async () => {
    const code = await snippet('callbacks-node');
    const dir = await mkdtemp(join(tmpdir(), 'udi-readme-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'snippet.mts');
    await writeFile(file, await toSources(code, 'node'));
    const r = await H.runOk(process.execPath, ['--import', 'tsx', file], { cwd: H.ROOT, timeoutMs: 60_000 });
    const lines = r.stdout.trim().split('\n');
    const readme = await readFile(join(H.ROOT, 'README.md'), 'utf8');
    // What the README says it prints.
    const first = /prints `(udi: \d+ stages, at most \d+ steps)`/.exec(readme)![1];
    expect(lines[0]).toBe(first);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const l of lines.slice(1)) expect(l).toMatch(/^stage [1-3]\/3 (solo|guided):(fac|mor) · epoch [1-3]\/3 · step \d+\/\d+ · \d+% · (ETA ≤ )?[\d.]+ (s|min).* · val \d+\.\d%$/);
    const example = /then lines such as\n`(stage [^`]+)`/.exec(readme)![1];
    expect(example).toMatch(/^stage 3\/3 guided:mor · epoch 2\/3 · step \d+\/\d+ · \d+% · ETA ≤ \d+ s · val \d+\.\d%$/);
    const [, done, max] = /step (\d+)\/(\d+)/.exec(example)!;
    expect(lines.some((l) => l.startsWith('stage 3/3 guided:') && l.includes(`/${max} ·`))).toBe(true);
    expect(Number(done)).toBeLessThan(Number(max));
  }, 90_000);

  it('the package exports udi-wasm/vis (built output with types); without a DOM it imports and estimates', async () => {
    const rebuilt = await H.ensureBuilt();
    if (rebuilt) console.log(rebuilt);
    // The package's own name resolves through its exports map from inside it (Node's self-reference).
    const r = await H.runOk(process.execPath, ['--input-type=module', '-e', "const v = await import('udi-wasm/vis'); console.log(JSON.stringify({ keys: Object.keys(v).sort(), eta: v.estimate({ runStep: 10, runMaxSteps: 40 }, 1000).etaMs }))"], { cwd: H.ROOT, timeoutMs: 30_000 });
    const out = JSON.parse(r.stdout);
    expect(out.keys).toEqual(expect.arrayContaining(['liveChart', 'trainingSeries', 'relayCallbacks', 'replayCallback', 'estimate', 'describeProgress']));
    expect(out.eta).toBe(3000);
    expect(existsSync(join(H.ROOT, 'dist', 'vis', 'index.d.ts'))).toBe(true);
  }, 90_000);

  it('the live-chart page trains in Chromium and draws two uPlot charts with the totals and the ETA', async (ctx) => {
    if (!existsSync(H.CHROMIUM)) return ctx.skip(`${H.CHROMIUM} is absent: install Debian's chromium or set UDI_CHROMIUM`);
    const code = await snippet('live-chart-page');
    const { build } = await import('esbuild');
    const out = await build({
      stdin: { contents: await toSources(code, 'browser'), resolveDir: H.ROOT, loader: 'ts', sourcefile: 'main.ts' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      external: ['node:*'],
      mainFields: ['module', 'main'],
      logLevel: 'silent',
    });
    const page = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><div id="plots" style="width: 640px"></div><script type="module" src="/app/bundle/main.js"></script>`;
    // Two levels deep, as dist/runtime/ is: the loader finds /build/udi.*.wasm next to the package.
    const server = await H.serveStatic({ mounts: { '/build/': join(H.ROOT, 'build') }, files: { '/index.html': page, '/app/bundle/main.js': out.outputFiles[0].contents }, isolated: false });
    cleanups.push(() => server.close());
    const { chromium } = await import('playwright-core');
    const profile = await H.tempDir('vis-chromium');
    cleanups.push(() => H.removeDir(profile));
    const browser = await chromium.launchPersistentContext(profile, { executablePath: H.CHROMIUM, headless: true, args: H.CHROMIUM_ARGS, timeout: 30_000 });
    cleanups.push(() => browser.close());
    const p = await browser.newPage();
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(String(e)));
    await p.goto(`${server.origin}/index.html`, { timeout: 15_000 });
    const seen = new Set<string>();
    // While it trains: the status line counts against the totals.
    await p.waitForFunction(() => /^stage \d\/3 /.test(document.querySelector('.udi-live-status span')?.textContent ?? ''), undefined, { timeout: 30_000 }).catch(() => undefined);
    seen.add((await p.textContent('.udi-live-status span')) ?? '');
    await p.waitForFunction(() => /^done: /.test(document.querySelector('.udi-live-status span')?.textContent ?? ''), undefined, { timeout: 60_000 }).catch((e) => {
      throw new Error(`${(e as Error).message}\npage errors: ${errors.join('\n') || 'none'}`);
    });
    expect(errors).toEqual([]);
    const status = (await p.textContent('.udi-live-status span'))!;
    expect(status).toMatch(/^done: stage 3\/3 guided:[ab] · epoch \d+\/10 · step ([\d,]+)\/\1 · 100% · \d+ s$/);
    expect([...seen].some((s) => /^(done: )?stage \d\/3 (solo|guided):[ab] · epoch \d+\/10 · step [\d,]+\/[\d,]+ · \d+% · /.test(s))).toBe(true);
    expect(await p.locator('#plots .uplot').count()).toBe(2);
    expect(await p.locator('#plots .uplot canvas').count()).toBe(2);
    expect(await p.evaluate(() => (document.querySelector('#plots progress') as HTMLProgressElement).value)).toBe(1);
    // The legend names the series the metrics asked for.
    const legend = await p.locator('#plots .u-legend .u-label').allTextContents();
    expect(legend).toEqual(expect.arrayContaining(['loss', 'val_acc_a', 'val_acc_b', 'val_acc_fused']));
    // The charts follow the element's width (640 px), not a fixed size.
    const w = await p.evaluate(() => (document.querySelector('#plots .uplot') as HTMLElement).getBoundingClientRect().width);
    expect(w).toBeGreaterThan(600);
    expect(w).toBeLessThanOrEqual(640);
  }, 120_000);
});
