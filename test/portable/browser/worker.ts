/**
 * Dedicated module Worker of the Chromium check: trains the fixture (the browser main thread may not
 * block in Atomics.wait, so training runs here) and posts a summary with the hashes. Bundled by
 * esbuild with the library's dist/ (the import below is redirected there) into a folder two levels
 * below the server root, the depth of dist/runtime/, so the loader's default
 * `new URL('../../build/udi.<build>.wasm', import.meta.url)` finds /build/.
 */
import { createRuntime } from '../../../src/index.js';
import { predictCheckpoint, probeInputs, runFixture, sha256Hex } from '../fixture.js';

interface Scope {
  onmessage: ((e: { data: { threads: number; checkpointUrl?: string } }) => void) | null;
  postMessage(message: unknown): void;
  crossOriginIsolated: boolean;
}
const scope = self as unknown as Scope;

const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const hex = (a: Float32Array) => Array.from(bytes(a), (b) => b.toString(16).padStart(2, '0')).join('');

scope.onmessage = async (e) => {
  try {
    const r = await runFixture(createRuntime, { threads: e.data.threads });
    // The checkpoint Node wrote, loaded here: the same probabilities bit for bit.
    const ckpt = e.data.checkpointUrl ? new Uint8Array(await (await fetch(e.data.checkpointUrl)).arrayBuffer()) : undefined;
    const fromNode = ckpt ? await predictCheckpoint(createRuntime, ckpt, probeInputs()) : undefined;
    scope.postMessage({
      hash: r.hash,
      checkpointHash: await sha256Hex(r.checkpoint),
      probs: hex(r.probs),
      probsFromNodeCheckpoint: fromNode && hex(fromNode.probs),
      info: r.info,
      anchor: r.anchor,
      accuracy: r.accuracy,
      workerIsolated: scope.crossOriginIsolated,
      trainMs: r.trainMs,
    });
  } catch (err) {
    scope.postMessage({ error: String((err as Error)?.stack ?? err) });
  }
};
