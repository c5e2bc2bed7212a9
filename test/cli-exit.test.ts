// The udi command's exit statuses: 0 success, 1 a user error (a UdiError, or the operating system
// refusing a path), 2 bad usage, 70 (EX_SOFTWARE) anything else: a bug, printed with its stack and a
// request to report it. Checked on the classifier and end to end through the CLI.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { errorText, exitStatus } from '../src/cli-text.js';
import { DataError, EXIT, ShapeError, UsageError, UserError } from '../src/errors.js';

const ROOT = process.cwd();
const TSX = ['--import', pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href];
const pexec = promisify(execFile);

async function udi(args: string[], preload: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return pexec(process.execPath, [...preload, ...TSX, join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, maxBuffer: 2 ** 24 }).then(
    (r) => ({ code: 0, ...r }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
}

const parseArgsError = (() => {
  try {
    parseArgs({ args: ['--nope'], options: {} });
  } catch (e) {
    return e;
  }
  throw new Error('parseArgs accepted --nope');
})();

describe('exit statuses', () => {
  it('user errors 1, bad usage 2, everything else 70', () => {
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'x'"), { code: 'ENOENT', errno: -2, syscall: 'open', path: 'x' });
    const cases: [unknown, number][] = [
      [new DataError('ROW_COUNT', 'a.csv: 2 rows, labels 3'), EXIT.USER],
      [new UserError('--format must be csv or json'), EXIT.USER],
      [new ShapeError('matmul: A has 11 elements'), EXIT.USER],
      [enoent, EXIT.USER],
      [new UsageError('--epochs is required'), EXIT.USAGE],
      [parseArgsError, EXIT.USAGE],
      [new TypeError("Cannot read properties of undefined (reading 'length')"), EXIT.INTERNAL],
      [new WebAssembly.RuntimeError('unreachable'), EXIT.INTERNAL],
      [new RangeError('Maximum call stack size exceeded'), EXIT.INTERNAL],
      [new Error('an internal check failed'), EXIT.INTERNAL],
      ['a thrown string', EXIT.INTERNAL],
      [undefined, EXIT.INTERNAL],
    ];
    expect(cases.map(([e]) => exitStatus(e))).toEqual(cases.map(([, s]) => s));
    expect(EXIT.INTERNAL).toBe(70);
  });

  it('a user error prints its message in one line; a bug prints its stack and asks for a report', () => {
    expect(errorText('train', new DataError('ROW_COUNT', 'a.csv: 2 rows, labels 3'))).toBe('udi: a.csv: 2 rows, labels 3\n');
    expect(errorText('train', new UsageError('--config is required'))).toBe('udi train: --config is required (see udi train --help)\n');
    const bug = errorText('train', new TypeError('x is undefined'));
    expect(bug).toMatch(/^udi: internal error: this is a bug in udi-wasm .*\nPlease report it .*exit status 70/);
    expect(bug).toContain('TypeError: x is undefined\n    at ');
    expect(errorText(undefined, 'a thrown string')).toContain('a thrown string');
  });
});

describe('through the CLI', () => {
  it('a user error: exit 1, one line, no stack', async () => {
    const r = await udi(['info', '--threads', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("udi: createRuntime: threads must be 'auto' or a whole number from 1 to 256, got 0\n");
  }, 60_000);

  it('bad usage: exit 2', async () => {
    const r = await udi(['info', '--nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('udi info: unknown option --nope (see udi info --help)\n');
  }, 60_000);

  it('an unexpected error (here a TypeError from stdout): exit 70, the stack and a request to report it', async () => {
    const boom = 'data:text/javascript,process.stdout.write = () => { throw new TypeError("boom from a test") };';
    const r = await udi(['info', '--threads', '1'], ['--import', boom]);
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/^udi: internal error: this is a bug in udi-wasm/);
    expect(r.stderr).toContain('Please report it');
    expect(r.stderr).toMatch(/TypeError: boom from a test\n\s+at /);
  }, 60_000);
});
