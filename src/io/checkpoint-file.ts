/**
 * Checkpoint and training-state files (Node and Deno: node:fs): atomic writes, the clean-up of
 * interrupted ones, saveModel and loadModel. The bytes themselves are made and checked by the
 * portable ./checkpoint.ts (serializeModel, deserializeModel), which browsers and edge runtimes use.
 */
import type { Runtime } from '../runtime/runtime.js';
import type { Model } from '../train/methods.js';
import { deserializeModel, type LoadedModel, serializeModel } from './checkpoint.js';
import { MAX_HEADER_BYTES } from './safetensors.js';
import { readSafetensorsFile } from './safetensors-file.js';

/** Write bytes to `file` atomically (Node/Deno): a temporary file in the same folder, then a rename. */
export async function writeFileAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    const h = await fs.open(tmp, 'w');
    try {
      await h.writeFile(bytes);
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Remove the temporary files an interrupted `writeFileAtomic` left in `dir` (a killed process leaves
 * `<name>.tmp-<pid>-<time>`) for the given file names: those of processes that no longer run, and
 * this process's own (call it before writing). Returns the paths removed.
 */
export async function removeStaleTemporaries(dir: string, names: readonly string[]): Promise<string[]> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const e of entries) {
    const m = /^(.+)\.tmp-(\d+)-(\d+)$/.exec(e);
    if (!m || !names.includes(m[1])) continue;
    const pid = Number(m[2]);
    if (pid !== process.pid && isAlive(pid)) continue; // another process may be writing it now
    const p = path.join(dir, e);
    const st = await fs.lstat(p).catch(() => null);
    if (!st?.isFile()) continue;
    await fs.rm(p, { force: true });
    removed.push(p);
  }
  return removed;
}

export async function saveModel(model: Model, file: string, opts: Parameters<typeof serializeModel>[1] = {}): Promise<void> {
  await writeFileAtomic(file, await serializeModel(model, opts));
}

/**
 * Load a checkpoint file. It is read only if its size is what its header declares, and at most the
 * runtime's memory limit of tensor data (the model must fit in it anyway).
 */
export async function loadModel(rt: Runtime, file: string): Promise<LoadedModel> {
  const bytes = await readSafetensorsFile(file, {
    what: 'checkpoint',
    maxBytes: 8 + MAX_HEADER_BYTES + rt.arena.limitBytes,
    limitHint: `a model larger than this runtime's memory limit (${rt.arena.limitBytes / 2 ** 20} MiB) cannot be loaded`,
  });
  return deserializeModel(rt, bytes, file);
}
