/**
 * Deno side of the portable test: `deno run --sloppy-imports ... deno-entry.ts <threads>` trains the
 * fixture and prints one JSON line. Run as is, it imports the TS sources (Deno's sloppy imports map
 * the .js specifiers to .ts); with an import map that sends src/index.js to dist/index.js, it runs
 * the built package instead (see portable.test.ts).
 */
import { createRuntime } from '../../src/index.js';
import { runFixture, sha256Hex } from './fixture.js';

const threads = Number((globalThis as unknown as { Deno: { args: string[] } }).Deno.args[0] ?? 1);
const r = await runFixture(createRuntime, { threads });
const probs = new Uint8Array(r.probs.buffer, r.probs.byteOffset, r.probs.byteLength);
console.log(
  JSON.stringify({
    hash: r.hash,
    checkpointHash: await sha256Hex(r.checkpoint),
    probsHash: await sha256Hex(probs),
    info: r.info,
    anchor: r.anchor,
    accuracy: r.accuracy,
    library: import.meta.resolve('../../src/index.js'),
  }),
);
