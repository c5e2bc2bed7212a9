#!/usr/bin/env node
/**
 * The `udi` command. The training engine is not built yet: this covers `udi info` (what runtime,
 * build and threads this machine gets). `npm run bench:kernels` runs the kernel lab from a checkout.
 */
import { parseArgs } from 'node:util';
import { createRuntime } from './index.js';

const HELP = `udi: balanced multimodal learning in WebAssembly

Usage:
  udi info [--threads N|auto] [--build scalar|simd|simd-threads|auto]
      Print the runtime this machine gets: build, threads, SIMD, memory limit.
  udi --help

Training (udi train, compare, predict) arrives with the training engine; until then the main job
of a source checkout is the kernel lab: npm run bench:kernels
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' }, threads: { type: 'string' }, build: { type: 'string' } } });
  } catch (e) {
    process.stderr.write(`udi: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const [cmd] = parsed.positionals;
  if (parsed.values.help || cmd === undefined) {
    process.stdout.write(HELP);
    return cmd === undefined && !parsed.values.help ? 2 : 0;
  }
  if (cmd !== 'info') {
    process.stderr.write(`udi: unknown command "${cmd}"\n\n${HELP}`);
    return 2;
  }
  const t = parsed.values.threads;
  const threads = t === undefined || t === 'auto' ? 'auto' : Number(t);
  const build = (parsed.values.build ?? 'auto') as 'auto';
  try {
    const rt = await createRuntime({ threads, build });
    process.stdout.write(JSON.stringify(rt.info, null, 2) + '\n');
    rt.dispose();
    return 0;
  } catch (e) {
    process.stderr.write(`udi: ${(e as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
