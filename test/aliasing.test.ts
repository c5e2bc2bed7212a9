// The aliasing contract of every kernel wrapper (src/kernels/ops/<family>.ts, "Aliasing:" in each doc comment).
// CONTRACTS below declares, per public method of Kernels, the buffers it writes and reads and the
// (written, read) pairs that may be the very same buffer. Then, in the scalar and SIMD builds and on
// 2 threads (simd-threads, shapes large enough that the element-wise and range kernels are split):
//   - every written buffer aliased exactly to every other buffer of the same length: a declared pair
//     gives the same bits as with a separate buffer holding the same values (and, on 2 threads, the
//     call was split); any other pair throws AliasingError (code ALIASED_BUFFERS) and runs no kernel;
//   - every written buffer shifted by one element against every other buffer (either direction)
//     throws AliasingError: a partial overlap is never allowed;
//   - two inputs of the same kind and length aliased: never rejected, same bits (inputs only read).
// A new wrapper or kernel without a contract fails the first test.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import { Kernels, KERNEL_NAMES, KERNELS, type ConvShape, type F32, type I32, type KernelName, type MatmulLayout } from '../src/engine.js';
import { AliasingError } from '../src/kernels/ops.js';
import { MATMUL_SCRATCH_FLOATS } from '../src/kernels/reference/index.js';
import type { RawKernels } from '../src/kernels/spec.js';
import type { WorkerPool } from '../src/runtime/pool.js';
import { firstBitDifference, Rand, scoped } from './helpers.js';

type Buf = F32 | I32;
type Data = Float32Array | Int32Array;
type Bufs = Record<string, Buf>;

/** One call of a wrapper: the initial contents of its buffers by name, and the call over buffers of those names. */
interface Shape {
  label: string;
  data: Record<string, Data>;
  call(K: Kernels, b: Bufs): number | void;
  /** Buffers this call does not use (e.g. dcol without dx): no aliasing is checked for them. */
  unused?: readonly string[];
  /** Large enough to be split over 2 threads. */
  big?: boolean;
}
interface Contract {
  /** Exports of the module the wrapper calls (checked against the calls it makes). */
  kernels: readonly KernelName[];
  /** Buffers the wrapper writes (outputs, accumulators, generator states, scratch). */
  writes: readonly string[];
  /** Buffers it only reads. */
  reads: readonly string[];
  /** [written, read] pairs that may be the very same buffer (same offset and length). */
  inPlace: readonly (readonly [string, string])[];
  /** Shapes to run; with `big`, also shapes that split over 2 threads (for the split kernels). */
  shapes(r: Rand, big: boolean): Shape[];
}

/** Public methods of Kernels. */
type Wrapper = { [K in keyof Kernels]: Kernels[K] extends (...a: never[]) => unknown ? K : never }[keyof Kernels];

// ---- data -------------------------------------------------------------------------------------

const BIG = 70_001; // element-wise kernels split from 2^16 elements; not a multiple of 4
/** rows×cols probabilities (each row positive, summing to about 1). */
function probs(r: Rand, rows: number, cols: number): Float32Array {
  const p = r.f32(rows * cols, 0.05, 1);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += p[i * cols + j];
    for (let j = 0; j < cols; j++) p[i * cols + j] /= s;
  }
  return p;
}
/** A generator state (4 words, not all zero). */
const rngState = (r: Rand) => Int32Array.from({ length: 4 }, () => r.int(1, 0x7fffffff));
const sizes = (s: ConvShape) => {
  const stride = s.stride ?? 1,
    pad = s.pad ?? 0;
  const ho = Math.floor((s.h + 2 * pad - s.kh) / stride) + 1,
    wo = Math.floor((s.w + 2 * pad - s.kw) / stride) + 1;
  return { x: s.batch * s.h * s.w * s.c, rows: s.batch * ho * wo, kk: s.kh * s.kw * s.c, out: s.batch * ho * wo * s.outChannels };
};

/** A unary element-wise forward (out = f(x)) and its backward (dx += dout·f'(x)). */
const unary = (name: 'relu' | 'gelu'): [Contract, Contract] => [
  {
    kernels: [`${name}_forward`],
    writes: ['out'],
    reads: ['x'],
    inPlace: [['out', 'x']],
    shapes: (r, big) =>
      [37, ...(big ? [BIG] : [])].map((n) => ({ label: `n=${n}`, big: n === BIG, data: { out: r.f32(n), x: r.f32(n, -3, 3) }, call: (K, b) => K[name](b.out as F32, b.x as F32) })),
  },
  {
    kernels: [`${name}_backward`],
    writes: ['dx'],
    reads: ['dout', 'x'],
    inPlace: [
      ['dx', 'dout'],
      ['dx', 'x'],
    ],
    shapes: (r, big) =>
      [37, ...(big ? [BIG] : [])].map((n) => ({
        label: `n=${n}`,
        big: n === BIG,
        data: { dx: r.f32(n), dout: r.f32(n), x: r.f32(n, -3, 3) },
        call: (K, b) => (name === 'relu' ? K.reluBackward(b.dx as F32, b.dout as F32, b.x as F32) : K.geluBackward(b.dx as F32, b.dout as F32, b.x as F32)),
      })),
  },
];
const [relu, reluBackward] = unary('relu');
const [gelu, geluBackward] = unary('gelu');

/** A row-wise kernel over (rows, cols) buffers. */
function rowwise(kernel: KernelName, writes: string[], reads: string[], inPlace: [string, string][], make: (r: Rand, rows: number, cols: number) => Record<string, Data>, call: (K: Kernels, b: Bufs, rows: number, cols: number) => number | void, shapes: [number, number][] = [[3, 5], [1, 1]]): Contract {
  return { kernels: [kernel], writes, reads, inPlace, shapes: (r) => shapes.map(([rows, cols]) => ({ label: `${rows}×${cols}`, data: make(r, rows, cols), call: (K, b) => call(K, b, rows, cols) })) };
}

const conv1: ConvShape = { batch: 1, h: 1, w: 1, c: 1, outChannels: 1, kh: 1, kw: 1 }; // every buffer 1 element
const conv2: ConvShape = { batch: 2, h: 4, w: 4, c: 2, outChannels: 3, kh: 3, kw: 3, pad: 1 };
const conv3: ConvShape = { batch: 1, h: 4, w: 4, c: 2, outChannels: 2, kh: 3, kw: 3, pad: 1 }; // out and x both 32
const convBig: ConvShape = { batch: 8, h: 12, w: 12, c: 4, outChannels: 8, kh: 3, kw: 3, pad: 1 };

const sgdOpts = { lr: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true };
const adamOpts = { lr: 0.01, step: 3, weightDecay: 0.01 };
const div = { temperature: 2 };

// ---- the contracts ----------------------------------------------------------------------------

const CONTRACTS: { [K in Wrapper]: Contract } = {
  matmul: {
    kernels: ['matmul_nn', 'matmul_nt', 'matmul_tn'],
    writes: ['C'],
    reads: ['A', 'B', 'bias'],
    inPlace: [],
    shapes: (r, big) => {
      // [m, n, k]: C = A when n = k, C = B when m = k, C = bias when m = 1; all equal at 1×1×1.
      const mnk: [number, number, number][] = [[3, 5, 5], [5, 3, 5], [1, 5, 3], [1, 1, 1], ...(big ? [[64, 70, 40] as [number, number, number], [9, 600, 40] as [number, number, number]] : [])];
      return (['nn', 'nt', 'tn'] as MatmulLayout[]).flatMap((layout) =>
        mnk.map(([m, n, k], i) => ({
          label: `${layout} m=${m} n=${n} k=${k}`,
          big: m * n * k >= 2 ** 17,
          data: { C: r.f32(m * n), A: r.f32(m * k), B: r.f32(k * n), bias: r.f32(n) },
          call: (K: Kernels, b: Bufs) => K.matmul(b.C as F32, b.A as F32, b.B as F32, { m, n, k, layout, bias: b.bias as F32, accumulate: i % 2 === 1 }),
        })),
      );
    },
  },
  linearBackward: {
    kernels: ['matmul_tn', 'bias_add_backward', 'matmul_nt'],
    writes: ['dx', 'dw', 'dbias'],
    reads: ['dy', 'x', 'w'],
    inPlace: [],
    // [rows, in, out]: every pair has the same length in one of them (e.g. dx = dw when rows = out).
    shapes: (r, big) =>
      ([[3, 4, 3], [3, 3, 5], [2, 2, 2], [1, 2, 2], [4, 1, 3], [1, 1, 1], ...(big ? [[80, 64, 40]] : [])] as [number, number, number][]).flatMap(([rows, inF, outF]) =>
        [true, false].map((withDx) => ({
          label: `rows=${rows} in=${inF} out=${outF}${withDx ? '' : ' dx=null'}`,
          big: rows * inF * outF >= 2 ** 17,
          unused: withDx ? [] : ['dx'],
          data: { dx: r.f32(rows * inF), dw: r.f32(inF * outF), dbias: r.f32(outF), dy: r.f32(rows * outF), x: r.f32(rows * inF), w: r.f32(inF * outF) },
          call: (K: Kernels, b: Bufs) => K.linearBackward(withDx ? (b.dx as F32) : null, b.dw as F32, b.dbias as F32, b.dy as F32, b.x as F32, b.w as F32, rows, inF, outF),
        })),
      ),
  },
  rowNormalize: rowwise('row_normalize_forward', ['h'], ['f'], [['h', 'f']], (r, rows, cols) => ({ h: r.f32(rows * cols), f: r.f32(rows * cols) }), (K, b, rows, cols) => K.rowNormalize(b.h as F32, b.f as F32, rows, cols)),
  rowNormalizeBackward: rowwise('row_normalize_backward', ['df'], ['dh', 'h', 'f'], [], (r, rows, cols) => ({ df: r.f32(rows * cols), dh: r.f32(rows * cols), h: r.f32(rows * cols), f: r.f32(rows * cols) }), (K, b, rows, cols) => K.rowNormalizeBackward(b.df as F32, b.dh as F32, b.h as F32, b.f as F32, rows, cols)),
  sampleStd: { kernels: ['sample_std'], writes: [], reads: ['x'], inPlace: [], shapes: (r) => [{ label: 'n=37', data: { x: r.f32(37) }, call: (K, b) => K.sampleStd(b.x as F32) }] },
  labelProbSum: { kernels: ['label_prob_sum'], writes: [], reads: ['p', 'labels'], inPlace: [], shapes: (r) => [{ label: '5×4', data: { p: r.f32(20), labels: Int32Array.from({ length: 5 }, () => r.int(0, 3)) }, call: (K, b) => K.labelProbSum(b.p as F32, b.labels as I32, 5, 4) }] },
  biasAddScaled: rowwise('bias_add_scaled', ['out'], ['bias'], [], (r, rows, cols) => ({ out: r.f32(rows * cols), bias: r.f32(cols) }), (K, b, rows, cols) => K.biasAddScaled(b.out as F32, b.bias as F32, rows, cols, 3), [
    [3, 5],
    [1, 4],
  ]),
  biasAdd: rowwise('bias_add_forward', ['out'], ['x', 'bias'], [['out', 'x']], (r, rows, cols) => ({ out: r.f32(rows * cols), x: r.f32(rows * cols), bias: r.f32(cols) }), (K, b, rows, cols) => K.biasAdd(b.out as F32, b.x as F32, b.bias as F32, rows, cols), [
    [3, 5],
    [1, 6],
  ]),
  biasAddBackward: rowwise('bias_add_backward', ['dbias'], ['dout'], [], (r, rows, cols) => ({ dbias: r.f32(cols), dout: r.f32(rows * cols) }), (K, b, rows, cols) => K.biasAddBackward(b.dbias as F32, b.dout as F32, rows, cols), [
    [3, 5],
    [1, 4],
  ]),
  relu,
  reluBackward,
  gelu,
  geluBackward,
  dropout: {
    kernels: ['dropout_forward'],
    writes: ['out', 'mask', 'rng'],
    reads: ['x'],
    inPlace: [['out', 'x']],
    shapes: (r) => [37, 4].map((n) => ({ label: `n=${n}`, data: { out: r.f32(n), mask: r.f32(n), x: r.f32(n), rng: rngState(r) }, call: (K, b) => K.dropout(b.out as F32, b.mask as F32, b.x as F32, 0.3, b.rng as I32) })),
  },
  dropoutBackward: {
    kernels: ['dropout_backward'],
    writes: ['dx'],
    reads: ['dout', 'mask'],
    inPlace: [
      ['dx', 'dout'],
      ['dx', 'mask'],
    ],
    shapes: (r) => [{ label: 'n=37', data: { dx: r.f32(37), dout: r.f32(37), mask: Float32Array.from(r.f32(37), (v) => (v > 0 ? 1 / 0.7 : 0)) }, call: (K, b) => K.dropoutBackward(b.dx as F32, b.dout as F32, b.mask as F32) }],
  },
  softmax: rowwise('softmax_forward', ['out'], ['x'], [], (r, rows, cols) => ({ out: r.f32(rows * cols), x: r.f32(rows * cols, -4, 4) }), (K, b, rows, cols) => K.softmax(b.out as F32, b.x as F32, rows, cols)),
  softmaxBackward: rowwise(
    'softmax_backward',
    ['dx'],
    ['dy', 'y'],
    [
      ['dx', 'dy'],
      ['dx', 'y'],
    ],
    (r, rows, cols) => ({ dx: r.f32(rows * cols), dy: r.f32(rows * cols), y: probs(r, rows, cols) }),
    (K, b, rows, cols) => K.softmaxBackward(b.dx as F32, b.dy as F32, b.y as F32, rows, cols),
  ),
  logSoftmax: rowwise('log_softmax_forward', ['out'], ['x'], [['out', 'x']], (r, rows, cols) => ({ out: r.f32(rows * cols), x: r.f32(rows * cols, -4, 4) }), (K, b, rows, cols) => K.logSoftmax(b.out as F32, b.x as F32, rows, cols)),
  logSoftmaxBackward: rowwise(
    'log_softmax_backward',
    ['dx'],
    ['dy', 'y'],
    [
      ['dx', 'dy'],
      ['dx', 'y'],
    ],
    (r, rows, cols) => ({ dx: r.f32(rows * cols), dy: r.f32(rows * cols), y: Float32Array.from(probs(r, rows, cols), Math.log) }),
    (K, b, rows, cols) => K.logSoftmaxBackward(b.dx as F32, b.dy as F32, b.y as F32, rows, cols),
  ),
  softmaxCrossEntropy: rowwise(
    'softmax_cross_entropy_forward',
    ['probs'],
    ['logits', 'labels'],
    [],
    (r, rows, cols) => ({ probs: r.f32(rows * cols), logits: r.f32(rows * cols, -4, 4), labels: r.ints(rows, cols) }),
    (K, b, rows, cols) => K.softmaxCrossEntropy(b.probs as F32, b.logits as F32, b.labels as I32, rows, cols),
    [
      [3, 5],
      [4, 1], // probs and labels both 4 elements
    ],
  ),
  softmaxCrossEntropyBackward: rowwise(
    'softmax_cross_entropy_backward',
    ['dlogits'],
    ['probs', 'labels'],
    [['dlogits', 'probs']],
    (r, rows, cols) => ({ dlogits: r.f32(rows * cols), probs: probs(r, rows, cols), labels: r.ints(rows, cols) }),
    (K, b, rows, cols) => K.softmaxCrossEntropyBackward(b.dlogits as F32, b.probs as F32, b.labels as I32, rows, cols, 0.7),
    [
      [3, 5],
      [4, 1],
    ],
  ),
  jsDivergence: rowwise('js_divergence_forward', ['pm'], ['pa', 'zm'], [], (r, rows, cols) => ({ pm: r.f32(rows * cols), pa: probs(r, rows, cols), zm: r.f32(rows * cols, -4, 4) }), (K, b, rows, cols) => K.jsDivergence(b.pm as F32, b.pa as F32, b.zm as F32, rows, cols, div)),
  jsDivergenceBackward: rowwise(
    'js_divergence_backward',
    ['dzm'],
    ['pa', 'pm'],
    [
      ['dzm', 'pa'],
      ['dzm', 'pm'],
    ],
    (r, rows, cols) => ({ dzm: r.f32(rows * cols), pa: probs(r, rows, cols), pm: probs(r, rows, cols) }),
    (K, b, rows, cols) => K.jsDivergenceBackward(b.dzm as F32, b.pa as F32, b.pm as F32, rows, cols, { ...div, scale: 0.7 }),
  ),
  klDivergence: rowwise('kl_divergence_forward', ['pm'], ['pa', 'zm'], [], (r, rows, cols) => ({ pm: r.f32(rows * cols), pa: probs(r, rows, cols), zm: r.f32(rows * cols, -4, 4) }), (K, b, rows, cols) => K.klDivergence(b.pm as F32, b.pa as F32, b.zm as F32, rows, cols, div)),
  klDivergenceBackward: rowwise(
    'kl_divergence_backward',
    ['dzm'],
    ['pa', 'pm'],
    [
      ['dzm', 'pa'],
      ['dzm', 'pm'],
    ],
    (r, rows, cols) => ({ dzm: r.f32(rows * cols), pa: probs(r, rows, cols), pm: probs(r, rows, cols) }),
    (K, b, rows, cols) => K.klDivergenceBackward(b.dzm as F32, b.pa as F32, b.pm as F32, rows, cols, { ...div, scale: 0.7 }),
  ),
  entropy: rowwise('entropy', [], ['p'], [], (r, rows, cols) => ({ p: probs(r, rows, cols) }), (K, b, rows, cols) => K.entropy(b.p as F32, rows, cols)),
  standardize: rowwise(
    'standardize_forward',
    ['xhat', 'invstd'],
    ['x'],
    [['xhat', 'x']],
    (r, rows, cols) => ({ xhat: r.f32(rows * cols), invstd: r.f32(cols), x: r.f32(rows * cols, -2, 3) }),
    (K, b, rows, cols) => K.standardize(b.xhat as F32, b.invstd as F32, b.x as F32, rows, cols),
    [
      [4, 3],
      [1, 5], // invstd, x and xhat all 5 elements
    ],
  ),
  standardizeBackward: rowwise(
    'standardize_backward',
    ['dx'],
    ['dxhat', 'xhat', 'invstd'],
    [
      ['dx', 'dxhat'],
      ['dx', 'xhat'],
    ],
    (r, rows, cols) => ({ dx: r.f32(rows * cols), dxhat: r.f32(rows * cols), xhat: r.f32(rows * cols, -2, 2), invstd: r.f32(cols, 0.5, 2) }),
    (K, b, rows, cols) => K.standardizeBackward(b.dx as F32, b.dxhat as F32, b.xhat as F32, b.invstd as F32, rows, cols),
    [
      [4, 3],
      [1, 5],
    ],
  ),
  crossCorrelation: {
    kernels: ['cross_correlation_forward'],
    writes: ['c', 'fhat', 'invstd'],
    reads: ['f', 'ghat'],
    inPlace: [['fhat', 'f']],
    // [rows, d1, d2]: 3,3,3 makes c, fhat, f and ghat equal; 1,4,1 adds invstd; 1,2,2 invstd = ghat.
    shapes: (r) =>
      [
        [3, 3, 3],
        [1, 4, 1],
        [1, 2, 2],
        [5, 3, 4],
      ].map(([rows, d1, d2]) => ({
        label: `rows=${rows} d1=${d1} d2=${d2}`,
        data: { c: r.f32(d1 * d2), fhat: r.f32(rows * d1), invstd: r.f32(d1), f: r.f32(rows * d1, -2, 3), ghat: r.f32(rows * d2, -2, 2) },
        call: (K: Kernels, b: Bufs) => K.crossCorrelation(b.c as F32, b.fhat as F32, b.invstd as F32, b.f as F32, b.ghat as F32, rows, d1, d2),
      })),
  },
  crossCorrelationBackward: {
    kernels: ['cross_correlation_backward'],
    writes: ['df', 'work'],
    reads: ['c', 'fhat', 'invstd', 'ghat'],
    inPlace: [['df', 'fhat']],
    shapes: (r) =>
      [
        [3, 3, 3],
        [1, 4, 1],
        [5, 3, 4],
      ].map(([rows, d1, d2]) => ({
        label: `rows=${rows} d1=${d1} d2=${d2}`,
        data: { df: r.f32(rows * d1), work: r.f32(rows * d1), c: r.f32(d1 * d2), fhat: r.f32(rows * d1, -2, 2), invstd: r.f32(d1, 0.5, 2), ghat: r.f32(rows * d2, -2, 2) },
        call: (K: Kernels, b: Bufs) => K.crossCorrelationBackward(b.df as F32, b.c as F32, b.fhat as F32, b.invstd as F32, b.ghat as F32, rows, d1, d2, 0.7, b.work as F32),
      })),
  },
  conv2d: {
    kernels: ['im2col', 'matmul_nn'],
    writes: ['out', 'col'],
    reads: ['x', 'w', 'bias'],
    inPlace: [],
    shapes: (r, big) =>
      [conv1, conv2, conv3, ...(big ? [convBig] : [])].map((s) => {
        const z = sizes(s);
        return {
          label: JSON.stringify(s),
          big: s === convBig,
          data: { out: r.f32(z.out), col: r.f32(z.rows * z.kk), x: r.f32(z.x), w: r.f32(z.kk * s.outChannels), bias: r.f32(s.outChannels) },
          call: (K: Kernels, b: Bufs) => K.conv2d(b.out as F32, b.x as F32, b.w as F32, b.bias as F32, b.col as F32, s),
        };
      }),
  },
  conv2dBackward: {
    kernels: ['matmul_tn', 'bias_add_backward', 'matmul_nt', 'col2im'],
    writes: ['dx', 'dw', 'dbias', 'dcol'],
    reads: ['dout', 'col', 'w'],
    inPlace: [],
    shapes: (r, big) =>
      [conv1, conv2, conv3, ...(big ? [convBig] : [])].flatMap((s) =>
        [true, false].map((withDx) => {
          const z = sizes(s);
          return {
            label: `${JSON.stringify(s)}${withDx ? '' : ' dx=null'}`,
            big: s === convBig,
            unused: withDx ? [] : ['dx', 'dcol'],
            data: { dx: r.f32(z.x), dw: r.f32(z.kk * s.outChannels), dbias: r.f32(s.outChannels), dcol: r.f32(z.rows * z.kk), dout: r.f32(z.out), col: r.f32(z.rows * z.kk), w: r.f32(z.kk * s.outChannels) },
            call: (K: Kernels, b: Bufs) => K.conv2dBackward(withDx ? (b.dx as F32) : null, b.dw as F32, b.dbias as F32, b.dout as F32, b.col as F32, b.w as F32, b.dcol as F32, s),
          };
        }),
      ),
  },
  maxPool: {
    kernels: ['max_pool_forward'],
    writes: ['out', 'argmax'],
    reads: ['x'],
    inPlace: [],
    shapes: (r, big) =>
      [
        { batch: 1, h: 3, w: 3, c: 2, k: 1 }, // out, argmax and x all 18 elements
        { batch: 2, h: 4, w: 4, c: 3, k: 2 },
        ...(big ? [{ batch: 16, h: 12, w: 12, c: 8, k: 2 }] : []),
      ].map((s) => {
        const n = s.batch * Math.floor(s.h / s.k) * Math.floor(s.w / s.k) * s.c;
        return {
          label: JSON.stringify(s),
          big: s.batch === 16,
          data: { out: r.f32(n), argmax: r.ints(n, 5), x: r.f32(s.batch * s.h * s.w * s.c) },
          call: (K: Kernels, b: Bufs) => K.maxPool(b.out as F32, b.argmax as I32, b.x as F32, s),
        };
      }),
  },
  maxPoolBackward: {
    kernels: ['max_pool_backward'],
    writes: ['dx'],
    reads: ['dout', 'argmax'],
    inPlace: [],
    shapes: (r) => [{ label: 'n=12', data: { dx: r.f32(12), dout: r.f32(12), argmax: r.ints(12, 12) }, call: (K, b) => K.maxPoolBackward(b.dx as F32, b.dout as F32, b.argmax as I32) }],
  },
  dot: { kernels: ['dot'], writes: [], reads: ['x', 'y'], inPlace: [], shapes: (r) => [{ label: 'n=37', data: { x: r.f32(37), y: r.f32(37) }, call: (K, b) => K.dot(b.x as F32, b.y as F32) }] },
  sumsq: { kernels: ['sumsq'], writes: [], reads: ['x'], inPlace: [], shapes: (r) => [{ label: 'n=37', data: { x: r.f32(37) }, call: (K, b) => K.sumsq(b.x as F32) }] },
  axpy: {
    kernels: ['axpy'],
    writes: ['y'],
    reads: ['x'],
    inPlace: [['y', 'x']],
    shapes: (r, big) => [37, ...(big ? [BIG] : [])].map((n) => ({ label: `n=${n}`, big: n === BIG, data: { y: r.f32(n), x: r.f32(n) }, call: (K, b) => K.axpy(b.y as F32, b.x as F32, -0.3) })),
  },
  scale: { kernels: ['scale'], writes: ['x'], reads: [], inPlace: [], shapes: (r) => [{ label: 'n=37', data: { x: r.f32(37) }, call: (K, b) => K.scale(b.x as F32, 1.5) }] },
  fill: { kernels: ['fill'], writes: ['x'], reads: [], inPlace: [], shapes: (r) => [{ label: 'n=37', data: { x: r.f32(37) }, call: (K, b) => K.fill(b.x as F32, 2.5) }] },
  copy: {
    kernels: ['copy'],
    writes: ['dst'],
    reads: ['src'],
    inPlace: [['dst', 'src']],
    shapes: (r, big) => [37, ...(big ? [BIG] : [])].map((n) => ({ label: `n=${n}`, big: n === BIG, data: { dst: r.f32(n), src: r.f32(n) }, call: (K, b) => K.copy(b.dst as F32, b.src as F32) })),
  },
  stftPower: {
    kernels: ['stft_power'],
    writes: ['out'],
    reads: ['signal'],
    inPlace: [],
    // [len, nfft, hop]: 2, 2, 1 gives 1 frame of 2 bins, the signal's size.
    shapes: (r) =>
      [
        [2, 2, 1],
        [40, 8, 4],
      ].map(([len, nfft, hop]) => ({
        label: `len=${len} nfft=${nfft} hop=${hop}`,
        data: { out: r.f32(Kernels.stftFrames(len, nfft, hop) * (nfft / 2 + 1)), signal: r.f32(len) },
        call: (K: Kernels, b: Bufs) => K.stftPower(b.out as F32, b.signal as F32, nfft, hop),
      })),
  },
  logEps: {
    kernels: ['log_eps'],
    writes: ['out'],
    reads: ['x'],
    inPlace: [['out', 'x']],
    shapes: (r) => [{ label: 'n=37', data: { out: r.f32(37), x: Float32Array.from(r.f32(37, -0.5, 3), (v) => (v < 0 ? 0 : v)) }, call: (K, b) => K.logEps(b.out as F32, b.x as F32, 1e-6) }],
  },
  gatherRows: {
    kernels: ['gather_rows'],
    writes: ['out'],
    reads: ['src', 'idx'],
    inPlace: [],
    // [n, dim, rows]: 3, 1, 3 makes out, src and idx all 3 elements.
    shapes: (r, big) =>
      [[3, 1, 3], [5, 4, 7], ...(big ? [[600, 64, 700]] : [])].map(([n, dim, rows]) => ({
        label: `n=${n} dim=${dim} rows=${rows}`,
        big: n === 600,
        data: { out: r.f32(n * dim), src: r.f32(rows * dim), idx: r.ints(n, rows) },
        call: (K: Kernels, b: Bufs) => K.gatherRows(b.out as F32, b.src as F32, b.idx as I32, n, dim),
      })),
  },
  sgdStep: {
    kernels: ['sgd_step'],
    writes: ['params', 'velocity'],
    reads: ['grads'],
    inPlace: [
      ['params', 'grads'],
      ['velocity', 'grads'],
    ],
    shapes: (r, big) =>
      [37, ...(big ? [BIG] : [])].map((n) => ({ label: `n=${n}`, big: n === BIG, data: { params: r.f32(n), velocity: r.f32(n), grads: r.f32(n) }, call: (K, b) => K.sgdStep(b.params as F32, b.grads as F32, b.velocity as F32, sgdOpts) })),
  },
  adamwStep: {
    kernels: ['adamw_step'],
    writes: ['params', 'm', 'v'],
    reads: ['grads'],
    inPlace: [
      ['params', 'grads'],
      ['m', 'grads'],
      ['v', 'grads'],
    ],
    // Positive values everywhere, so v stays >= 0 whichever buffer it starts from (no NaN).
    shapes: (r, big) =>
      [37, ...(big ? [BIG] : [])].map((n) => ({
        label: `n=${n}`,
        big: n === BIG,
        data: { params: r.f32(n, 0, 1), m: r.f32(n, 0, 1), v: r.f32(n, 0, 1), grads: r.f32(n, 0, 1) },
        call: (K, b) => K.adamwStep(b.params as F32, b.grads as F32, b.m as F32, b.v as F32, adamOpts),
      })),
  },
  rng: {
    kernels: ['rng'],
    writes: [],
    reads: [],
    inPlace: [],
    shapes: () => [
      {
        label: 'seed 5',
        data: {},
        call: (K) => {
          K.rng(5, 1);
        },
      },
    ],
  },
  rngNext: { kernels: ['rng_next'], writes: ['state'], reads: [], inPlace: [], shapes: (r) => [{ label: 'one draw', data: { state: rngState(r) }, call: (K, b) => K.rngNext(b.state as I32) }] },
  uniform: {
    kernels: ['uniform'],
    writes: ['out', 'state'],
    reads: [],
    inPlace: [],
    shapes: (r) => [4, 10].map((n) => ({ label: `n=${n}`, data: { out: r.f32(n), state: rngState(r) }, call: (K, b) => K.uniform(b.out as F32, b.state as I32, -1, 2) })),
  },
  normal: {
    kernels: ['normal'],
    writes: ['out', 'state'],
    reads: [],
    inPlace: [],
    shapes: (r) => [4, 10].map((n) => ({ label: `n=${n}`, data: { out: r.f32(n), state: rngState(r) }, call: (K, b) => K.normal(b.out as F32, b.state as I32, 1, 2) })),
  },
  permutation: {
    kernels: ['permutation'],
    writes: ['out', 'state'],
    reads: [],
    inPlace: [],
    shapes: (r) => [4, 10].map((n) => ({ label: `n=${n}`, data: { out: r.ints(n, 100), state: rngState(r) }, call: (K, b) => K.permutation(b.out as I32, b.state as I32) })),
  },
};

// ---- running a call with separate or aliased buffers --------------------------------------------

/** Kernels over a runtime's memory, module and pool whose calling-thread kernel calls are recorded. */
interface Harness {
  rt: Runtime;
  K: Kernels;
  calls: { name: KernelName; args: number[] }[];
}
function harness(rt: Runtime): Harness {
  const pool = (rt as unknown as { pool: WorkerPool | null }).pool;
  const calls: Harness['calls'] = [];
  const raw = { ...rt.kernels.raw } as RawKernels;
  for (const name of KERNEL_NAMES) {
    const fn = rt.kernels.raw[name];
    raw[name] = (...args: number[]) => {
      calls.push({ name, args });
      return fn(...args);
    };
  }
  const scratch = Array.from({ length: rt.kernels.threads }, () => rt.arena.f32(MATMUL_SCRATCH_FLOATS));
  return { rt, K: new Kernels(raw, rt.arena, pool, scratch), calls };
}

const kindOf = (d: Data): 'f32' | 'i32' => (d instanceof Float32Array ? 'f32' : 'i32');
/** Copy the bits of `d` to byte offset ptr. */
const poke = (rt: Runtime, ptr: number, d: Data) => new Int32Array(rt.memory.buffer, ptr, d.length).set(new Int32Array(d.buffer, d.byteOffset, d.length));
const peek = (rt: Runtime, b: Buf): Data => (b.kind === 'f32' ? rt.arena.read(b) : rt.arena.viewI32(b).slice());

/**
 * Lay out a shape's buffers, each in its own allocation, except with `alias` = [w, o, shift]: w and o
 * share one allocation, w starting `shift` elements after o (before it, for a negative shift); o's
 * values are written last, so where they overlap the buffers hold o's values.
 */
function place(rt: Runtime, data: Record<string, Data>, alias?: [string, string, number]): Bufs {
  const bufs: Bufs = {};
  for (const [name, d] of Object.entries(data)) {
    if (alias && (name === alias[0] || name === alias[1])) continue;
    const ptr = rt.arena.allocBytes(4 * d.length);
    poke(rt, ptr, d);
    bufs[name] = { ptr, length: d.length, kind: kindOf(d) } as Buf;
  }
  if (alias) {
    const [w, o, shift] = alias;
    const dw = data[w],
      dO = data[o];
    const start = Math.min(0, shift),
      end = Math.max(dO.length, shift + dw.length);
    const op = rt.arena.allocBytes(4 * (end - start)) - 4 * start,
      wp = op + 4 * shift;
    poke(rt, wp, dw);
    poke(rt, op, dO);
    bufs[w] = { ptr: wp, length: dw.length, kind: kindOf(dw) } as Buf;
    bufs[o] = { ptr: op, length: dO.length, kind: kindOf(dO) } as Buf;
  }
  return bufs;
}

interface Outcome {
  /** Final contents of the written buffers. */
  outs: Record<string, Data>;
  ret: number | void;
  error?: unknown;
  calls: Harness['calls'];
  /** Every byte of the shape's buffers before and after the call. */
  before: Data[];
  after: Data[];
}
function run(h: Harness, c: Contract, sh: Shape, data: Record<string, Data>, alias?: [string, string, number]): Outcome {
  return scoped(h.rt, () => {
    const bufs = place(h.rt, data, alias);
    const all = Object.values(bufs);
    const before = all.map((b) => peek(h.rt, b));
    h.calls.length = 0;
    let ret: number | void = undefined,
      error: unknown;
    try {
      ret = sh.call(h.K, bufs);
    } catch (e) {
      error = e;
    }
    const calls = h.calls.slice();
    const outs = Object.fromEntries(c.writes.filter((w) => !sh.unused?.includes(w)).map((w) => [w, peek(h.rt, bufs[w])]));
    return { outs, ret, error, calls, before, after: all.map((b) => peek(h.rt, b)) };
  });
}

/** Differences between two outcomes' written buffers and return values, as messages. */
function differences(a: Outcome, b: Outcome): string[] {
  const out: string[] = [];
  for (const name of Object.keys(a.outs)) {
    const i = firstBitDifference(a.outs[name], b.outs[name]);
    if (i >= 0) out.push(`${name} differs first at [${i}]: ${a.outs[name][i]} vs ${b.outs[name][i]}`);
  }
  if (typeof a.ret === 'number' || typeof b.ret === 'number') {
    const same = typeof a.ret === 'number' && typeof b.ret === 'number' && (Object.is(a.ret, b.ret) || firstBitDifference(a.ret, b.ret) < 0);
    if (!same) out.push(`returned ${a.ret} vs ${b.ret}`);
  }
  return out;
}

const ELEMENTWISE_SPLIT: readonly KernelName[] = ['relu_forward', 'relu_backward', 'gelu_forward', 'gelu_backward', 'axpy', 'scale', 'fill', 'copy', 'sgd_step', 'adamw_step'];

/**
 * Check every pair of one wrapper in one harness; returns the problems found and counts.
 * `threaded`: a declared in-place pair on a big shape must have been split over the pool.
 */
function checkWrapper(h: Harness, method: Wrapper, c: Contract, big: boolean, threaded: boolean): { problems: string[]; exact: Set<string>; counts: Record<string, number>; called: Set<KernelName> } {
  const problems: string[] = [];
  const exact = new Set<string>();
  const called = new Set<KernelName>();
  const counts = { inPlace: 0, rejected: 0, shifted: 0, inputs: 0 };
  const r = new Rand(method.length * 7919 + method.charCodeAt(0));
  const names = [...c.writes, ...c.reads];
  const allowed = (w: string, o: string) => c.inPlace.some(([a, b]) => a === w && b === o);
  const expectRejected = (what: string, got: Outcome, w: string, o: string) => {
    const e = got.error;
    if (!(e instanceof AliasingError) || e.code !== 'ALIASED_BUFFERS') {
      problems.push(`${what}: expected an AliasingError, got ${e === undefined ? 'no error' : String(e)}`);
      return;
    }
    const re = new RegExp(`^${method}: (${w} and ${o}|${o} and ${w}) (are the same buffer|overlap) \\(bytes \\d+\\.\\.\\d+`);
    if (!re.test(e.message)) problems.push(`${what}: the message does not name the kernel and both buffers: ${e.message}`);
    if (got.calls.length > 0) problems.push(`${what}: rejected after running ${got.calls.map((x) => x.name).join(', ')}`);
    const changed = got.before.findIndex((b, i) => firstBitDifference(b, got.after[i]) >= 0);
    if (changed >= 0) problems.push(`${what}: a rejected call changed memory`);
  };

  for (const sh of c.shapes(r, big)) {
    const sep = run(h, c, sh, sh.data);
    for (const x of sep.calls) called.add(x.name);
    if (sep.error !== undefined) {
      problems.push(`${method} [${sh.label}] with separate buffers threw ${String(sep.error)}`);
      continue;
    }
    const used = names.filter((n) => !sh.unused?.includes(n));
    for (const w of c.writes.filter((n) => used.includes(n))) {
      for (const o of used.filter((n) => n !== w)) {
        // Each unordered pair of written buffers once.
        if (c.writes.includes(o) && c.writes.indexOf(o) < c.writes.indexOf(w)) continue;
        const dw = sh.data[w],
          dO = sh.data[o];
        const what = (how: string) => `${method} [${sh.label}] ${w} ${how} ${o}`;
        if (dw.length === dO.length) {
          exact.add(`${w}|${o}`);
          const got = run(h, c, sh, sh.data, [w, o, 0]);
          if (!c.writes.includes(o) && allowed(w, o)) {
            counts.inPlace++;
            if (kindOf(dw) !== kindOf(dO)) problems.push(`${what('=')}: an in-place pair of an f32 and an i32 buffer`);
            if (got.error !== undefined) problems.push(`${what('=')}: declared safe in place, but threw ${String(got.error)}`);
            else {
              // The same call with a separate w holding o's values.
              const ref = run(h, c, sh, { ...sh.data, [w]: dO.slice() });
              for (const d of differences(got, ref)) problems.push(`${what('=')}: ${d}`);
              if (threaded && sh.big) {
                for (const x of got.calls.filter((x) => ELEMENTWISE_SPLIT.includes(x.name))) {
                  const n = x.args[KERNELS[x.name].args.findIndex((a) => a.startsWith('n:'))];
                  if (!(n < dw.length)) problems.push(`${what('=')}: ${x.name} was not split (the calling thread ran ${n} of ${dw.length} elements)`);
                }
              }
            }
          } else {
            counts.rejected++;
            expectRejected(what('='), got, w, o);
          }
        }
        // A partial overlap, either way round, is always rejected.
        for (const shift of [1, -1]) {
          if (shift === 1 ? dO.length < 2 : dw.length < 2) continue;
          counts.shifted++;
          expectRejected(what(shift === 1 ? 'one element after' : 'one element before'), run(h, c, sh, sh.data, [w, o, shift]), w, o);
        }
      }
    }
    // Two inputs of the same kind and length may be one buffer.
    for (const a of c.reads) {
      for (const b of c.reads.filter((n) => c.reads.indexOf(n) > c.reads.indexOf(a))) {
        const da = sh.data[a],
          db = sh.data[b];
        if (da.length !== db.length || kindOf(da) !== kindOf(db)) continue;
        counts.inputs++;
        const data = { ...sh.data, [b]: da.slice() };
        const got = run(h, c, sh, data, [b, a, 0]);
        if (got.error !== undefined) problems.push(`${method} [${sh.label}] inputs ${a} = ${b}: threw ${String(got.error)}`);
        else for (const d of differences(got, run(h, c, sh, data))) problems.push(`${method} [${sh.label}] inputs ${a} = ${b}: ${d}`);
      }
    }
  }
  return { problems, exact, counts, called };
}

// ---- tests ------------------------------------------------------------------------------------

it('every public wrapper of Kernels has a contract, naming the kernels it calls, and every kernel with a buffer is in one', () => {
  const dir = new URL('../src/kernels/ops/', import.meta.url);
  const src = [readFileSync(new URL('../src/kernels/ops.ts', import.meta.url), 'utf8'), ...readdirSync(dir).map((f) => readFileSync(new URL(f, dir), 'utf8'))].join('\n');
  const privates = new Set([...src.matchAll(/\b(?:private|protected) (?:readonly )?(\w+)/g)].map((m) => m[1]));
  const methods = Object.getOwnPropertyNames(Kernels.prototype).filter((n) => n !== 'constructor' && !privates.has(n) && typeof Object.getOwnPropertyDescriptor(Kernels.prototype, n)?.value === 'function');
  expect(
    methods.filter((n) => !(n in CONTRACTS)),
    'wrappers without an aliasing contract',
  ).toEqual([]);
  expect(
    Object.keys(CONTRACTS).filter((n) => !methods.includes(n)),
    'contracts of no wrapper',
  ).toEqual([]);
  const covered = new Set(Object.values(CONTRACTS).flatMap((c) => c.kernels));
  const withBuffers = KERNEL_NAMES.filter((k) => KERNELS[k].args.some((a) => a.endsWith(':ptr') || a.endsWith(':iptr')));
  expect(
    withBuffers.filter((k) => !covered.has(k)),
    'kernels with buffers that no contract covers',
  ).toEqual([]);
  for (const [method, c] of Object.entries(CONTRACTS)) {
    for (const [w, o] of c.inPlace) expect(c.writes.includes(w) && c.reads.includes(o), `${method}: in-place pair ${w} = ${o} must be (written, read)`).toBe(true);
    expect(new Set([...c.writes, ...c.reads]).size, `${method}: a buffer listed twice`).toBe(c.writes.length + c.reads.length);
  }
});

const builds = [
  { label: 'scalar build', options: { threads: 1, build: 'scalar' as const }, threaded: false },
  { label: 'simd build', options: { threads: 1, build: 'simd' as const }, threaded: false },
  { label: '2 threads (simd-threads build)', options: { threads: 2 }, threaded: true },
];

for (const { label, options, threaded } of builds) {
  describe(`aliasing contracts, ${label}`, () => {
    let rt: Runtime;
    let h: Harness;
    beforeAll(async () => {
      rt = await createRuntime(options);
      h = harness(rt);
    });
    afterAll(() => rt?.dispose());

    if (threaded) it('runs 2 threads', () => expect(h.K.threads).toBe(2));

    for (const [method, c] of Object.entries(CONTRACTS) as [Wrapper, Contract][]) {
      it(method, () => {
        const { problems, exact, counts, called } = checkWrapper(h, method, c, threaded, threaded);
        console.log(`${label} ${method}: ${counts.inPlace} in-place pairs equal, ${counts.rejected} same-buffer pairs rejected, ${counts.shifted} partial overlaps rejected, ${counts.inputs} aliased inputs; ${problems.length} problems`);
        expect(problems, problems.join('\n')).toEqual([]);
        // Every (written, other) pair was run as the very same buffer in some shape.
        const names = [...c.writes, ...c.reads];
        const missing = c.writes.flatMap((w, i) => names.filter((o) => o !== w && !(c.writes.includes(o) && c.writes.indexOf(o) < i)).map((o) => `${w}|${o}`)).filter((p) => !exact.has(p));
        expect(missing, `${method}: pairs no shape gives the same length`).toEqual([]);
        // The contract names exactly the kernels the wrapper runs (on this thread).
        expect([...called].sort(), `${method}: kernels called`).toEqual([...c.kernels].sort());
      });
    }
  });
}
