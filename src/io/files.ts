/**
 * The one way udi-wasm reads an input file (Node, Deno and Bun: node:fs/promises). Every reader goes
 * through here: configs, manifests, CSV, raw float32, WAV, IDX, checkpoints, training states and the
 * feature cache. Before a byte is read it checks
 *   - that the path exists and is a regular file (a folder, FIFO, socket or device such as /dev/zero
 *     is refused without being opened for reading, and re-checked on the open handle, so nothing blocks);
 *   - the size against the caller's limit (what the file's format or its manifest declares), so a
 *     file is never read whole to find out it is too large;
 *   - optionally, that the path stays inside a folder (symbolic links resolved).
 * Errors are DataErrors naming the path and the real reason: MISSING_FILE, NOT_A_FILE,
 * FILE_PERMISSION, FILE_TOO_LARGE, OUTSIDE_FOLDER, FILE_CHANGED or FILE_READ.
 */
import { DataError } from '../data/dataset.js';

/** Configs and manifests: small JSON files. */
const MAX_JSON_BYTES = 16 * 2 ** 20;
/** CSV and other text read whole into one string (a JavaScript string holds at most ~2^29 characters). */
const MAX_TEXT_BYTES = 2 ** 29 - 2 ** 20;
/** The largest file read into one buffer (Node's typed-array limit). */
export const MAX_BUFFER_BYTES = 2 ** 32 - 1;

export interface InputOptions {
  /** What the file is, for messages (e.g. `checkpoint`, `labels file`); the path follows it. */
  what?: string;
  /** Refuse a larger file before reading it. */
  maxBytes: number;
  /** Why the limit, appended to the FILE_TOO_LARGE message (what to do instead). */
  limitHint?: string;
  /** The file must lie inside this folder once symbolic links are resolved (OUTSIDE_FOLDER otherwise). */
  confineTo?: string;
}

/** An open regular file of a known size. */
export interface InputFile {
  readonly path: string;
  readonly size: number;
  /** `length` bytes from `position` into a fresh buffer (fewer only when the file ends first). */
  read(position: number, length: number): Promise<Uint8Array>;
  /** The whole file into a fresh buffer of exactly `size` bytes; FILE_CHANGED if the size changed meanwhile. */
  readAll(): Promise<Uint8Array>;
}

type Fs = typeof import('node:fs/promises');
type Stats = import('node:fs').Stats;

const fmtBytes = (n: number) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${n} bytes`);
const label = (o: { what?: string }, path: string) => (o.what ? `${o.what} ${path}` : path);

function kindOf(st: Stats): string | null {
  if (st.isFile()) return null;
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** The DataError for a failed file-system call on `path`. */
export function fileError(e: unknown, path: string, o: { what?: string } = {}): DataError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const name = label(o, path);
  if (code === 'ENOENT' || code === 'ENOTDIR') return new DataError('MISSING_FILE', `${name} does not exist`);
  if (code === 'EACCES' || code === 'EPERM') return new DataError('FILE_PERMISSION', `${name} cannot be read: permission denied (check the file's permissions)`);
  if (code === 'EISDIR') return new DataError('NOT_A_FILE', `${name} is a folder, not a file`);
  if (code === 'ELOOP') return new DataError('FILE_READ', `${name} cannot be read: too many levels of symbolic links`);
  return new DataError('FILE_READ', `${name} cannot be read: ${(e as Error)?.message ?? String(e)}`);
}

async function confine(fs: Fs, path: string, root: string, o: InputOptions): Promise<string> {
  const p = await import('node:path');
  let real: string, realRoot: string;
  try {
    realRoot = await fs.realpath(root);
  } catch (e) {
    throw fileError(e, root, { what: 'folder' });
  }
  try {
    real = await fs.realpath(path);
  } catch (e) {
    throw fileError(e, path, o);
  }
  const rel = p.relative(realRoot, real);
  if (rel === '' || rel.startsWith('..') || p.isAbsolute(rel)) {
    throw new DataError('OUTSIDE_FOLDER', `${label(o, path)} lies outside ${realRoot} (it resolves to ${real}); reads are confined to the manifest's folder`);
  }
  return real;
}

/**
 * Open `path` for reading after checking that it is a regular file within `maxBytes`, run `fn` with
 * it, and close it. Nothing is read before the checks pass.
 */
export async function withInput<T>(path: string, o: InputOptions, fn: (f: InputFile) => Promise<T>): Promise<T> {
  const fs = await import('node:fs/promises');
  const { constants } = await import('node:fs');
  const target = o.confineTo !== undefined ? await confine(fs, path, o.confineTo, o) : path;
  let st: Stats;
  try {
    st = await fs.stat(target);
  } catch (e) {
    throw fileError(e, path, o);
  }
  const check = (s: Stats) => {
    const kind = kindOf(s);
    if (kind) throw new DataError('NOT_A_FILE', `${label(o, path)} is ${kind}, not a regular file`);
    if (s.size > o.maxBytes) throw new DataError('FILE_TOO_LARGE', `${label(o, path)} is ${fmtBytes(s.size)}, larger than the ${fmtBytes(o.maxBytes)} it may have${o.limitHint ? `; ${o.limitHint}` : ''}`);
  };
  check(st);
  let h: import('node:fs/promises').FileHandle;
  try {
    // O_NONBLOCK: if the path was swapped for a FIFO since the stat, the open does not wait for a writer.
    h = await fs.open(target, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw fileError(e, path, o);
  }
  try {
    const s = await h.stat();
    check(s);
    const size = s.size;
    const readInto = async (buf: Uint8Array, position: number): Promise<number> => {
      let got = 0;
      while (got < buf.length) {
        let n: number;
        try {
          ({ bytesRead: n } = await h.read(buf, got, Math.min(buf.length - got, 2 ** 26), position + got));
        } catch (e) {
          throw fileError(e, path, o);
        }
        if (n === 0) break;
        got += n;
      }
      return got;
    };
    const file: InputFile = {
      path,
      size,
      async read(position, length) {
        const n = Math.max(0, Math.min(length, size - position));
        const buf = new Uint8Array(n);
        const got = await readInto(buf, position);
        return got === n ? buf : buf.subarray(0, got);
      },
      async readAll() {
        const buf = new Uint8Array(size);
        const got = await readInto(buf, 0);
        const more = got === size ? await readInto(new Uint8Array(1), size) : 0;
        if (got !== size || more !== 0) throw new DataError('FILE_CHANGED', `${label(o, path)} changed size while it was read (${size} bytes when opened); read it again once nothing writes to it`);
        return buf;
      },
    };
    return await fn(file);
  } finally {
    await h.close().catch(() => {});
  }
}

/** The whole file, after the checks of `withInput`; `check(size)` may refuse it before any byte is read. */
export async function readInput(path: string, o: InputOptions & { check?: (size: number) => void }): Promise<Uint8Array> {
  return withInput(path, o, async (f) => {
    o.check?.(f.size);
    return f.readAll();
  });
}

/** The whole file as UTF-8 text (at most MAX_TEXT_BYTES unless `maxBytes` is lower). */
export async function readTextInput(path: string, o: Partial<InputOptions> = {}): Promise<string> {
  const bytes = await readInput(path, { ...o, maxBytes: Math.min(o.maxBytes ?? MAX_TEXT_BYTES, MAX_TEXT_BYTES) });
  return new TextDecoder().decode(bytes);
}

/** A JSON file (at most MAX_JSON_BYTES): DataError BAD_JSON naming the file when it does not parse. */
export async function readJsonInput(path: string, o: Partial<InputOptions> = {}): Promise<unknown> {
  const text = await readTextInput(path, { ...o, maxBytes: o.maxBytes ?? MAX_JSON_BYTES });
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError('BAD_JSON', `${label(o, path)} is not valid JSON: ${(e as Error).message}`);
  }
}
