// The package's entries (issue 15, point 6; issue 16: a curated root), checked on the sources in
// seconds: the browser entries (src/web.ts for "udi-wasm", src/io-web.ts for "udi-wasm/io",
// src/engine.ts and src/vis/index.ts for every condition) reach no `node:*` module, statically or
// dynamically; the Node entries export exactly the browser ones, the same objects, plus the
// Node-only file functions; and the root exports exactly ROOT, so a new public name is a decision.
// test/portable.test.ts checks the same through the packed package (Vite, esbuild, Deno, workerd).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as engine from '../src/engine.js';
import * as nodeEntry from '../src/index.js';
import * as nodeIo from '../src/io-node.js';
import * as webIo from '../src/io-web.js';
import * as webEntry from '../src/web.js';

/** The root's values (types are not listed: they cost nothing at run time). */
const ROOT = [
  ...['createRuntime', 'VERSION'],
  ...['UdiError', 'ERRORS', 'DataError', 'TrainingError', 'ConfigError', 'MemoryLimitError', 'WorkerError'],
  ...['train', 'predict', 'defaultConfig', 'METHODS', 'planStages', 'classify', 'predictProba', 'predictClasses', 'evaluate', 'accuracy', 'macroF1', 'confusionMatrix'],
  ...['makeDataset', 'subset', 'stratifiedSplit', 'fitStandardize', 'applyStandardize', 'Rng'],
  ...['serializeModel', 'deserializeModel', 'exportOnnx', 'parseTrainConfig', 'toMethodConfig'],
].sort();
/** What only Node and Deno get: reading datasets and files, writing checkpoints. */
const NODE_ONLY = ['loadMfeat', 'MFEAT_VIEWS', 'loadManifest', 'loadAvmnist', 'avmnistSplit', 'saveModel', 'loadModel'].sort();
const NODE_ONLY_IO = ['parseWav', 'readWav', 'parseIdx', 'readIdx'].sort();

const src = (f: string) => fileURLToPath(new URL(`../src/${f}`, import.meta.url));

/** The node:* imports reachable from `entry` (esbuild, platform browser). */
async function nodeImports(entry: string): Promise<string[]> {
  const r = await build({ entryPoints: [src(entry)], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent', outdir: 'unused', external: ['node:*'] });
  return Object.entries(r.metafile.inputs).flatMap(([file, info]) => info.imports.filter((i) => i.path.startsWith('node:')).map((i) => `${file} imports ${i.path} (${i.kind})`));
}

/** Node = web + nodeOnly, every shared export the same object (but `bound`). */
function checkPair(node: object, web: object, nodeOnly: string[], bound: string[]) {
  const w = Object.keys(web).sort(), n = Object.keys(node).sort();
  expect(n.filter((k) => !w.includes(k)), 'exported for Node and Deno only (add portable exports to the web entry)').toEqual(nodeOnly);
  expect(w.filter((k) => !n.includes(k)), 'exported for browsers only').toEqual([]);
  expect(w.filter((k) => (web as Record<string, unknown>)[k] !== (node as Record<string, unknown>)[k]), "bound to each entry's host").toEqual(bound);
}

describe('entries', () => {
  for (const entry of ['web.ts', 'io-web.ts', 'engine.ts', 'vis/index.ts']) {
    it(`src/${entry} reaches no node:* module (esbuild, platform browser)`, async () => {
      expect(await nodeImports(entry), 'modules of a browser entry that import node:* (move the Node part to a Node-only module and export it from the Node entry)').toEqual([]);
    });
  }

  it('src/index.ts = src/web.ts + the Node-only file functions; every shared export is the same object', () => {
    checkPair(nodeEntry, webEntry, NODE_ONLY, ['createRuntime']);
  });

  it('src/io-node.ts = src/io-web.ts + the WAV and IDX readers', () => {
    checkPair(nodeIo, webIo, NODE_ONLY_IO, []);
  });

  it('the root exports exactly the curated list; the engine and io subpaths share none of its names', () => {
    expect(Object.keys(webEntry).sort()).toEqual(ROOT);
    const root = new Set(Object.keys(nodeEntry));
    expect([...Object.keys(engine), ...Object.keys(nodeIo)].filter((k) => root.has(k))).toEqual([]);
  });

  it('package.json maps every subpath to these entries for both the node and the browser conditions', () => {
    const exp = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).exports;
    expect(exp['.'].node.default).toBe('./dist/index.js');
    expect(exp['.'].browser.default).toBe('./dist/web.js');
    expect(exp['./io'].node.default).toBe('./dist/io-node.js');
    expect(exp['./io'].deno.default).toBe('./dist/io-node.js');
    expect([exp['./io'].browser.default, exp['./io'].worker.default, exp['./io'].default.default]).toEqual(['./dist/io-web.js', './dist/io-web.js', './dist/io-web.js']);
    expect(exp['./engine'].default).toBe('./dist/engine.js');
    expect(exp['./vis'].default).toBe('./dist/vis/index.js');
  });
});
