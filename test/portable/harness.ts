/**
 * Node-side helpers of the portable test: freshness of the built output, compiling the fixture for
 * a runtime, a static server (optionally cross-origin isolated), child processes with hard timeouts,
 * workerd, and Chromium through playwright-core. Nothing here downloads anything.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHROMIUM = process.env.UDI_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const WASM_BUILDS = ['scalar', 'simd', 'simd-threads'] as const;

export const tempDir = (tag: string) => mkdtemp(join(tmpdir(), `udi-portable-${tag}-`));
export const hex = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

/** Sources under src/ whose built dist/ file is missing or older than the source. */
function staleSources(dir = join(ROOT, 'src')): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...staleSources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
      const built = join(ROOT, 'dist', p.slice(join(ROOT, 'src').length + 1).replace(/\.ts$/, '.js'));
      if (!existsSync(built) || statSync(built).mtimeMs < statSync(p).mtimeMs) out.push(p.slice(ROOT.length));
    }
  }
  return out;
}

/**
 * The other runtimes load dist/ and build/: check the .wasm files exist, and rebuild dist/ when any
 * source is newer than its built file (a stale dist would compare old code with new).
 */
export async function ensureBuilt(): Promise<string | undefined> {
  const missing = WASM_BUILDS.map((b) => join(ROOT, 'build', `udi.${b}.wasm`)).filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`missing ${missing.join(', ')}: run \`npm run build:wasm\` (npm ci does it)`);
  const stale = staleSources();
  if (stale.length === 0) return undefined;
  const r = await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`dist/ was older than src/ and rebuilding it failed:\n${r.stdout}${r.stderr}`);
  return `dist/ was older than ${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ', ...' : ''}: rebuilt it (npm run build:ts)`;
}

/** The fixture as JavaScript whose library import is `specifier` ('/dist/index.js', 'udi-wasm', a file URL). */
export async function fixtureJs(specifier: string): Promise<string> {
  const { transform } = await import('esbuild');
  const ts = await readFile(join(ROOT, 'test', 'portable', 'fixture.ts'), 'utf8');
  const from = "from '../../src/index.js'";
  if (!ts.includes(from)) throw new Error(`fixture.ts no longer imports ${from}`);
  return (await transform(ts.replace(from, `from ${JSON.stringify(specifier)}`), { loader: 'ts', format: 'esm', target: 'es2022' })).code;
}

/** The fixture's TypeScript with its library import replaced (for a bundler that reads TS itself). */
export async function fixtureTs(specifier: string): Promise<string> {
  const ts = await readFile(join(ROOT, 'test', 'portable', 'fixture.ts'), 'utf8');
  const from = "from '../../src/index.js'";
  if (!ts.includes(from)) throw new Error(`fixture.ts no longer imports ${from}`);
  return ts.replace(from, `from ${JSON.stringify(specifier)}`);
}

/**
 * Bundle `entryPoints` (name → file) with esbuild into memory, redirecting every import of the
 * library's src/index.js to the built dist/web.js (the entry of the "browser" and "worker" export
 * conditions), so the other runtimes run what is shipped. No `node:*` module is external: the
 * bundle fails if anything it reaches imports one. Returns output path (relative to `outdir`) →
 * contents.
 */
export async function bundle(entryPoints: Record<string, string>, opts: { platform: 'browser' | 'neutral'; external?: string[]; splitting?: boolean }): Promise<Record<string, Uint8Array>> {
  const { build } = await import('esbuild');
  const outdir = join(ROOT, '.portable-out');
  const r = await build({
    entryPoints,
    bundle: true,
    format: 'esm',
    platform: opts.platform,
    target: 'es2022',
    outdir,
    write: false,
    splitting: opts.splitting ?? false,
    external: opts.external ?? [],
    mainFields: ['module', 'main'],
    logLevel: 'silent',
    plugins: [{ name: 'udi-dist', setup: (b) => b.onResolve({ filter: /\/src\/index\.js$/ }, () => ({ path: join(ROOT, 'dist', 'web.js') })) }],
  });
  return Object.fromEntries(r.outputFiles.map((f) => [f.path.slice(outdir.length + 1).split(sep).join('/'), f.contents]));
}

// ---- child processes ---------------------------------------------------------------------------

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/** Kill a child we started, with its process group (it was spawned detached). */
export function killTree(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** Run a command to completion, killing it (and its children) after `timeoutMs`. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; input?: string }): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child);
    }, opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - t0, timedOut });
    });
    child.stdin!.end(opts.input ?? '');
  });
}

/** Run and require exit code 0; the error names the command, the timeout and the output. */
export async function runOk(cmd: string, args: string[], opts: Parameters<typeof run>[2]): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const why = r.timedOut ? `timed out after ${opts.timeoutMs} ms` : `exited with ${r.code ?? r.signal}`;
    throw new Error(`${cmd} ${args.join(' ')} ${why}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`);
  }
  return r;
}

/** A promise that rejects after `ms` with `what` in the message. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

// ---- static server -------------------------------------------------------------------------------

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.map': 'application/json',
  '.bin': 'application/octet-stream',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
};

export const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } as const;

export interface StaticServer {
  origin: string;
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serve `mounts` (URL prefix → folder) and in-memory `files` (path → body) on 127.0.0.1 at a free
 * port; with `isolated`, every response carries COOP same-origin + COEP require-corp.
 */
export async function serveStatic(opts: { mounts?: Record<string, string>; files?: Record<string, string | Uint8Array>; isolated: boolean }): Promise<StaticServer> {
  const requests: string[] = [];
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const headers: Record<string, string> = { 'Cache-Control': 'no-store', ...(opts.isolated ? ISOLATION_HEADERS : {}) };
    const send = (status: number, body: string | Uint8Array, type: string) => {
      res.writeHead(status, { ...headers, 'Content-Type': type });
      res.end(body);
    };
    const key = path.endsWith('/') ? `${path}index.html` : path;
    const inMemory = opts.files?.[key];
    if (inMemory !== undefined) return send(200, inMemory, MIME[extname(key)] ?? 'application/octet-stream');
    for (const [prefix, dir] of Object.entries(opts.mounts ?? {})) {
      if (!key.startsWith(prefix)) continue;
      const base = resolve(dir);
      const file = resolve(base, `.${key.slice(prefix.length - 1)}`);
      if (file !== base && !file.startsWith(base + sep)) return send(403, 'forbidden', 'text/plain');
      try {
        return send(200, await readFile(file), MIME[extname(file)] ?? 'application/octet-stream');
      } catch {
        break;
      }
    }
    send(404, `not found: ${path}`, 'text/plain');
  };
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', () => ok()));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

// ---- workerd -----------------------------------------------------------------------------------------

export interface WorkerdServer {
  origin: string;
  stderr: () => string;
  stop(): Promise<void>;
}

/**
 * Start `workerd serve config.capnp` with its socket `http` on 127.0.0.1 at a port the OS picks
 * (reported on the control fd), and wait until it listens.
 */
export async function startWorkerd(configFile: string, timeoutMs: number, opts: { cwd?: string } = {}): Promise<WorkerdServer> {
  const bin = join(ROOT, 'node_modules', '.bin', 'workerd');
  const child = spawn(bin, ['serve', configFile, '--socket-addr', 'http=127.0.0.1:0', '--control-fd', '3'], { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stdout!.on('data', (d) => (stderr += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
    killTree(child);
    await withTimeout(exited, 5000, 'stopping workerd').catch(() => {});
  };
  try {
    const port = await withTimeout(
      new Promise<number>((ok, fail) => {
        let buf = '';
        (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
          buf += d.toString();
          for (const line of buf.split('\n')) {
            try {
              const msg = JSON.parse(line);
              if (msg.event === 'listen' && msg.socket === 'http') ok(msg.port);
            } catch {
              // partial line
            }
          }
        });
        child.once('exit', (code) => fail(new Error(`workerd exited with ${code} before listening:\n${stderr}`)));
        child.once('error', fail);
      }),
      timeoutMs,
      'workerd start',
    );
    return { origin: `http://127.0.0.1:${port}`, stderr: () => stderr, stop };
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n${stderr}`);
  }
}

/** A symbolic link at `path` to `target` (relative to the link's folder, or absolute), as `npm install` makes them. */
export async function link(target: string, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await rm(path, { recursive: true, force: true });
  await symlink(target, path);
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}

export async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFile(file, JSON.stringify(value, null, 2));
}
