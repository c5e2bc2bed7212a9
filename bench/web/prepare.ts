/**
 * Write the demo's data file, bench/web/public/data.bin (gitignored), from the real data in
 * ../shared/data (or --data DIR / $UDI_DATA):
 *
 *   npx tsx bench/web/prepare.ts                          # AV-MNIST split B fold 0 (default)
 *   npx tsx bench/web/prepare.ts --dataset mfeat          # mfeat fac+mor, test split 0
 *   npx tsx bench/web/prepare.ts --dataset avmnist --fold 3 --out /tmp/data.bin
 *
 * The splits and standardisation are exactly those of `udi compare` (src/io/data.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRuntime } from '../../src/index.js';
import { loadData } from '../../src/io/data.js';
import { encodeDemo } from './data.js';

const { values: o } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'avmnist' },
    fold: { type: 'string', default: '0' },
    views: { type: 'string', default: 'fac,mor' },
    data: { type: 'string' },
    out: { type: 'string', default: fileURLToPath(new URL('./public/data.bin', import.meta.url)) },
  },
});
const fold = Number(o.fold);
if (o.dataset !== 'avmnist' && o.dataset !== 'mfeat') throw new Error(`--dataset must be avmnist or mfeat, got ${o.dataset}`);

const rt = await createRuntime({ threads: 1 });
try {
  const t0 = Date.now();
  const data =
    o.dataset === 'avmnist'
      ? await loadData(rt, { kind: 'avmnist', split: 'B', fold, dir: o.data }, { seed: 0, validationFraction: 0.1 })
      : await loadData(rt, { kind: 'mfeat', views: o.views!.split(',') as ('fac' | 'mor')[], fold, dir: o.data }, { seed: 0, validationFraction: 0.1 });
  const classes = data.train.classes;
  const bytes = encodeDemo({ description: o.dataset === 'avmnist' ? `AV-MNIST split ${data.description}` : data.description, classes, train: data.train, val: data.val, test: data.test!, images: o.dataset === 'avmnist' ? ['image'] : [] });
  const out = resolve(o.out!);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, bytes);
  const sizes = (['train', 'val', 'test'] as const).map((s) => `${s} ${data[s]?.size ?? 0}`).join(', ');
  const dims = Object.entries(data.train.modalities).map(([m, v]) => `${m} ${v.dim}`).join(', ');
  console.log(`wrote ${out}: ${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB, ${data.description}; rows ${sizes}; dims ${dims}; ${classes} classes (${Date.now() - t0} ms)`);
} finally {
  rt.dispose();
}
