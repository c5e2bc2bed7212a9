/**
 * Training config files (Node and Deno): reading one (bounded) and resolving the data paths it
 * holds. Validating a config is the portable ./config.ts (parseTrainConfig, TrainConfigSchema).
 */
import { readJsonInput } from './files.js';
import { parseTrainConfig, type TrainConfig } from './config.js';

/**
 * Read (bounded), validate and resolve a training config file. Relative paths in it (data.dir,
 * data.train, data.val, data.test) resolve against the file's folder, never the working directory,
 * and come back absolute.
 */
export async function loadTrainConfig(file: string): Promise<TrainConfig> {
  const path = await import('node:path');
  const c = parseTrainConfig(await readJsonInput(file, { what: 'config' }), file);
  const dir = path.dirname(path.resolve(file));
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(dir, p));
  if (c.data.kind === 'manifest') c.data = { ...c.data, train: abs(c.data.train)!, val: abs(c.data.val), test: abs(c.data.test) };
  else c.data = { ...c.data, dir: abs(c.data.dir) };
  return c;
}
