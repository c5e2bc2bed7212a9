/**
 * Finding and compiling the .wasm, in the order that works in Node, Deno, browsers, bundlers and
 * edge runtimes:
 *   1. an explicit source from the caller (a compiled WebAssembly.Module, bytes, a URL, a Response);
 *      edge runtimes such as Cloudflare Workers only accept a module imported statically;
 *   2. otherwise `new URL('../../build/udi.<build>.wasm', import.meta.url)`, written literally so
 *      bundlers ship the file (the same relative depth from src/runtime and dist/runtime);
 *   3. a `file:` URL is read from disk (Node, Deno);
 *   4. anything else is fetched: compileStreaming, falling back to arrayBuffer() when the server
 *      sends the wrong MIME type.
 */
import { readFileUrl } from './env.js';

export type Build = 'scalar' | 'simd' | 'simd-threads';
export const BUILDS: readonly Build[] = ['scalar', 'simd', 'simd-threads'];
export type WasmSource = WebAssembly.Module | ArrayBuffer | ArrayBufferView | URL | string | Response;

function defaultUrl(build: Build): URL {
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
  if (!res.ok) throw new Error(`could not load the udi-wasm module from ${where}: HTTP ${res.status}`);
  if (typeof WebAssembly.compileStreaming === 'function') {
    try {
      return await WebAssembly.compileStreaming(res.clone());
    } catch {
      // wrong MIME type (not application/wasm): fall through to bytes
    }
  }
  return WebAssembly.compile(await res.arrayBuffer());
}

async function compileUrl(url: URL): Promise<WebAssembly.Module> {
  if (url.protocol === 'file:') {
    let bytes: Uint8Array;
    try {
      bytes = await readFileUrl(url);
    } catch (e) {
      throw new Error(`could not read the udi-wasm module ${url.pathname}: ${(e as Error).message}. ` + 'Run `npm run build:wasm` in a source checkout, or pass `wasm:` to createRuntime.');
    }
    return WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  }
  return compileResponse(await fetch(url), url.href);
}

/** Compile the module for `build`, from `source` if given, else from the package's own file. */
export async function compileModule(build: Build, source?: WasmSource): Promise<WebAssembly.Module> {
  if (source === undefined) return compileUrl(defaultUrl(build));
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof URL) return compileUrl(source);
  if (typeof source === 'string') return compileUrl(new URL(source, (globalThis as any).location?.href));
  if (typeof Response !== 'undefined' && source instanceof Response) return compileResponse(source, source.url || 'a Response');
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source as BufferSource);
  throw new TypeError('createRuntime: `wasm` must be a WebAssembly.Module, bytes, a URL or a Response');
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
