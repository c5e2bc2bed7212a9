/**
 * Training config files (Node and Deno): reading one (bounded) and resolving the data paths it
 * holds (resolveDataPaths, also used for compare configs and for a training state's copy of its
 * config). Validating a config is the portable ./config.ts (parseTrainConfig, TrainConfigSchema).
 */
import { readJsonInput } from './files.js';
import { parseTrainConfig, type TrainConfig } from './config.js';

/** The data fields that hold paths: a manifest's train, val and test, or a dataset's folder. */
export type DataPaths = { kind: 'manifest'; train: string; val?: string; test?: string } | { kind: 'avmnist' | 'mfeat'; dir?: string };

export interface ResolveOptions {
  /** The working directory that paths written by earlier versions are relative to (default: process.cwd()). */
  cwd?: string;
  /** Receives the one warning about paths taken relative to the working directory (default: written to stderr). */
  warn?: (message: string) => void;
  /** The config file, for the warning. */
  file?: string;
}

/**
 * The data's paths made absolute. A relative path resolves against `dir` (the config file's folder),
 * never the working directory, with one exception: a config written by an earlier version holds
 * paths relative to the working directory it ran in, so a path that does not exist against `dir` but
 * does against the working directory is taken from there, and `warn` is told once (naming every such
 * path and how to make the config unambiguous: absolute paths). Node/Deno only.
 */
export async function resolveDataPaths<D extends DataPaths>(data: D, dir: string, o: ResolveOptions = {}): Promise<D> {
  const path = await import('node:path');
  const { stat } = await import('node:fs/promises');
  const exists = (p: string) => stat(p).then(
    () => true,
    () => false,
  );
  const cwd = path.resolve(o.cwd ?? process.cwd());
  const out: Record<string, unknown> = { ...data };
  const fromCwd: string[] = [];
  for (const k of data.kind === 'manifest' ? ['train', 'val', 'test'] : ['dir']) {
    const p = out[k];
    if (typeof p !== 'string') continue;
    out[k] = path.resolve(dir, p);
    if (path.isAbsolute(p)) continue;
    const legacy = path.resolve(cwd, p);
    if (legacy !== out[k] && !(await exists(out[k] as string)) && (await exists(legacy))) {
      out[k] = legacy;
      fromCwd.push(`data.${k} "${p}" (${legacy})`);
    }
  }
  if (fromCwd.length) {
    const warn = o.warn ?? ((m: string) => process.stderr.write(`udi: warning: ${m}\n`));
    const one = fromCwd.length === 1;
    warn(
      `${o.file ?? 'the config'}: ${fromCwd.join(', ')} ${one ? 'does' : 'do'} not exist relative to the config's folder (${dir}) but ${one ? 'does' : 'do'} relative to the working directory (${cwd}), so ${one ? 'that path is' : 'those paths are'} used ` +
        '(configs written by earlier versions hold paths relative to the working directory); write absolute paths in the config to make it unambiguous',
    );
  }
  return out as D;
}

/**
 * Read (bounded), validate and resolve a training config file. Relative paths in it (data.dir,
 * data.train, data.val, data.test) resolve against the file's folder and come back absolute (see
 * resolveDataPaths for the one exception, configs written by earlier versions).
 */
export async function loadTrainConfig(file: string, o: ResolveOptions = {}): Promise<TrainConfig> {
  const path = await import('node:path');
  const c = parseTrainConfig(await readJsonInput(file, { what: 'config' }), file);
  c.data = await resolveDataPaths(c.data, path.dirname(path.resolve(file)), { file, ...o });
  return c;
}
