/**
 * Finding and compiling the .wasm, in the order that works in Node, Deno, browsers, bundlers and
 * edge runtimes:
 *   1. an explicit source from the caller (a compiled WebAssembly.Module, bytes, a URL, a Response);
 *      edge runtimes such as Cloudflare Workers only accept a module imported statically, and
 *      without one createRuntime says so (it does not try a URL those runtimes cannot load);
 *   2. otherwise `new URL('../../build/udi.<build>.wasm', import.meta.url)`, written literally so
 *      bundlers ship the file (the same relative depth from src/runtime and dist/runtime);
 *   3. a `file:` URL is read through the host (Node; Deno with --allow-read, and without it the
 *      error says which folder to grant);
 *   4. anything else is fetched: compileStreaming, falling back to arrayBuffer() when the server
 *      sends the wrong MIME type.
 */
import { type Host, isPermissionError, runtimeKind } from './env.js';
import { UdiError } from '../errors.js';

export type Build = 'scalar' | 'simd' | 'simd-threads';
export const BUILDS: readonly Build[] = ['scalar', 'simd', 'simd-threads'];
export type WasmSource = WebAssembly.Module | ArrayBuffer | ArrayBufferView | URL | string | Response;

/** How to give createRuntime the module on an edge runtime (workerd), for error messages. */
const EDGE_WASM_HINT = "import the module statically and pass it: `import udiWasm from 'udi-wasm/wasm/udi.simd.wasm'` and `createRuntime({ threads: 1, build: 'simd', wasm: udiWasm })` (README: Edge runtimes)";

function defaultUrl(build: Build): URL {
  try {
    return literalUrl(build);
  } catch (e) {
    // import.meta.url is not a URL here (workerd and other edge runtimes give modules none).
    throw new UdiError('WASM_LOAD', `createRuntime: this runtime gives udi-wasm no URL to load its ${build} WebAssembly module from (${(e as Error).message}); ${EDGE_WASM_HINT}`);
  }
}

function literalUrl(build: Build): URL {
  switch (build) {
    case 'scalar':
      return new URL('../../build/udi.scalar.wasm', import.meta.url);
    case 'simd':
      return new URL('../../build/udi.simd.wasm', import.meta.url);
    case 'simd-threads':
      return new URL('../../build/udi.simd-threads.wasm', import.meta.url);
  }
}

async function compileResponse(res: Response, where: string): Promise<WebAssembly.Module> {
  if (!res.ok) throw new UdiError('WASM_LOAD', `could not load the udi-wasm module from ${where}: HTTP ${res.status}`);
  if (typeof WebAssembly.compileStreaming === 'function') {
    try {
      return await WebAssembly.compileStreaming(res.clone());
    } catch {
      // wrong MIME type (not application/wasm): fall through to bytes
    }
  }
  return compileBytes(await res.arrayBuffer());
}

/** The folder of a `file:` URL, for the --allow-read hint. */
const folderOf = (url: URL) => decodeURIComponent(new URL('.', url).pathname).replace(/(.)\/$/, '$1');

async function compileUrl(host: Host, url: URL): Promise<WebAssembly.Module> {
  if (url.protocol === 'file:') {
    let bytes: Uint8Array;
    const file = decodeURIComponent(url.pathname);
    try {
      bytes = await host.readFile(url);
    } catch (e) {
      if (isPermissionError(e)) {
        throw new UdiError(
          'WASM_LOAD',
          `createRuntime: no permission to read the udi-wasm module ${file} (${(e as Error).message}). ` +
            `Grant read permission to its folder: in Deno, \`deno run --allow-read=${folderOf(url)} ...\` (or a wider --allow-read); ` +
            'elsewhere, make the file readable; or pass `wasm:` to createRuntime.',
        );
      }
      const missing = (e as { code?: unknown })?.code === 'ENOENT' || (e as Error)?.name === 'NotFound';
      if (missing) throw new UdiError('WASM_LOAD', `createRuntime: the udi-wasm module ${file} does not exist: run \`npm run build:wasm\` in a source checkout (npm ci does it), or pass \`wasm:\` to createRuntime.`);
      throw new UdiError('WASM_LOAD', `createRuntime: could not read the udi-wasm module ${file}: ${(e as Error).message}. Pass \`wasm:\` to createRuntime to give the module yourself.`);
    }
    return compileBytes(bytes as Uint8Array<ArrayBuffer>);
  }
  return compileResponse(await fetch(url), url.href);
}

async function compileBytes(bytes: BufferSource): Promise<WebAssembly.Module> {
  try {
    return await WebAssembly.compile(bytes);
  } catch (e) {
    // workerd refuses to compile WebAssembly at run time ("Wasm code generation disallowed by embedder").
    if (runtimeKind() === 'workerd') throw new UdiError('WASM_LOAD', `createRuntime: workerd compiles no WebAssembly from bytes at run time (${(e as Error).message}); ${EDGE_WASM_HINT}`);
    throw e;
  }
}

/** Compile the module for `build`, from `source` if given, else from the package's own file. */
export async function compileModule(host: Host, build: Build, source?: WasmSource): Promise<WebAssembly.Module> {
  if (source === undefined) {
    if (runtimeKind() === 'workerd') throw new UdiError('WASM_LOAD', `createRuntime: on workerd (Cloudflare Workers) the \`wasm\` option is required: workerd neither fetches nor compiles WebAssembly at run time, so ${EDGE_WASM_HINT}`);
    return compileUrl(host, defaultUrl(build));
  }
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof URL) return compileUrl(host, source);
  if (typeof source === 'string') return compileUrl(host, new URL(source, (globalThis as any).location?.href));
  if (typeof Response !== 'undefined' && source instanceof Response) return compileResponse(source, source.url || 'a Response');
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return compileBytes(source as BufferSource);
  throw new UdiError('BAD_OPTIONS', 'createRuntime: `wasm` must be a WebAssembly.Module, bytes, a URL or a Response');
}

// Smallest valid module using a v128 instruction: (func (result v128) v128.const 0) — feature probe.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]);

/** Whether the host compiles WebAssembly SIMD. */
export function hostHasSimd(): boolean {
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}
