/**
 * A user's own data, without code: a manifest (JSON) naming one feature file per modality and a
 * labels file. Feature files are numeric CSV (one row per sample, optional header) or raw
 * little-endian float32 with a shape; labels are a one-column CSV of whole numbers. Everything is
 * validated on load, and errors name the file, row and column at fault.
 *
 *   {
 *     "labels": "labels.csv",
 *     "classes": 10,                                  (optional; default max label + 1)
 *     "modalities": {
 *       "audio": { "file": "audio.f32", "shape": [3000, 1280] },
 *       "image": { "file": "image.csv" }
 *     }
 *   }
 * Paths are relative to the manifest. Pass the manifest file or the folder holding manifest.json.
 * Node/Deno only.
 */
import { parseCsv } from './csv.js';
import { type Dataset, DataError, makeDataset } from './dataset.js';

interface ModalityEntry {
  file: string;
  shape?: [number, number];
}

/** Load a manifest. With `labelsOptional`, a manifest without "labels" loads with every label 0 (for prediction). */
export async function loadManifest(pathOrDir: string, opts: { labelsOptional?: boolean } = {}): Promise<Dataset & { labelled: boolean }> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  let file = pathOrDir;
  try {
    if ((await fs.stat(pathOrDir)).isDirectory()) file = path.join(pathOrDir, 'manifest.json');
  } catch {
    throw new DataError('MISSING_FILE', `${pathOrDir} does not exist`);
  }
  let manifest: { labels?: unknown; classes?: unknown; modalities?: unknown };
  try {
    manifest = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    throw new DataError('BAD_MANIFEST', `${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `is not valid JSON (${(e as Error).message})`}`);
  }
  const bad = (what: string) => new DataError('BAD_MANIFEST', `${file}: ${what}`);
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw bad('must be a JSON object with "labels" and "modalities"');
  for (const k of Object.keys(manifest)) if (!['labels', 'classes', 'modalities'].includes(k)) throw bad(`unknown key "${k}" (allowed: labels, classes, modalities)`);
  const labelled = manifest.labels !== undefined;
  if (!(labelled || opts.labelsOptional) || (labelled && typeof manifest.labels !== 'string')) throw bad('"labels" must be the path of a CSV file with one label per row');
  if (manifest.classes !== undefined && !(Number.isInteger(manifest.classes) && (manifest.classes as number) >= 2)) throw bad('"classes" must be a whole number >= 2');
  const mods = manifest.modalities;
  if (typeof mods !== 'object' || mods === null || Array.isArray(mods) || Object.keys(mods).length === 0) throw bad('"modalities" must map each modality name to { "file": ..., "shape"?: [rows, dim] }');
  const dir = path.dirname(file);
  const read = async (rel: string, what: string) => {
    const p = path.resolve(dir, rel);
    try {
      return { p, bytes: new Uint8Array(await fs.readFile(p)) };
    } catch {
      throw new DataError('MISSING_FILE', `${file}: ${what} file ${p} does not exist`);
    }
  };
  const lab = labelled ? await read(manifest.labels as string, 'labels') : null;
  const labTable = lab ? parseCsv(new TextDecoder().decode(lab.bytes), lab.p) : null;
  const labelFile = lab?.p ?? 'the manifest';
  if (labTable && labTable.cols !== 1) throw new DataError('BAD_LABEL', `${labelFile}: expected one label per row, found ${labTable.cols} columns`);
  labTable?.data.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0) throw new DataError('BAD_LABEL', `${labelFile}: row ${i + 1 + (labTable.header ? 1 : 0)} holds ${v}; labels must be whole numbers >= 0`);
  });
  let rows = labTable?.rows ?? -1;
  const out: Record<string, { data: Float32Array; dim: number }> = {};
  for (const [name, raw] of Object.entries(mods as Record<string, unknown>)) {
    const e = raw as ModalityEntry;
    if (typeof e !== 'object' || e === null || typeof e.file !== 'string') throw bad(`modalities.${name} must be { "file": "...", "shape"?: [rows, dim] }`);
    for (const k of Object.keys(e)) if (k !== 'file' && k !== 'shape') throw bad(`modalities.${name}: unknown key "${k}" (allowed: file, shape)`);
    const f = await read(e.file, `modality "${name}"`);
    if (/\.csv$/i.test(e.file)) {
      const t = parseCsv(new TextDecoder().decode(f.bytes), f.p);
      if (e.shape && (e.shape[0] !== t.rows || e.shape[1] !== t.cols)) throw new DataError('BAD_SHAPE', `${f.p}: manifest says shape ${e.shape.join('×')}, the file has ${t.rows}×${t.cols}`);
      out[name] = { data: t.data, dim: t.cols };
    } else {
      const sh = e.shape;
      if (!Array.isArray(sh) || sh.length !== 2 || !sh.every((v) => Number.isInteger(v) && v > 0)) throw bad(`modalities.${name}: a raw float32 file needs "shape": [rows, dim]`);
      if (f.bytes.byteLength !== sh[0] * sh[1] * 4) throw new DataError('BAD_SHAPE', `${f.p}: shape ${sh.join('×')} needs ${sh[0] * sh[1] * 4} bytes of little-endian float32, the file has ${f.bytes.byteLength}`);
      const data = new Float32Array(sh[0] * sh[1]);
      const dv = new DataView(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength);
      for (let i = 0; i < data.length; i++) data[i] = dv.getFloat32(4 * i, true);
      out[name] = { data, dim: sh[1] };
    }
    const r = out[name].data.length / out[name].dim;
    if (rows < 0) rows = r;
    if (r !== rows) throw new DataError('ROW_COUNT', `${f.p}: modality "${name}" has ${r} rows, ${labTable ? `${labelFile} has ${rows} labels` : `the first modality has ${rows}`}`);
  }
  const labels = labTable?.data ?? new Float32Array(rows);
  const classes = (manifest.classes as number | undefined) ?? (labelled ? undefined : 2);
  return { ...makeDataset(out, labels, classes), labelled };
}
