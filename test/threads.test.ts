// 1 and 2 threads give bitwise-equal outputs: createRuntime({ threads: 2 }) (the simd-threads build,
// rows, columns, samples or elements split over the calling thread and one worker) against threads: 1
// with the simd build, for matmul in every layout, conv2d forward and backward, the batch gather,
// max-pooling and the activations, on shapes big enough to be split (and checked to be split).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import { Kernels, type ConvShape, type KernelName, type MatmulLayout } from '../src/engine.js';
import { MATMUL_SCRATCH_FLOATS } from '../src/kernels/reference/index.js';
import type { RawKernels } from '../src/kernels/spec.js';
import type { WorkerPool } from '../src/runtime/pool.js';
import { convGeometry } from './cases/index.js';
import { expectBitwise, Rand, scoped } from './helpers.js';

const SPLIT_KERNELS = ['matmul_nn', 'matmul_nt', 'matmul_tn', 'im2col', 'gather_rows', 'col2im', 'max_pool_forward'] as const;

/** The range a calling-thread call computed: rows [r0, r1), and for matmul columns [c0, c1). */
interface Range {
  r0: number;
  r1: number;
  c0: number;
  c1: number;
}

/**
 * Kernels over the same runtime (memory, module, worker pool) whose calling-thread calls of the
 * range-parallel kernels are recorded: when a call is split, the calling thread computes the first
 * chunk of rows (or, for a matmul with m < n, of columns) only and the worker the rest.
 */
function recordingKernels(rt: Runtime): { kernels: Kernels; calls: Map<string, Range[]> } {
  const pool = (rt as unknown as { pool: WorkerPool | null }).pool;
  const calls = new Map<string, Range[]>(SPLIT_KERNELS.map((n) => [n, []]));
  const raw = { ...rt.kernels.raw } as RawKernels;
  for (const name of SPLIT_KERNELS) {
    const fn = rt.kernels.raw[name];
    raw[name] = (...args: number[]) => {
      // matmul: ... r0 r1 c0 c1; the others: ... r0 r1 (col2im and max_pool_forward: samples b0 b1)
      const rowsOnly = !name.startsWith('matmul_');
      const at = rowsOnly ? args.length - 2 : args.length - 4;
      calls.get(name)!.push({ r0: args[at], r1: args[at + 1], c0: rowsOnly ? 0 : args[at + 2], c1: rowsOnly ? Infinity : args[at + 3] });
      return fn(...args);
    };
  }
  const scratch = Array.from({ length: rt.kernels.threads }, () => rt.arena.f32(MATMUL_SCRATCH_FLOATS));
  return { kernels: new Kernels(raw, rt.arena, pool, scratch), calls };
}

describe('1 and 2 threads are bitwise equal', () => {
  let one: Runtime, two: Runtime;
  let rec: ReturnType<typeof recordingKernels>;
  beforeAll(async () => {
    [one, two] = await Promise.all([createRuntime({ threads: 1, build: 'simd' }), createRuntime({ threads: 2 })]);
    rec = recordingKernels(two);
  });
  afterAll(() => {
    one?.dispose();
    two?.dispose();
  });

  it('threads: 2 runs two threads on the simd-threads build', () => {
    expect(two.info.threads).toBe(2);
    expect(two.kernels.threads).toBe(2);
    expect(two.info.build).toBe('simd-threads');
    expect(two.info.threadsNote).toBeUndefined();
    expect(one.info.threads).toBe(1);
    expect(one.kernels.threads).toBe(1);
  });

  /**
   * The last calling-thread call of `name` must cover only a first chunk: of the rows [0, r1) with
   * r1 < rows and every column, or (by = 'cols') of the columns [0, c1) with c1 < cols and every row.
   */
  function expectSplit(name: KernelName, by: 'rows' | 'cols', rows: number, cols: number, what: string): void {
    const list = rec.calls.get(name)!;
    const last = list[list.length - 1];
    expect(last, `${what}: ${name} was not called`).toBeDefined();
    const got = `rows [${last.r0}, ${last.r1}) × columns [${last.c0}, ${last.c1})`;
    if (by === 'rows') {
      expect(last.r0 === 0 && last.r1 < rows && last.c0 === 0 && last.c1 >= cols, `${what}: ${name} ran ${got} of ${rows}×${cols} on the calling thread, not a first chunk of rows`).toBe(true);
    } else {
      expect(last.c0 === 0 && last.c1 < cols && last.r0 === 0 && last.r1 === rows, `${what}: ${name} ran ${got} of ${rows}×${cols} on the calling thread, not a first chunk of columns`).toBe(true);
    }
    list.length = 0;
  }

  // [m, n, k]: m >= n splits the rows, m < n the columns (each thread then packs only its part of B).
  const shapes: [number, number, number][] = [
    [784, 256, 64], // a weight gradient: rows
    [64, 784, 256], // a batch of 64 through a wide layer: columns
    [300, 130, 260],
    [130, 260, 300],
    [1001, 9, 37], // odd rows: chunks of 504 and 497
    [9, 1001, 37], // odd columns: chunks of 504 and 497 (a partial 8-column strip)
    [2048, 8, 8], // exactly 2^17 multiply-adds, the smallest split
    [8, 2048, 8],
    [67, 515, 129],
  ];
  for (const layout of ['nn', 'nt', 'tn'] as MatmulLayout[]) {
    it(`matmul ${layout}`, () => {
      const r = new Rand(layout.charCodeAt(1));
      for (const [m, n, k] of shapes) {
        expect(m * n * k).toBeGreaterThanOrEqual(2 ** 17);
        for (const withBias of [false, true]) {
          const a = r.f32(m * k),
            b = r.f32(k * n),
            bias = r.f32(n),
            c0 = r.f32(m * n);
          const o = { m, n, k, layout, accumulate: withBias };
          const run = (rt: Runtime, K: Kernels) =>
            scoped(rt, () => {
              const c = rt.arena.f32From(c0);
              K.matmul(c, rt.arena.f32From(a), rt.arena.f32From(b), { ...o, bias: withBias ? rt.arena.f32From(bias) : undefined });
              return rt.arena.read(c);
            });
          const what = `${layout} ${m}×${n}×${k}${withBias ? ' +bias +accumulate' : ''}`;
          const single = run(one, one.kernels);
          expectBitwise(what, single, run(two, two.kernels));
          expectBitwise(`${what} (recorded)`, single, run(two, rec.kernels));
          expectSplit(`matmul_${layout}`, m < n ? 'cols' : 'rows', m, n, what);
        }
      }
    });
  }

  it('gatherRows (a batch of rows copied from a dataset in WebAssembly memory)', () => {
    const r = new Rand(11);
    for (const [rows, n, dim] of [
      [1000, 64, 784],
      [300, 37, 1280],
    ]) {
      const src = r.f32(rows * dim);
      const idx = Int32Array.from({ length: n }, () => Math.floor(r.next() * rows));
      const run = (rt: Runtime, K: Kernels) =>
        scoped(rt, () => {
          const out = rt.arena.f32(n * dim);
          K.gatherRows(out, rt.arena.f32From(src), rt.arena.i32From(idx), n, dim);
          return rt.arena.read(out);
        });
      const what = `gatherRows ${n} of ${rows} rows of ${dim}`;
      const single = run(one, one.kernels);
      expect(single.subarray(dim, 2 * dim)).toEqual(src.subarray(idx[1] * dim, (idx[1] + 1) * dim));
      expectBitwise(what, single, run(two, two.kernels));
      expectBitwise(`${what} (recorded)`, single, run(two, rec.kernels));
      expectSplit('gather_rows', 'rows', n, dim, what);
    }
  });

  it('maxPool (by samples) and the activations (element-wise)', () => {
    const r = new Rand(12);
    const s = { batch: 64, h: 28, w: 28, c: 8, k: 2 };
    const n = s.batch * s.h * s.w * s.c;
    const x = r.f32(n),
      dy = r.f32(n),
      d0 = r.f32(n);
    const run = (rt: Runtime, K: Kernels) =>
      scoped(rt, () => {
        const A = rt.arena;
        const m = n / 4; // 2×2 windows
        const out = A.f32(m),
          argmax = A.i32(m);
        const xb = A.f32From(x),
          dyb = A.f32From(dy);
        K.maxPool(out, argmax, xb, s);
        const res: Record<string, Float32Array> = { pool: A.read(out), argmax: Float32Array.from(A.viewI32(argmax)) };
        for (const [name, fwd, bwd] of [
          ['relu', K.relu, K.reluBackward],
          ['gelu', K.gelu, K.geluBackward],
        ] as const) {
          const y = A.f32(n),
            dx = A.f32From(d0);
          fwd.call(K, y, xb);
          bwd.call(K, dx, dyb, xb);
          res[name] = A.read(y);
          res[`${name}Backward`] = A.read(dx);
        }
        return res;
      });
    const single = run(one, one.kernels);
    for (const [label, got] of [
      ['', run(two, two.kernels)],
      [' (recorded)', run(two, rec.kernels)],
    ] as const) {
      for (const key of Object.keys(single)) expectBitwise(`${key}${label}`, single[key], got[key]);
    }
    expectSplit('max_pool_forward', 'rows', s.batch, s.c, 'maxPool (by samples)');
  });

  const convShapes: ConvShape[] = [
    { batch: 8, h: 28, w: 28, c: 3, outChannels: 16, kh: 5, kw: 5, pad: 2 },
    { batch: 16, h: 15, w: 13, c: 4, outChannels: 7, kh: 3, kw: 3, stride: 2, pad: 1 },
  ];
  it('conv2d forward and backward', () => {
    const r = new Rand(5);
    for (const s of convShapes) {
      const { rows, kk } = convGeometry(s);
      const oc = s.outChannels;
      const x = r.f32(s.batch * s.h * s.w * s.c),
        w = r.f32(kk * oc),
        bias = r.f32(oc),
        dout = r.f32(rows * oc),
        dx0 = r.f32(x.length),
        dw0 = r.f32(w.length),
        db0 = r.f32(oc);
      const run = (rt: Runtime, K: Kernels) =>
        scoped(rt, () => {
          const A = rt.arena;
          const out = A.f32(rows * oc),
            col = A.f32(rows * kk),
            dcol = A.f32(rows * kk),
            wb = A.f32From(w);
          K.conv2d(out, A.f32From(x), wb, A.f32From(bias), col, s);
          const dx = A.f32From(dx0),
            dw = A.f32From(dw0),
            db = A.f32From(db0);
          K.conv2dBackward(dx, dw, db, A.f32From(dout), col, wb, dcol, s);
          return { out: A.read(out), col: A.read(col), dx: A.read(dx), dw: A.read(dw), dbias: A.read(db), dcol: A.read(dcol) };
        });
      const what = `conv2d ${s.batch}×${s.h}×${s.w}×${s.c} → ${oc}, k${s.kh}×${s.kw} stride ${s.stride ?? 1} pad ${s.pad ?? 0}`;
      const single = run(one, one.kernels);
      for (const [label, got] of [
        ['', run(two, two.kernels)],
        [' (recorded)', run(two, rec.kernels)],
      ] as const) {
        for (const key of Object.keys(single) as (keyof typeof single)[]) expectBitwise(`${what}${label} ${key}`, single[key], got[key]);
      }
      expectSplit('im2col', 'rows', rows, kk, `${what} im2col`);
      // conv2d: matmul_nn (rows × oc × kk); backward: matmul_tn (kk × oc × rows) and matmul_nt (rows × kk × oc)
      expectSplit('matmul_nn', 'rows', rows, oc, `${what} forward matmul`);
      expectSplit('matmul_tn', 'rows', kk, oc, `${what} dw matmul`);
      expectSplit('matmul_nt', 'rows', rows, kk, `${what} dcol matmul`);
      expectSplit('col2im', 'rows', s.batch, kk, `${what} col2im (by samples)`);
    }
  });
});
