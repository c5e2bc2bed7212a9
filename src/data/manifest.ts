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
 * Paths are relative to the manifest's folder; `../` and absolute paths are allowed unless
 * `confine` is set. Every file is read through the bounded reader (src/io/files.ts): a raw file's
 * size is checked against its shape before anything is read. Pass the manifest file or the folder
 * holding manifest.json. Node/Deno only.
 */
import { parseCsv } from './csv.js';
import { type Dataset, DataError, makeDataset } from './dataset.js';
import { float32LE } from '../io/bytes.js';
import { MAX_BUFFER_BYTES, readInput, readJsonInput, readTextInput } from '../io/files.js';
import { MAX_NAME_LENGTH, RESERVED_NAMES } from '../io/names.js';

/** Labels are read as float32: whole numbers above 2^24 cannot be told apart. */
const MAX_LABEL = 2 ** 24 - 1;

export interface ManifestOptions {
  /** A manifest without "labels" loads with every label 0 (for prediction). */
  labelsOptional?: boolean;
  /**
   * Refuse every file the manifest names outside the manifest's own folder (after resolving
   * symbolic links): for manifests from elsewhere. By default a manifest may name any file (`../`,
   * absolute paths), as a user's own manifest may.
   */
  confine?: boolean;
}

/** A loaded manifest: the dataset, and the files it came from (for messages). */
export type LoadedManifest = Dataset & { labelled: boolean; files: { manifest: string; labels?: string; modalities: Record<string, string> } };

/** Load a manifest (the file, or the folder holding manifest.json). */
export async function loadManifest(pathOrDir: string, opts: ManifestOptions = {}): Promise<LoadedManifest> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const { fileError } = await import('../io/files.js');
  let file = pathOrDir;
  try {
    if ((await fs.stat(pathOrDir)).isDirectory()) file = path.join(pathOrDir, 'manifest.json');
  } catch (e) {
    throw fileError(e, pathOrDir, { what: 'manifest' });
  }
  let manifest: { labels?: unknown; classes?: unknown; modalities?: unknown };
  try {
    manifest = (await readJsonInput(file, { what: 'manifest' })) as typeof manifest;
  } catch (e) {
    if ((e as DataError).code === 'BAD_JSON') throw new DataError('BAD_MANIFEST', (e as Error).message);
    throw e;
  }
  const bad = (what: string) => new DataError('BAD_MANIFEST', `${file}: ${what}`);
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw bad('must be a JSON object with "labels" and "modalities"');
  for (const k of Object.keys(manifest)) if (!['labels', 'classes', 'modalities'].includes(k)) throw bad(`unknown key "${k}" (allowed: labels, classes, modalities)`);
  const labelled = manifest.labels !== undefined;
  if (!(labelled || opts.labelsOptional) || (labelled && typeof manifest.labels !== 'string')) throw bad('"labels" must be the path of a CSV file with one label per row');
  if (manifest.classes !== undefined && !(Number.isInteger(manifest.classes) && (manifest.classes as number) >= 2 && (manifest.classes as number) <= MAX_LABEL + 1)) throw bad(`"classes" must be a whole number from 2 to ${MAX_LABEL + 1}`);
  const mods = manifest.modalities;
  if (typeof mods !== 'object' || mods === null || Array.isArray(mods) || Object.keys(mods).length === 0) throw bad('"modalities" must map each modality name to { "file": ..., "shape"?: [rows, dim] }');
  const entries = Object.entries(mods as Record<string, unknown>);
  // Check every entry before reading any file.
  for (const [name, raw] of entries) {
    if (name === '' || RESERVED_NAMES.includes(name)) throw bad(`modalities: ${name === '' ? 'an empty name' : `"${name}" is a reserved name`}; name the modality otherwise`);
    if (name.length > MAX_NAME_LENGTH) throw bad(`modalities: the name "${name.slice(0, 40)}..." is ${name.length} characters long, more than ${MAX_NAME_LENGTH}; name the modality otherwise`);
    const e = raw as { file?: unknown; shape?: unknown };
    if (typeof e !== 'object' || e === null || Array.isArray(e) || typeof e.file !== 'string') throw bad(`modalities.${name} must be { "file": "...", "shape"?: [rows, dim] }`);
    for (const k of Object.keys(e)) if (k !== 'file' && k !== 'shape') throw bad(`modalities.${name}: unknown key "${k}" (allowed: file, shape)`);
    const sh = e.shape;
    if (sh !== undefined && !(Array.isArray(sh) && sh.length === 2 && sh.every((v) => Number.isSafeInteger(v) && v > 0))) throw bad(`modalities.${name}: "shape" must be [rows, dim], two whole numbers > 0`);
    if (!/\.csv$/i.test(e.file)) {
      if (sh === undefined) throw bad(`modalities.${name}: a raw float32 file needs "shape": [rows, dim]`);
      const [r, d] = sh as number[];
      if (r * d * 4 > MAX_BUFFER_BYTES) throw new DataError('BAD_SHAPE', `${file}: modalities.${name}: shape ${r}×${d} needs ${r * d * 4} bytes, more than the ${MAX_BUFFER_BYTES} a raw float32 file may have`);
    }
  }
  const dir = path.dirname(file);
  const confineTo = opts.confine ? dir : undefined;
  const csvHint = 'a CSV file is read whole into memory; store large features as raw little-endian float32 with a "shape"';
  const lab = labelled ? path.resolve(dir, manifest.labels as string) : undefined;
  const labTable = lab ? parseCsv(await readTextInput(lab, { what: `${file}: labels file`, confineTo, limitHint: csvHint }), lab) : null;
  const labelFile = lab ?? 'the manifest';
  if (labTable && labTable.cols !== 1) throw new DataError('BAD_LABEL', `${labelFile}: expected one label per row, found ${labTable.cols} columns`);
  const classes = (manifest.classes as number | undefined) ?? (labelled ? undefined : 2);
  labTable?.data.forEach((v, i) => {
    const row = i + 1 + (labTable.header ? 1 : 0);
    if (!Number.isInteger(v) || v < 0 || v > MAX_LABEL) throw new DataError('BAD_LABEL', `${labelFile}: row ${row} holds ${v}; labels must be whole numbers from 0 to ${MAX_LABEL}`);
    if (classes !== undefined && v >= classes) throw new DataError('BAD_LABEL', `${labelFile}: row ${row} holds label ${v}, but ${file} says "classes": ${classes} (labels 0-${classes - 1}); fix the label or raise "classes"`);
  });
  let rows = labTable?.rows ?? -1;
  const out: Record<string, { data: Float32Array; dim: number }> = Object.create(null);
  const files: Record<string, string> = {};
  for (const [name, raw] of entries) {
    const e = raw as { file: string; shape?: [number, number] };
    const p = path.resolve(dir, e.file);
    files[name] = p;
    const what = `${file}: modality "${name}" file`;
    if (/\.csv$/i.test(e.file)) {
      const t = parseCsv(await readTextInput(p, { what, confineTo, limitHint: csvHint }), p);
      if (e.shape && (e.shape[0] !== t.rows || e.shape[1] !== t.cols)) throw new DataError('BAD_SHAPE', `${p}: manifest says shape ${e.shape.join('×')}, the file has ${t.rows}×${t.cols}`);
      out[name] = { data: t.data, dim: t.cols };
    } else {
      const [r, d] = e.shape!;
      const need = r * d * 4;
      // The size is checked against the shape before a byte is read: nothing beyond the shape is ever read.
      const bytes = await readInput(p, {
        what,
        maxBytes: MAX_BUFFER_BYTES,
        confineTo,
        check: (size) => {
          if (size !== need) throw new DataError('BAD_SHAPE', `${p}: shape ${r}×${d} needs ${need} bytes of little-endian float32, the file has ${size}`);
        },
      });
      const data = float32LE(bytes, 0, r * d);
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i])) throw new DataError('NON_FINITE', `${p}: modality "${name}" row ${Math.floor(i / d)} column ${i % d} is ${data[i]} (float32 number ${i}, byte ${4 * i}); features must be finite numbers`);
      }
      out[name] = { data, dim: d };
    }
    const n = out[name].data.length / out[name].dim;
    if (rows < 0) rows = n;
    if (n !== rows) throw new DataError('ROW_COUNT', `${p}: modality "${name}" has ${n} rows, ${labTable ? `${labelFile} has ${rows} labels` : `the first modality has ${rows}`}`);
  }
  const labels = labTable?.data ?? new Float32Array(rows);
  return { ...makeDataset({ ...out }, labels, classes), labelled, files: { manifest: file, labels: lab, modalities: files } };
}

/**
 * Every class in [0, classes) must have an example in a training or validation manifest; the
 * error names the labels file (a test set may lack classes).
 */
export function checkEveryClass(ds: LoadedManifest, part: 'training' | 'validation'): void {
  const seen = new Uint8Array(ds.classes);
  for (const y of ds.labels) seen[y] = 1;
  const absent: number[] = [];
  for (let c = 0; c < ds.classes && absent.length < 10; c++) if (!seen[c]) absent.push(c);
  if (absent.length) {
    const given = ds.classes;
    throw new DataError(
      'CLASS_ABSENT',
      `${ds.files.labels ?? ds.files.manifest}: class${absent.length > 1 ? 'es' : ''} ${absent.join(', ')} ${absent.length > 1 ? 'have' : 'has'} no example in this ${part} data ` +
        `(${ds.size} rows, ${given} classes); every class needs ${part} examples: add some, or renumber the labels 0, 1, 2, ... without gaps (and fix "classes" in ${ds.files.manifest} if it is set)`,
    );
  }
}
