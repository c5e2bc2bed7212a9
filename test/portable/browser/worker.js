// Dedicated module Worker of the Chromium check: trains the fixture (the browser main thread may
// not block in Atomics.wait, so training runs here) and posts a summary with the hashes.
import { createRuntime } from '/dist/index.js';
import { predictCheckpoint, probeInputs, runFixture, sha256Hex } from '/fixture.js';

const bytes = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const hex = (a) => Array.from(bytes(a), (b) => b.toString(16).padStart(2, '0')).join('');

self.onmessage = async (e) => {
  try {
    const r = await runFixture(createRuntime, { threads: e.data.threads });
    // The Node checkpoint, if given, loaded here: the same probabilities bit for bit.
    const ckpt = e.data.checkpointUrl && new Uint8Array(await (await fetch(e.data.checkpointUrl)).arrayBuffer());
    const fromNode = ckpt ? await predictCheckpoint(createRuntime, ckpt, probeInputs()) : undefined;
    self.postMessage({
      hash: r.hash,
      checkpointHash: await sha256Hex(r.checkpoint),
      probs: hex(r.probs),
      probsFromNodeCheckpoint: fromNode && hex(fromNode.probs),
      info: r.info,
      anchor: r.anchor,
      accuracy: r.accuracy,
      workerIsolated: self.crossOriginIsolated,
      trainMs: r.trainMs,
    });
  } catch (err) {
    self.postMessage({ error: String((err && err.stack) || err) });
  }
};
