// The compiled modules (build/*.wasm) match the TypeScript kernel interface (src/kernels/spec.ts)
// exactly: the same export names and nothing else, the same arity and parameter/result types, and
// env.memory as the only import. The SIMD builds use SIMD and the scalar build does not; the threads
// build imports a shared memory; no build has a data segment.
import binaryen from 'binaryen';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KERNEL_NAMES, KERNELS, type KernelName } from '../src/engine.js';

const BUILDS = ['scalar', 'simd', 'simd-threads', 'debug'] as const;
type BuildFile = (typeof BUILDS)[number];

const bytes = (b: BuildFile) => readFileSync(new URL(`../build/udi.${b}.wasm`, import.meta.url));

/** The module's text (binaryen's disassembly). */
function wasmText(b: BuildFile): string {
  const mod = binaryen.readBinary(bytes(b));
  try {
    return mod.emitText();
  } finally {
    mod.dispose();
  }
}

/** Parameter and result types of every exported function, as binaryen type names. */
function exportedSignatures(b: BuildFile): Map<string, { params: string[]; result: string }> {
  const mod = binaryen.readBinary(bytes(b));
  const typeName = (t: number) => (t === binaryen.i32 ? 'i32' : t === binaryen.f32 ? 'f32' : t === binaryen.none ? 'none' : t === binaryen.i64 ? 'i64' : t === binaryen.f64 ? 'f64' : `type ${t}`);
  const out = new Map<string, { params: string[]; result: string }>();
  try {
    for (let i = 0; i < mod.getNumExports(); i++) {
      const e = binaryen.getExportInfo(mod.getExportByIndex(i));
      if (e.kind !== binaryen.ExternalFunction) continue;
      const f = binaryen.getFunctionInfo(mod.getFunction(e.value));
      out.set(e.name, { params: binaryen.expandType(f.params).map(typeName), result: typeName(f.results) });
    }
  } finally {
    mod.dispose();
  }
  return out;
}

const sorted = (xs: Iterable<string>) => [...xs].sort();

for (const build of BUILDS) {
  describe(`build/udi.${build}.wasm`, () => {
    const module = new WebAssembly.Module(bytes(build));

    it('exports exactly the kernels of KERNELS, nothing else', () => {
      const exports = WebAssembly.Module.exports(module);
      const extra = exports.filter((e) => !(e.name in KERNELS)).map((e) => `${e.name} (${e.kind})`);
      const missing = KERNEL_NAMES.filter((n) => !exports.some((e) => e.name === n));
      console.log(`${build}: ${exports.length} exports; extra: ${extra.join(', ') || 'none'}; missing: ${missing.join(', ') || 'none'}`);
      expect(missing, 'kernels of spec.ts the module does not export').toEqual([]);
      expect(extra, 'exports that are not kernels of spec.ts').toEqual([]);
      expect(sorted(exports.map((e) => e.name))).toEqual(sorted(KERNEL_NAMES));
    });

    it('every kernel export is a function', () => {
      const kinds = Object.fromEntries(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
      expect(KERNEL_NAMES.filter((n) => kinds[n] !== 'function')).toEqual([]);
    });

    it('imports exactly env.memory', () => {
      expect(WebAssembly.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    });

    it('each exported function takes as many arguments as KERNELS lists (instantiated over an imported memory)', () => {
      const memory = new WebAssembly.Memory(build === 'simd-threads' ? { initial: 1, maximum: 65536, shared: true } : { initial: 1 });
      const instance = new WebAssembly.Instance(module, { env: { memory } });
      const wrong = KERNEL_NAMES.filter((n) => (instance.exports[n] as (...a: unknown[]) => unknown).length !== KERNELS[n].args.length).map(
        (n) => `${n}: ${(instance.exports[n] as () => void).length} parameters, KERNELS lists ${KERNELS[n].args.length}`,
      );
      expect(wrong).toEqual([]);
    });

    it('parameter and result types follow the ABI: ptr, iptr and i32 → i32, f32 → f32; returns as listed', () => {
      const sigs = exportedSignatures(build);
      const wrong: string[] = [];
      for (const name of KERNEL_NAMES as KernelName[]) {
        const spec = KERNELS[name] as { args: readonly string[]; returns?: 'f32' | 'i32' | 'f64' };
        const want = { params: spec.args.map((a) => (a.endsWith(':f32') ? 'f32' : 'i32')), result: spec.returns ?? 'none' };
        const got = sigs.get(name);
        if (!got || JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${name}: (${got?.params.join(' ')}) → ${got?.result}, spec (${want.params.join(' ')}) → ${want.result}`);
      }
      expect(wrong).toEqual([]);
    });
  });
}

describe('instructions and memory in the compiled modules', () => {
  const text = Object.fromEntries(BUILDS.map((b) => [b, wasmText(b)])) as Record<BuildFile, string>;
  const count = (t: string, s: string) => t.split(s).length - 1;

  it('the SIMD builds contain f32x4 and v128 instructions, the scalar build none', () => {
    for (const b of BUILDS) console.log(`${b}: ${count(text[b], 'f32x4.')} f32x4. and ${count(text[b], 'v128.')} v128. instructions`);
    for (const b of ['simd', 'simd-threads', 'debug'] as const) {
      expect(count(text[b], 'f32x4.'), b).toBeGreaterThan(0);
      expect(count(text[b], 'v128.'), b).toBeGreaterThan(0);
    }
    expect(count(text.scalar, 'f32x4.')).toBe(0);
    expect(count(text.scalar, 'v128.')).toBe(0);
    expect(text.scalar).not.toMatch(/\bv128\b|\bi32x4\.|\bf64x2\.|\bi8x16\./);
  });

  it('the simd-threads build imports a shared memory, the others an unshared one', () => {
    const memoryImport = (t: string) => t.split('\n').find((l) => l.includes('(import "env" "memory"')) ?? '';
    expect(memoryImport(text['simd-threads'])).toContain('shared');
    for (const b of ['scalar', 'simd', 'debug'] as const) {
      expect(memoryImport(text[b]), b).toMatch(/\(memory/);
      expect(memoryImport(text[b]), b).not.toContain('shared');
    }
  });

  it('no build has a data segment', () => {
    for (const b of BUILDS) expect(text[b].includes('(data'), `${b} has a data segment`).toBe(false);
  });
});
