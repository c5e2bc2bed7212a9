/**
 * The type of `import udiWasm from 'udi-wasm/wasm/udi.<build>.wasm'` (package.json maps the
 * "types" condition of every `udi-wasm/wasm/*` import here). Edge runtimes and their bundlers
 * (workerd, wrangler) turn a .wasm import into a compiled module, which createRuntime takes as
 * `wasm`: `createRuntime({ threads: 1, build: 'simd', wasm: udiWasm })`.
 */
declare const udiWasm: WebAssembly.Module;
export default udiWasm;
