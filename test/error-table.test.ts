// The README's table of error codes is ERRORS (src/errors.ts), rendered: the test fails when they
// differ and prints the table to paste (or run with UPDATE_README=1 to write it). Every code the
// README's "Bad input" table names exists, every code of ERRORS is thrown somewhere in src/, and
// the error classes keep their codes, names and `instanceof` relations.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AliasingError, ConfigError, DataError, ERRORS, EXIT, isErrorCode, MemoryLimitError, ShapeError, TrainingError, UdiError, UsageError, UserError, WorkerError } from '../src/errors.js';

const README = new URL('../README.md', import.meta.url);
const BEGIN = '<!-- error-codes:begin (generated from src/errors.ts; test/error-table.test.ts checks it) -->';
const END = '<!-- error-codes:end -->';

/** The README block: one row per code, in ERRORS' order. */
function renderTable(): string {
  const rows = Object.entries(ERRORS).map(([code, e]) => `| \`${code}\` | ${'exit' in e ? e.exit : EXIT.USER} | ${e.meaning.replace(/\|/g, '\\|')} |`);
  return [BEGIN, '| code | `udi` exit | meaning |', '|---|---|---|', ...rows, END].join('\n');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? sourceFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
}

describe('error codes', () => {
  it("the README's table of codes is ERRORS", () => {
    const text = readFileSync(README, 'utf8');
    const a = text.indexOf(BEGIN), b = text.indexOf(END);
    expect(a, `README.md has no block starting ${BEGIN}`).toBeGreaterThanOrEqual(0);
    const got = text.slice(a, b + END.length);
    const want = renderTable();
    if (got !== want && process.env.UPDATE_README) writeFileSync(README, text.slice(0, a) + want + text.slice(b + END.length));
    else expect(got, 'README.md error table (rerun with UPDATE_README=1 to write it)').toBe(want);
  });

  it('every code the README names in backticks in "Bad input: what you see" is a code of ERRORS', () => {
    const text = readFileSync(README, 'utf8');
    const section = text.slice(text.indexOf('## Bad input: what you see'), text.indexOf('**Every code.**'));
    const named = [...new Set([...section.matchAll(/`([A-Z][A-Z0-9_]{3,})`/g)].map((m) => m[1]))];
    expect(named.length).toBeGreaterThan(30);
    expect(named.filter((c) => !isErrorCode(c))).toEqual([]);
  });

  it('every code of ERRORS is thrown somewhere in src/ (no dead codes)', () => {
    const src = new URL('../src/', import.meta.url).pathname;
    const text = sourceFiles(src)
      .filter((f) => !f.endsWith('errors.ts'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const classCodes = ['SHAPE_MISMATCH', 'ALIASED_BUFFERS', 'MEMORY_LIMIT', 'WORKER_FAILED', 'BAD_CONFIG', 'BAD_USAGE']; // set by their class
    const unused = Object.keys(ERRORS).filter((c) => !classCodes.includes(c) && !text.includes(`'${c}'`));
    expect(unused).toEqual([]);
  });

  it('each class sets its code and name and is a UdiError and an Error', () => {
    const cases: [UdiError, string, string][] = [
      [new ShapeError('m'), 'SHAPE_MISMATCH', 'ShapeError'],
      [new AliasingError('m'), 'ALIASED_BUFFERS', 'AliasingError'],
      [new MemoryLimitError(2 ** 31, 2 ** 30), 'MEMORY_LIMIT', 'MemoryLimitError'],
      [new WorkerError('m'), 'WORKER_FAILED', 'WorkerError'],
      [new ConfigError('m'), 'BAD_CONFIG', 'ConfigError'],
      [new UsageError('m'), 'BAD_USAGE', 'UsageError'],
      [new UserError('m'), 'BAD_OPTIONS', 'UserError'],
      [new UserError('m', 'INTERRUPTED'), 'INTERRUPTED', 'UserError'],
      [new DataError('ROW_COUNT', 'm'), 'ROW_COUNT', 'DataError'],
      [new TrainingError('DIVERGED', 'm'), 'DIVERGED', 'TrainingError'],
    ];
    for (const [e, code, name] of cases) {
      expect([e.code, e.name, e instanceof UdiError, e instanceof Error], name).toEqual([code, name, true, true]);
      expect(isErrorCode(e.code)).toBe(true);
    }
    expect(new DataError('ROW_COUNT', 'm')).not.toBeInstanceOf(TrainingError);
    expect(new MemoryLimitError(2 ** 31, 2 ** 30).message).toMatch(/needs 2048.0 MiB .* limit of 1024 MiB/);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode('NOPE')).toBe(false);
  });
});
