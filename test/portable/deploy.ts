/**
 * The model the README's deploy snippet loads: the snippet classifies `audioFeatures` (raw rows of
 * 1280 numbers) with a checkpoint that has an `audio` modality of that width, so the test trains a
 * small one here (Node, TS sources), standardised by train() so that the checkpoint carries its
 * preprocessing, and records the probabilities the library gives in-process for those rows: the
 * snippet must give the same bits in every runtime.
 *
 * Every value is an integer draw scaled by a power of two (exact in float32), so the rows can be
 * written into a script as JSON and read back to the same bits.
 */
import { classify, defaultConfig, makeDataset, type Runtime, Rng, serializeModel, train } from '../../src/index.js';

export const DEPLOY = { rows: 90, probeRows: 6, classes: 10, audio: 1280, image: 16, seed: 11 } as const;

function draws(n: number, dim: number, rng: Rng, labels: Int32Array | null, shift: number): number[][] {
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: dim }, (_, j) => (rng.below(1024) - 512) / 64 + shift + (labels && j % DEPLOY.classes === labels[i] ? 6 : 0)),
  );
}

/** Raw rows for the snippet's `audioFeatures` (no labels: the snippet predicts). */
export function deployInputs(): { audioFeatures: number[][] } {
  return { audioFeatures: draws(DEPLOY.probeRows, DEPLOY.audio, new Rng(DEPLOY.seed, 9), null, 3) };
}

export interface DeployModel {
  checkpoint: Uint8Array;
  /** classify(model, { audio: audioFeatures }) in-process: hex of the float32 probabilities, and the classes. */
  probsHex: string;
  classes: number[];
}

/** Train the small audio + image model (raw features offset by +3, so standardisation matters). */
export async function deployModel(rt: Runtime): Promise<DeployModel> {
  const rng = new Rng(DEPLOY.seed, 1);
  const labels = Int32Array.from({ length: DEPLOY.rows }, () => rng.below(DEPLOY.classes));
  const flat = (rows: number[][]) => Float32Array.from(rows.flat());
  const ds = makeDataset(
    { audio: { data: flat(draws(DEPLOY.rows, DEPLOY.audio, rng, labels, 3)), dim: DEPLOY.audio }, image: { data: flat(draws(DEPLOY.rows, DEPLOY.image, rng, labels, -2)), dim: DEPLOY.image } },
    labels,
    DEPLOY.classes,
  );
  const cfg = defaultConfig({ audio: { type: 'mlp', hidden: [16] }, image: { type: 'mlp', hidden: [8] } }, DEPLOY.seed);
  for (const stage of ['solo', 'guided'] as const) cfg[stage] = { ...cfg[stage], epochs: 2, batchSize: 32 };
  const { model, result } = await train(rt, 'udi', { train: ds }, cfg, { standardize: true });
  const checkpoint = await serializeModel(model, { anchor: result.anchor?.name });
  const { probs, classes } = classify(model, { audio: deployInputs().audioFeatures });
  return { checkpoint, probsHex: Buffer.from(probs.buffer, probs.byteOffset, probs.byteLength).toString('hex'), classes: Array.from(classes) };
}

/**
 * The script a runtime runs: a prelude (the snippet's inputs and `__report`), the README's lines for
 * that runtime, and the report line. `report` is the body of `__report(r)` in that runtime.
 */
export function deployProgram(readmeLines: string, report: string, reportLine: string): string {
  const inputs = deployInputs();
  return [
    '// prelude (test/portable/deploy.ts): the inputs the README leaves to the reader, and how to report',
    ...Object.entries(inputs).map(([k, v]) => `const ${k} = ${JSON.stringify(v)};`),
    `const __report = (r) => { ${report} };`,
    '// ---- README.md, "3. Deploy a checkpoint", as written',
    readmeLines,
    '// ---- report',
    reportLine,
  ].join('\n');
}
