/**
 * UCI Multiple Features (mfeat): 2,000 handwritten digits, six feature views of the same scan.
 * Multi-view, not multimodal: the views come from one sensor. Licence: CC BY 4.0 (UCI).
 */
import { makeDataset, type Dataset, DataError } from './dataset.js';
import { parseCsv } from './csv.js';
import { readTextInput } from '../io/files.js';

export const MFEAT_VIEWS = ['fac', 'fou', 'kar', 'mor', 'pix', 'zer'] as const;
export type MfeatView = (typeof MFEAT_VIEWS)[number];

/** Load views of mfeat from `dir` (the folder with mfeat-<view>.csv and labels.csv). Node/Deno only. */
export async function loadMfeat(dir: string, views: readonly MfeatView[]): Promise<Dataset> {
  const { join } = await import('node:path');
  const read = async (name: string) => {
    const path = join(dir, name);
    let text: string;
    try {
      text = await readTextInput(path, { what: 'mfeat file' });
    } catch (e) {
      if ((e as DataError).code === 'MISSING_FILE') throw new DataError('MISSING_FILE', `mfeat: ${path} does not exist; pass the folder holding the mfeat CSV files`);
      throw e;
    }
    return parseCsv(text, path);
  };
  for (const v of views) if (!MFEAT_VIEWS.includes(v)) throw new DataError('UNKNOWN_MODALITY', `mfeat has no view "${v}" (views: ${MFEAT_VIEWS.join(', ')})`);
  const labels = await read('labels.csv');
  const mods: Record<string, { data: Float32Array; dim: number }> = {};
  for (const v of views) {
    const t = await read(`mfeat-${v}.csv`);
    mods[v] = { data: t.data, dim: t.cols };
  }
  return makeDataset(mods, labels.data, 10);
}
