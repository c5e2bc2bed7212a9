// The typed wrappers reject bad calls before any kernel runs, with messages that name the shapes:
// mismatched lengths, non-integer or negative sizes, out-of-range labels and argmax indices, buffers
// outside WebAssembly memory or of the wrong kind, and out-of-range scalars.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import { ShapeError, type F32, type I32 } from '../src/engine.js';

describe('the wrappers reject bad calls with messages naming the shapes', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await createRuntime({ threads: 1, build: 'simd' });
  });
  afterAll(() => rt?.dispose());

  const f32 = (n: number, v = 0) => rt.arena.f32From(new Float32Array(n).fill(v));
  /** The error `fn` throws (failing if it does not throw). */
  const thrown = (fn: () => unknown): Error => {
    try {
      fn();
    } catch (e) {
      return e as Error;
    }
    throw new Error('expected the call to throw');
  };

  it('matmul: wrong A, B, C and bias lengths name m×k, k×m, k×n, n×k, m×n and n', () => {
    const K = rt.kernels;
    const [m, n, k] = [3, 5, 4];
    let e = thrown(() => K.matmul(f32(m * n), f32(m * k - 1), f32(k * n), { m, n, k }));
    expect(e).toBeInstanceOf(ShapeError);
    expect((e as ShapeError).code).toBe('SHAPE_MISMATCH');
    expect(e.message).toContain('m×k');
    expect(e.message).toBe('matmul: A has 11 elements, expected m×k = 3×4 = 12');
    expect(() => K.matmul(f32(m * n), f32(m * k + 1), f32(k * n), { m, n, k, layout: 'tn' })).toThrow(/A has 13 elements, expected k×m = 4×3 = 12/);
    expect(() => K.matmul(f32(m * n), f32(m * k), f32(k * n + 2), { m, n, k })).toThrow(/B has 22 elements, expected k×n = 4×5 = 20/);
    expect(() => K.matmul(f32(m * n), f32(m * k), f32(k * n - 3), { m, n, k, layout: 'nt' })).toThrow(/B has 17 elements, expected n×k = 5×4 = 20/);
    expect(() => K.matmul(f32(m * n + 1), f32(m * k), f32(k * n), { m, n, k })).toThrow(/C has 16 elements, expected m×n = 3×5 = 15/);
    expect(() => K.matmul(f32(m * n), f32(m * k), f32(k * n), { m, n, k, bias: f32(n - 1) })).toThrow(/bias has 4 elements, expected n = 5/);
    expect(() => K.matmul(f32(m * n), f32(m * k), f32(k * n), { m, n, k, layout: 'tt' as never })).toThrow(/layout must be 'nn', 'nt' or 'tn'/);
  });

  it('a rejected call writes nothing', () => {
    const c = f32(15, 7);
    expect(() => rt.kernels.matmul(c, f32(12, 1), f32(20, 1), { m: 3, n: 5, k: 4, bias: f32(6, 1) })).toThrow(ShapeError);
    expect(rt.arena.read(c)).toEqual(new Float32Array(15).fill(7));
  });

  it('sizes must be whole numbers >= 0', () => {
    const K = rt.kernels;
    expect(() => K.matmul(f32(0), f32(0), f32(0), { m: 2.5, n: 0, k: 0 })).toThrow(/matmul: m must be a whole number >= 0, got 2.5/);
    expect(() => K.matmul(f32(0), f32(0), f32(0), { m: 0, n: 0, k: -1 })).toThrow(/k must be a whole number >= 0, got -1/);
    expect(() => K.matmul(f32(0), f32(0), f32(0), { m: 0, n: NaN, k: 0 })).toThrow(/n must be a whole number >= 0, got NaN/);
    expect(() => K.softmax(f32(6), f32(6), 1.5, 4)).toThrow(/softmax: rows must be a whole number >= 0, got 1.5/);
    expect(() => K.softmax(f32(6), f32(6), 2, 3.5)).toThrow(ShapeError);
    const s = { batch: 1, h: 4, w: 4, c: 1, outChannels: 1, kh: 3, kw: 3 };
    expect(() => K.conv2d(f32(4), f32(16), f32(9), null, f32(36), { ...s, c: 0.5 })).toThrow(/conv2d: c must be a whole number >= 0, got 0.5/);
    expect(() => K.conv2d(f32(4), f32(16), f32(9), null, f32(36), { ...s, stride: 1.5 })).toThrow(/stride must be a whole number >= 1, got 1.5/);
    expect(() => K.conv2d(f32(4), f32(16), f32(9), null, f32(36), { ...s, pad: -1 })).toThrow(/pad must be a whole number >= 0, got -1/);
    expect(() => K.maxPool(f32(4), rt.arena.i32(4), f32(16), { batch: 1, h: 4, w: 4, c: 1, k: 2.5 })).toThrow(/maxPool: k must be a whole number >= 0, got 2.5/);
  });

  it('row-wise kernels name rows×cols; element-wise ones name the mismatched lengths', () => {
    const K = rt.kernels;
    expect(() => K.softmax(f32(6), f32(5), 2, 3)).toThrow(/softmax: x has 5 elements, expected rows×cols = 2×3 = 6/);
    expect(() => K.logSoftmaxBackward(f32(6), f32(6), f32(7), 2, 3)).toThrow(/logSoftmaxBackward: y has 7 elements, expected rows×cols = 2×3 = 6/);
    expect(() => K.biasAdd(f32(6), f32(6), f32(4), 2, 3)).toThrow(/biasAdd: bias has 4 elements, expected cols = 3/);
    expect(() => K.biasAddBackward(f32(3), f32(5), 2, 3)).toThrow(/dout has 5 elements, expected rows×cols = 2×3 = 6/);
    expect(() => K.relu(f32(3), f32(4))).toThrow(/relu: out and x must have the same length, got 3, 4/);
    expect(() => K.geluBackward(f32(3), f32(3), f32(2))).toThrow(/dx, dout and x must have the same length, got 3, 3, 2/);
    expect(() => K.dot(f32(3), f32(4))).toThrow(/dot: x and y must have the same length/);
    expect(() => K.sgdStep(f32(3), f32(3), f32(2), { lr: 0.1 })).toThrow(/params, grads and velocity must have the same length, got 3, 3, 2/);
    expect(() => K.standardize(f32(6), f32(2), f32(6), 2, 3)).toThrow(/standardize: invstd has 2 elements, expected cols = 3/);
    expect(() => K.crossCorrelation(f32(6), f32(8), f32(2), f32(8), f32(11), 4, 2, 3)).toThrow(/crossCorrelation: ghat has 11 elements, expected rows×d2 = 4×3 = 12/);
    expect(() => K.crossCorrelation(f32(5), f32(8), f32(2), f32(8), f32(12), 4, 2, 3)).toThrow(/c has 5 elements, expected d1×d2 = 2×3 = 6/);
    expect(() => K.jsDivergence(f32(6), f32(6), f32(4), 2, 3)).toThrow(/jsDivergence: zm has 4 elements, expected rows×cols = 2×3 = 6/);
  });

  it('conv2d and maxPool name their geometry', () => {
    const K = rt.kernels;
    const s = { batch: 2, h: 4, w: 4, c: 3, outChannels: 5, kh: 3, kw: 3, pad: 1 }; // ho = wo = 4, rows 32, kk 27
    expect(() => K.conv2d(f32(32 * 5), f32(2 * 4 * 4 * 3 - 1), f32(27 * 5), null, f32(32 * 27), s)).toThrow(/conv2d: x has 95 elements, expected batch×h×w×c = 2×4×4×3 = 96/);
    expect(() => K.conv2d(f32(32 * 5), f32(96), f32(27 * 5), null, f32(32 * 27 - 1), s)).toThrow(/col has 863 elements, expected \(batch·ho·wo\)×\(kh·kw·c\) = 32×27 = 864/);
    expect(() => K.conv2d(f32(32 * 5), f32(96), f32(27 * 4), null, f32(32 * 27), s)).toThrow(/B has 108 elements, expected k×n = 27×5 = 135/);
    expect(() => K.conv2d(f32(1), f32(9), f32(25), null, f32(25), { batch: 1, h: 3, w: 3, c: 1, outChannels: 1, kh: 5, kw: 5 })).toThrow(/a 5×5 kernel with pad 0 does not fit a 3×3 input/);
    expect(() => K.maxPool(f32(4), rt.arena.i32(4), f32(9), { batch: 1, h: 3, w: 3, c: 1, k: 4 })).toThrow(/maxPool: window 4 \(stride 4\) does not fit a 3×3 input/);
    expect(() => K.maxPool(f32(4), rt.arena.i32(3), f32(16), { batch: 1, h: 4, w: 4, c: 1, k: 2 })).toThrow(/argmax has 3 elements, expected batch×ho×wo×c = 1×2×2×1 = 4/);
    const argmax = rt.arena.i32From([0, 100, 2]);
    expect(() => K.maxPoolBackward(f32(10), f32(3), argmax)).toThrow(/maxPoolBackward: argmax\[1\] = 100 is outside dx \(10 elements\)/);
    expect(() => K.maxPoolBackward(f32(10), f32(3), rt.arena.i32From([0, 1, -1]))).toThrow(/argmax\[2\] = -1 is outside dx/);
  });

  it('labels outside [0, cols) are rejected with the row', () => {
    const K = rt.kernels;
    expect(() => K.softmaxCrossEntropy(f32(9), f32(9), rt.arena.i32From([0, 3, 1]), 3, 3)).toThrow(/softmaxCrossEntropy: label 3 in row 1 is outside \[0, 3\)/);
    expect(() => K.softmaxCrossEntropy(f32(9), f32(9), rt.arena.i32From([0, 1, -2]), 3, 3)).toThrow(/label -2 in row 2 is outside \[0, 3\)/);
    expect(() => K.softmaxCrossEntropyBackward(f32(9), f32(9), rt.arena.i32From([7, 0, 0]), 3, 3)).toThrow(/softmaxCrossEntropyBackward: label 7 in row 0 is outside \[0, 3\)/);
    expect(() => K.softmaxCrossEntropy(f32(9), f32(9), rt.arena.i32From([0, 1]), 3, 3)).toThrow(/labels has 2 elements, expected rows = 3/);
  });

  it('buffers outside WebAssembly memory, misaligned, or of the wrong kind', () => {
    const K = rt.kernels;
    const cap = rt.arena.capacityBytes;
    const past: F32 = { ptr: cap - 8, length: 4, kind: 'f32' }; // starts inside memory, ends 8 bytes past it
    expect(() => K.relu(past, past)).toThrow(RangeError);
    expect(() => K.relu(past, past)).toThrow(new RegExp(`relu: out \\(offset ${cap - 8}, 4 elements\\) lies outside WebAssembly memory \\(${cap} bytes\\)`));
    expect(() => K.matmul(f32(4), { ptr: cap, length: 4, kind: 'f32' }, f32(4), { m: 2, n: 2, k: 2 })).toThrow(/matmul: A \(offset \d+, 4 elements\) lies outside WebAssembly memory/);
    expect(() => K.sumsq({ ptr: 0, length: 2, kind: 'f32' })).toThrow(/lies outside WebAssembly memory/); // below the arena: 0 means "no buffer"
    expect(() => K.sumsq({ ptr: 2050, length: 2, kind: 'f32' })).toThrow(/offset 2050/); // not 4-byte aligned
    expect(() => K.fill({ ptr: 1024.5, length: 1, kind: 'f32' }, 0)).toThrow(RangeError);
    const i32 = rt.arena.i32(4);
    expect(() => K.relu(i32 as unknown as F32, f32(4))).toThrow(/relu: out must be an f32 buffer, got i32/);
    expect(() => K.permutation(f32(4) as unknown as I32, K.rng(1))).toThrow(/permutation: out must be an i32 buffer, got f32/);
    expect(() => K.sumsq({} as F32)).toThrow(/sumsq: x must be a f32 buffer from the runtime's arena/);
    const state: I32 = { ptr: cap - 4, length: 4, kind: 'i32' };
    expect(() => K.rngNext(state)).toThrow(/rngNext: state .* lies outside WebAssembly memory/);
  });

  it('scalars out of range', () => {
    const K = rt.kernels;
    expect(() => K.dropout(f32(4), f32(4), f32(4), 1, K.rng(1))).toThrow(/dropout: p must be in \[0, 1\), got 1/);
    expect(() => K.dropout(f32(4), f32(4), f32(4), -0.1, K.rng(1))).toThrow(RangeError);
    expect(() => K.adamwStep(f32(2), f32(2), f32(2), f32(2), { lr: 0.1, step: 0 })).toThrow(/adamwStep: step must be a whole number >= 1, got 0/);
    expect(() => K.adamwStep(f32(2), f32(2), f32(2), f32(2), { lr: 0.1, step: 1, beta1: 1 })).toThrow(/beta1 and beta2 must be in \[0, 1\)/);
    expect(() => K.sgdStep(f32(2), f32(2), f32(2), { lr: NaN })).toThrow(/sgdStep: lr must be a finite number, got NaN/);
    expect(() => K.scale(f32(2), Infinity)).toThrow(/scale: a must be a finite number/);
    expect(() => K.klDivergence(f32(4), f32(4), f32(4), 2, 2, { temperature: 0 })).toThrow(/klDivergence: temperature must be > 0, got 0/);
    expect(() => K.jsDivergence(f32(4), f32(4), f32(4), 2, 2, { eps: 1 })).toThrow(/eps must be in \(0, 1\), got 1/);
    expect(() => K.rng(1.5)).toThrow(/rng: seed and stream must be whole numbers/);
  });
});
