/**
 * The README's deploy and edge snippets, taken as written, for the portable test to run in each
 * runtime (Node, Deno, Chromium, workerd) from the packed package.
 *
 * Deploy ("3. Deploy a checkpoint"): one TypeScript block whose lines are shared by every runtime,
 * except the lines after a comment `// in a browser…`, `// in Deno…` or `// in Node…`, up to the
 * next comment or blank line, which belong to that runtime only. deployScript(runtime) keeps the
 * shared lines and that runtime's; the test prepends a prelude that defines the snippet's free
 * variables (DEPLOY_INPUTS) and appends a line that reports what it computed (DEPLOY_REPORT).
 *
 * Edge ("Edge runtimes (Cloudflare Workers / workerd)"): the worker source (the block opening with
 * `// src/worker.ts`), the shell commands and the workerd config, verbatim.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from './harness.js';

export type DeployRuntime = 'browser' | 'deno' | 'node';

const LABELS: Record<DeployRuntime, RegExp> = {
  browser: /^\/\/ in a browser\b/,
  deno: /^\/\/ in Deno\b/,
  node: /^\/\/ in Node\b/,
};

/** The variables the deploy snippet uses without defining them, and the rows they hold. */
export const DEPLOY_INPUTS = ['audioFeatures'] as const;

/**
 * Appended to the snippet: report the probabilities (hex of the float32 bytes), the classes and
 * rt.info through `__report`, which the prelude of each runtime defines.
 */
export const DEPLOY_REPORT = `
__report({ probs: Array.from(new Uint8Array(probs.buffer, probs.byteOffset, probs.byteLength), (b) => b.toString(16).padStart(2, '0')).join(''), classes: Array.from(classes), info: rt.info });
`;

export async function readme(): Promise<string> {
  return readFile(join(ROOT, 'README.md'), 'utf8');
}

/** The fenced blocks of the README from the line starting with `heading` to the next `## ` heading. */
export function sectionBlocks(md: string, heading: string): { lang: string; body: string }[] {
  const start = md.split('\n').findIndex((l) => l.startsWith(heading));
  if (start < 0) throw new Error(`README.md has no line starting with ${JSON.stringify(heading)}`);
  const lines = md.split('\n').slice(start + 1);
  const end = lines.findIndex((l) => l.startsWith('## '));
  const text = (end < 0 ? lines : lines.slice(0, end)).join('\n');
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1], body: m[2] }));
}

/** The deploy snippet of the README ("3. Deploy a checkpoint"), as written. */
export async function deploySnippet(): Promise<string> {
  const ts = sectionBlocks(await readme(), '**3. Deploy a checkpoint**').filter((b) => b.lang === 'ts');
  if (ts.length !== 1) throw new Error(`README "3. Deploy a checkpoint" should hold one ts block, found ${ts.length}`);
  return ts[0].body;
}

/** The deploy snippet's shared lines plus those of `runtime`, in their order. */
export function deployScript(snippet: string, runtime: DeployRuntime): string {
  const out: string[] = [];
  const seen = new Set<DeployRuntime>();
  let owner: DeployRuntime | null = null;
  for (const line of snippet.split('\n')) {
    const label = (Object.keys(LABELS) as DeployRuntime[]).find((r) => LABELS[r].test(line));
    if (label) {
      owner = label;
      seen.add(label);
    } else if (line.trim() === '' || line.startsWith('//')) {
      owner = null;
    }
    if (owner === null || owner === runtime) out.push(line);
  }
  const missing = (Object.keys(LABELS) as DeployRuntime[]).filter((r) => !seen.has(r));
  if (missing.length) throw new Error(`the README's deploy snippet has no "// in …" lines for ${missing.join(', ')}`);
  return out.join('\n');
}

export interface EdgeRecipe {
  /** src/worker.ts, verbatim. */
  worker: string;
  /** The shell lines, verbatim. */
  commands: string[];
  /** config.capnp, verbatim. */
  capnp: string;
}

export async function edgeRecipe(): Promise<EdgeRecipe> {
  const blocks = sectionBlocks(await readme(), '## Edge runtimes (Cloudflare Workers / workerd)');
  const worker = blocks.find((b) => b.lang === 'ts' && b.body.startsWith('// src/worker.ts\n'));
  const sh = blocks.find((b) => b.lang === 'sh');
  const capnp = blocks.find((b) => b.lang === 'capnp');
  if (!worker || !sh || !capnp) throw new Error('README "Edge runtimes": expected a ts block opening with // src/worker.ts, a sh block and a capnp block');
  return { worker: worker.body, commands: sh.body.split('\n').filter((l) => l.trim() !== ''), capnp: capnp.body };
}
