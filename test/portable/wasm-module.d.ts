/** workerd / Cloudflare Workers: importing a .wasm module gives a compiled WebAssembly.Module. */
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
