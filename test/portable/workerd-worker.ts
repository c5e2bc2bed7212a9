/**
 * The workerd (Cloudflare Workers runtime) side of the portable test, bundled with esbuild together
 * with the library's dist/ into one ES module. workerd refuses to compile WebAssembly from bytes at
 * run time (and allows no Wasm bindings in modules-based workers): the .wasm is a Wasm module of the
 * worker, imported statically (as Cloudflare users do with wrangler), and goes to createRuntime as
 * `wasm`.
 *
 *   GET  /train    trains the fixture on one thread and returns its FixtureResult summary (JSON)
 *   POST /predict  loads the CHECKPOINT binding (Node's bytes) and returns the probabilities for
 *                  the INPUTS binding's rows, as raw little-endian float32
 *   GET  /nowasm   calls createRuntime() without `wasm` and returns the error's message (JSON)
 */
import { createRuntime, type RuntimeOptions } from '../../src/index.js';
import { predictCheckpoint, runFixture, sha256Hex } from './fixture.js';
// A module named "udi.simd.wasm" in the workerd config; esbuild leaves this import alone.
import udiWasm from './udi.simd.wasm';

interface Env {
  CHECKPOINT: ArrayBuffer;
  INPUTS: Record<string, number[]>;
}

const runtime = (o: RuntimeOptions) => createRuntime({ ...o, build: 'simd', wasm: udiWasm });

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const path = new URL(request.url).pathname;
    try {
      if (path === '/train') {
        const r = await runFixture(runtime, { threads: 1 });
        const probs = new Uint8Array(r.probs.buffer, r.probs.byteOffset, r.probs.byteLength);
        return Response.json({ hash: r.hash, checkpointHash: await sha256Hex(r.checkpoint), probsHash: await sha256Hex(probs), info: r.info, anchor: r.anchor, accuracy: r.accuracy });
      }
      if (path === '/nowasm') {
        const error = await createRuntime().then(
          (rt) => (rt.dispose(), null),
          (e: Error) => `${e.name}: ${e.message}`,
        );
        return Response.json({ error });
      }
      if (path === '/predict') {
        const inputs = Object.fromEntries(Object.entries(env.INPUTS).map(([m, v]) => [m, Float32Array.from(v)]));
        const { probs, info } = await predictCheckpoint(runtime, new Uint8Array(env.CHECKPOINT), inputs);
        return new Response(probs.buffer.slice(probs.byteOffset, probs.byteOffset + probs.byteLength) as ArrayBuffer, { headers: { 'content-type': 'application/octet-stream', 'x-udi-info': JSON.stringify(info) } });
      }
      return new Response('not found', { status: 404 });
    } catch (e) {
      return new Response(`error: ${(e as Error)?.stack ?? String(e)}`, { status: 500 });
    }
  },
};
