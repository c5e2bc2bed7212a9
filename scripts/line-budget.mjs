#!/usr/bin/env node
/**
 * The line budget (tinygrad-style), checked in CI (.ci/run) and by `npm run lint:lines`: no source
 * file above its budget, so code stays in files a reader can hold in their head.
 *
 *   400 lines  src/**, assembly/**, bench/**, scripts/**
 *   800 lines  test/** (case tables are long)
 *
 * Source files are .ts .mts .cts .js .mjs .cjs .py .html (data such as JSON fixtures is not code).
 * ALLOWED lists the files over budget when the budget was introduced, each capped at its size then:
 * they may shrink, never grow. An entry whose file is back within budget (or gone) is reported as
 * stale, so the list only gets shorter (an error with --strict; a warning otherwise, so that a split
 * merged before the list is edited does not stop CI). Lines are counted as `wc -l` does.
 *
 *   node scripts/line-budget.mjs           # exit 1 and one line per offender when over budget
 *   node scripts/line-budget.mjs --strict  # stale allowlist entries are errors too
 *   node scripts/line-budget.mjs --list    # every file with its lines and budget, largest first
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const BUDGETS = { src: 400, assembly: 400, bench: 400, scripts: 400, test: 800 };
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs|py|html)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build', '.git', '__pycache__']);

/** Files over budget today, capped at their current size until the splits in progress land. */
const ALLOWED = {};

function* files(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.isFile() && SOURCE.test(e.name)) yield p;
  }
}

function lines(path) {
  const b = readFileSync(path);
  let n = 0;
  for (let i = 0; i < b.length; i++) if (b[i] === 10) n++;
  return n;
}

const all = [];
for (const [top, budget] of Object.entries(BUDGETS)) {
  let found;
  try {
    found = [...files(join(ROOT, top))];
  } catch {
    continue; // the folder does not exist
  }
  for (const p of found) all.push({ file: relative(ROOT, p).split(sep).join('/'), lines: lines(p), budget });
}

if (process.argv.includes('--list')) {
  for (const f of all.sort((a, b) => b.lines - a.lines)) console.log(`${String(f.lines).padStart(6)} / ${f.budget}${ALLOWED[f.file] ? ` (allowed up to ${ALLOWED[f.file]})` : ''}  ${f.file}`);
  process.exit(0);
}

const problems = [];
const stale = [];
for (const f of all) {
  const cap = ALLOWED[f.file];
  if (cap === undefined) {
    if (f.lines > f.budget) problems.push(`${f.file}: ${f.lines} lines, budget ${f.budget}`);
  } else if (f.lines > cap) {
    problems.push(`${f.file}: ${f.lines} lines, budget ${f.budget} (allowlisted at ${cap}: it may only shrink)`);
  } else if (f.lines <= f.budget) {
    stale.push(`${f.file}: ${f.lines} lines, within its budget of ${f.budget}: remove it from ALLOWED in scripts/line-budget.mjs`);
  }
}
for (const file of Object.keys(ALLOWED)) if (!all.some((f) => f.file === file)) stale.push(`${file}: allowlisted in scripts/line-budget.mjs but not found: remove it from ALLOWED`);
if (process.argv.includes('--strict')) problems.push(...stale.splice(0));
for (const s of stale) console.warn(`line budget: stale allowlist entry: ${s}`);

if (problems.length) {
  console.error(`line budget: ${problems.length} problem${problems.length > 1 ? 's' : ''} (scripts/line-budget.mjs):`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`line budget: ${all.length} source files within budget (${Object.keys(ALLOWED).length} allowlisted at their current size)`);
