/**
 * The Chromium side of bench/contention.ts (--runtime chromium): a dedicated module Worker that
 * trains the same capped runs as the Node side, on the data the page serves (/data.bin, the
 * demo's format: bench/web/data.ts), one fresh runtime per run, and posts what a run took.
 */
import { createRuntime, defaultConfig, type EncoderConfig, type Method, train } from '../src/web.js';
import { decodeDemo, type DemoData } from './web/data.js';

const scope = self as unknown as { onmessage: ((e: { data: { threads: number; epochs: number; method: Method; encoders: Record<string, EncoderConfig> } }) => void) | null; postMessage(m: unknown): void };
let data: DemoData | null = null;

scope.onmessage = async (e) => {
  try {
    data ??= decodeDemo(new Uint8Array(await (await fetch('/data.bin')).arrayBuffer()), '/data.bin');
    const rt = await createRuntime({ threads: e.data.threads });
    const cfg = defaultConfig(e.data.encoders, 0);
    cfg.solo.epochs = cfg.guided.epochs = cfg.joint.epochs = e.data.epochs;
    const t0 = performance.now();
    const { result } = await train(rt, e.data.method, { train: data.train, val: data.val, test: data.test }, cfg);
    const ms = performance.now() - t0;
    const g = rt.threads.stats;
    rt.dispose();
    scope.postMessage({ ms, acc: result.fused.acc, loadMeter: rt.info.loadMeter, threads: rt.info.threads, fallbacks: g.fallbacks, holds: g.holds, splitShare: g.splitCalls / Math.max(1, g.splitCalls + g.serialCalls) });
  } catch (err) {
    scope.postMessage({ error: String((err as Error)?.stack ?? err) });
  }
};
