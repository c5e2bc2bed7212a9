/**
 * The portable fixture: one small, fully deterministic UDI training run that every JavaScript
 * runtime executes (Node, Deno, Chromium, workerd, the packed package). It imports only the
 * library's public entry; each harness points that import at what its runtime loads (the TS source
 * under vitest, the built dist/index.js or the installed 'udi-wasm' elsewhere; see harness.ts).
 *
 * Nothing here uses Math.random, Math.sin/exp/log or the clock: the data are integer draws from the
 * library's Rng combined with +, -, * and / (IEEE-exact), so every runtime builds the same bytes.
 */
import { Rng, defaultConfig, deserializeModel, makeDataset, predict, serializeModel, train, type Dataset, type MethodConfig, type Runtime, type RuntimeOptions } from '../../src/index.js';

export const FIXTURE = { rows: 200, probeRows: 12, classes: 3, dims: { wide: 40, narrow: 8 }, seed: 5 } as const;

/** A value in [-1, 1) from one u32 draw (exact in float64, rounded once to float32 when stored). */
const unit = (rng: Rng) => rng.next() / 2 ** 31 - 1;

/**
 * `n` rows of a two-modality, three-class problem from stream `stream`: `wide` (40 values) carries
 * the class strongly in a few columns, `narrow` (8 values) weakly, so the modalities are imbalanced.
 */
export function fixtureDataset(n: number, stream: number): Dataset {
  const rng = new Rng(FIXTURE.seed, stream);
  const { wide: W, narrow: N } = FIXTURE.dims;
  const labels = Int32Array.from({ length: n }, () => rng.below(FIXTURE.classes));
  const wide = new Float32Array(n * W);
  const narrow = new Float32Array(n * N);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    for (let j = 0; j < W; j++) wide[i * W + j] = unit(rng) + (j % FIXTURE.classes === y && j < 12 ? 1.5 : 0);
    for (let j = 0; j < N; j++) narrow[i * N + j] = unit(rng) * 1.5 + (j === y ? 0.75 : 0) - (j === (y + 1) % FIXTURE.classes ? 0.25 : 0);
  }
  return makeDataset({ wide: { data: wide, dim: W }, narrow: { data: narrow, dim: N } }, labels, FIXTURE.classes);
}

/** The rows every harness predicts on (held out from training: another stream). */
export const probeDataset = (): Dataset => fixtureDataset(FIXTURE.probeRows, 2);

/** UDI, MLP encoders, a few epochs (cosine schedule and dropout exercise the deterministic maths and the generator). The wide encoder's first layer (64×40 · 40×128) is split over two threads. */
export function fixtureConfig(): MethodConfig {
  const cfg = defaultConfig({ wide: { type: 'mlp', hidden: [128, 16], dropout: 0.1 }, narrow: { type: 'mlp', hidden: [8] } }, FIXTURE.seed);
  cfg.solo = { ...cfg.solo, epochs: 12, batchSize: 64, optimizer: { type: 'adamw', lr: 5e-3, weightDecay: 1e-4 }, schedule: { type: 'cosine' } };
  cfg.guided = { ...cfg.guided, epochs: 6, batchSize: 64, optimizer: { type: 'adamw', lr: 2e-3, weightDecay: 1e-4 } };
  return cfg;
}

export interface FixtureResult {
  /** SHA-256 (hex) of the bytes of the flat parameter buffer after training. */
  hash: string;
  /** The trained model as a safetensors checkpoint (serializeModel). */
  checkpoint: Uint8Array;
  /** predict(model, probeDataset()): probeRows × classes fused probabilities. */
  probs: Float32Array;
  /** What the runtime ran: build, threads, isolation, ... */
  info: Runtime['info'];
  anchor: string | undefined;
  /** Fused accuracy on the validation split carved from the training rows (a sanity check that it learned). */
  accuracy: number;
  /** Wall time of training, ms (informational only). */
  trainMs: number;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Train the fixture on a runtime made by `createRuntime` (the harness may add `wasm`, `build`, ...). */
export async function runFixture(createRuntime: (options: RuntimeOptions) => Promise<Runtime>, opts: { threads: number }): Promise<FixtureResult> {
  const rt = await createRuntime({ threads: opts.threads });
  try {
    const t0 = performance.now();
    const { result, model } = await train(rt, 'udi', { train: fixtureDataset(FIXTURE.rows, 1) }, fixtureConfig());
    const trainMs = performance.now() - t0;
    const params = rt.arena.read(model.net.store.params);
    const hash = await sha256Hex(new Uint8Array(params.buffer, params.byteOffset, params.byteLength));
    const checkpoint = await serializeModel(model, { anchor: result.anchor?.name });
    const probs = predict(model, probeDataset());
    return { hash, checkpoint, probs, info: rt.info, anchor: result.anchor?.name, accuracy: result.fused.acc, trainMs };
  } finally {
    rt.dispose();
  }
}

/** The probe rows as raw float32 per modality (what a harness hands to another runtime). */
export function probeInputs(): Record<string, Float32Array> {
  const ds = probeDataset();
  return Object.fromEntries(Object.entries(ds.modalities).map(([m, v]) => [m, v.data]));
}

/**
 * Load a checkpoint and predict on `inputs` (n rows per modality, flat float32): the inference-only
 * path (workerd, the packed package, a bundled app).
 */
export async function predictCheckpoint(createRuntime: (options: RuntimeOptions) => Promise<Runtime>, checkpoint: Uint8Array, inputs: Record<string, Float32Array>, opts: { threads?: number } = {}): Promise<{ probs: Float32Array; info: Runtime['info'] }> {
  const rt = await createRuntime({ threads: opts.threads ?? 1 });
  try {
    const { model, description } = await deserializeModel(rt, checkpoint);
    const mods: Record<string, { data: Float32Array; dim: number }> = {};
    let n = -1;
    for (const spec of description.modalities) {
      const data = inputs[spec.name];
      if (!data) continue;
      mods[spec.name] = { data, dim: spec.dim };
      n = data.length / spec.dim;
    }
    const ds = makeDataset(mods, new Int32Array(n), description.classes);
    return { probs: predict(model, ds), info: rt.info };
  } finally {
    rt.dispose();
  }
}
