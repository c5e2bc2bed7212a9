// The package's entries (issue 15, point 6), checked on the sources in a second: src/web.ts (export
// conditions "browser", "worker", "default") reaches no `node:*` module, statically or dynamically,
// and src/index.ts (conditions "node", "deno") exports exactly web's API, the same objects, plus the
// Node-only file functions. test/portable.test.ts checks the same through the packed package (Vite,
// esbuild, Deno, workerd).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as nodeEntry from '../src/index.js';
import * as webEntry from '../src/web.js';

/** What only Node and Deno get: reading datasets and files, writing checkpoints. */
const NODE_ONLY = ['loadMfeat', 'MFEAT_VIEWS', 'loadManifest', 'loadAvmnist', 'avmnistSplit', 'parseWav', 'readWav', 'parseIdx', 'readIdx', 'saveModel', 'loadModel'].sort();

describe('entries', () => {
  it('src/web.ts reaches no node:* module (esbuild, platform browser)', async () => {
    const r = await build({
      entryPoints: [fileURLToPath(new URL('../src/web.ts', import.meta.url))],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      outdir: 'unused',
      external: ['node:*'], // listed below instead of failing on the first
    });
    const importers = Object.entries(r.metafile.inputs).flatMap(([file, info]) => info.imports.filter((i) => i.path.startsWith('node:')).map((i) => `${file} imports ${i.path} (${i.kind})`));
    expect(importers, 'modules of the browser/worker entry that import node:* (move the Node part to a Node-only module and export it from src/index.ts)').toEqual([]);
  });

  it('src/index.ts = src/web.ts + the Node-only file functions; every shared export is the same object', () => {
    const web = Object.keys(webEntry).sort();
    const node = Object.keys(nodeEntry).sort();
    expect(node.filter((k) => !web.includes(k)), 'exported for Node and Deno only (add portable exports to src/core.ts)').toEqual(NODE_ONLY);
    expect(web.filter((k) => !node.includes(k)), 'exported for browsers only').toEqual([]);
    const differ = web.filter((k) => (webEntry as Record<string, unknown>)[k] !== (nodeEntry as Record<string, unknown>)[k]);
    expect(differ, 'bound to each entry\'s host').toEqual(['createRuntime']);
  });
});
