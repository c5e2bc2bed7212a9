/**
 * The demo's data file: train/validation/test splits as one safetensors file (the library's own
 * checkpoint container), written by prepare.ts and read in the browser. Tensors are
 * `<split>.<modality>` (rows × dim, float32) and `<split>.labels` (rows, float32 holding whole
 * numbers); the metadata says what the data are. Also: a dataset from CSV files the user picks.
 */
import { applyStandardize, fitStandardize, makeDataset, stratifiedSplit, subset, type Dataset } from '../../src/web.js';
import { decodeSafetensors, encodeSafetensors, parseCsv } from '../../src/io-web.js';

export const DEMO_FORMAT = 'udi-wasm-demo/1';
const SPLITS = ['train', 'val', 'test'] as const;
type SplitName = (typeof SPLITS)[number];

export interface DemoData {
  description: string;
  classes: number;
  train: Dataset;
  val?: Dataset;
  test: Dataset;
  /** Modalities that are 28×28 grey images (drawn next to predictions). */
  images?: string[];
}

export function encodeDemo(d: DemoData): Uint8Array {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const split of SPLITS) {
    const ds = d[split];
    if (!ds) continue;
    for (const [m, v] of Object.entries(ds.modalities)) tensors[`${split}.${m}`] = { shape: [ds.size, v.dim], data: v.data };
    tensors[`${split}.labels`] = { shape: [ds.size], data: Float32Array.from(ds.labels) };
  }
  return encodeSafetensors(tensors, { format: DEMO_FORMAT, description: d.description, classes: String(d.classes), images: JSON.stringify(d.images ?? []) });
}

export function decodeDemo(bytes: Uint8Array, file = 'data file'): DemoData {
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  if (metadata.format !== DEMO_FORMAT) throw new Error(`${file}: not a demo data file (format ${JSON.stringify(metadata.format)}, expected ${DEMO_FORMAT}); write one with bench/web/prepare.ts`);
  const classes = Number(metadata.classes);
  const split = (s: SplitName): Dataset | undefined => {
    const labels = tensors[`${s}.labels`];
    if (!labels) return undefined;
    const mods: Record<string, { data: Float32Array; dim: number }> = {};
    for (const [name, t] of Object.entries(tensors)) {
      if (!name.startsWith(`${s}.`) || name === `${s}.labels`) continue;
      mods[name.slice(s.length + 1)] = { data: t.data, dim: t.shape[1] };
    }
    return makeDataset(mods, Array.from(labels.data), classes);
  };
  const train = split('train');
  const test = split('test');
  if (!train || !test) throw new Error(`${file}: needs train and test splits`);
  return { description: metadata.description ?? file, classes, train, val: split('val'), test, images: JSON.parse(metadata.images ?? '[]') };
}

/**
 * CSV files the user picked: one named labels*.csv (one whole number per row), every other file a
 * modality (rows × features, named after the file). A stratified seeded 25% is the test split; every
 * modality is standardised with the training part's statistics.
 */
export function fromCsvFiles(files: { name: string; text: string }[]): DemoData {
  const labelsFile = files.find((f) => /^labels.*\.csv$/i.test(f.name));
  if (!labelsFile) throw new Error('pick a labels.csv (one whole number per row) together with one CSV per modality');
  const labels = parseCsv(labelsFile.text, labelsFile.name);
  const mods: Record<string, { data: Float32Array; dim: number }> = {};
  for (const f of files) {
    if (f === labelsFile) continue;
    const t = parseCsv(f.text, f.name);
    mods[f.name.replace(/\.csv$/i, '').replace(/[^\w-]/g, '_')] = { data: t.data, dim: t.cols };
  }
  if (Object.keys(mods).length < 2) throw new Error('pick at least two modality CSV files besides labels.csv');
  const all = makeDataset(mods, Array.from(labels.data));
  const { fit, val: test } = stratifiedSplit(all.labels, 0.25, 1);
  const train = subset(all, fit);
  const stats = fitStandardize(train);
  return { description: `${files.map((f) => f.name).join(', ')} (stratified 25% test, standardised)`, classes: all.classes, train: applyStandardize(train, stats), test: applyStandardize(subset(all, test), stats) };
}
