// The aliasing contracts of every kernel wrapper, the table test/aliasing.test.ts runs (see its header).
import { type ConvShape, type F32, type I32, Kernels, type KernelName, type MatmulLayout } from '../src/engine.js';
import { MATMUL_SCRATCH_FLOATS } from '../src/kernels/reference/index.js';
import { Rand } from './helpers.js';

export type Buf = F32 | I32;
export type Data = Float32Array | Int32Array;
export type Bufs = Record<string, Buf>;

/** One call of a wrapper: the initial contents of its buffers by name, and the call over buffers of those names. */
export interface Shape {
  label: string;
  data: Record<string, Data>;
  call(K: Kernels, b: Bufs): number | void;
  /** Buffers this call does not use (e.g. dcol without dx): no aliasing is checked for them. */
  unused?: readonly string[];
  /** Large enough to be split over 2 threads. */
  big?: boolean;
}
export interface Contract {
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
export type Wrapper = { [K in keyof Kernels]: Kernels[K] extends (...a: never[]) => unknown ? K : never }[keyof Kernels];

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

export const CONTRACTS: { [K in Wrapper]: Contract } = {
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
  convReluPool: {
    kernels: ['conv_relu_pool_forward'],
    writes: ['out', 'code'],
    reads: ['x', 'w', 'bias'],
    inPlace: [],
    shapes: (r, big) =>
      [
        { batch: 1, h: 2, w: 2, c: 1, outChannels: 4, kh: 3, kw: 3, pad: 1 }, // out, code, x and bias all 4 elements
        { batch: 1, h: 2, w: 2, c: 1, outChannels: 3, kh: 1, kw: 1, pad: 0 }, // out, code, w and bias all 3
        { batch: 2, h: 5, w: 4, c: 2, outChannels: 3, kh: 1, kw: 1, pad: 0 },
        ...(big ? [{ batch: 16, h: 12, w: 12, c: 3, outChannels: 8, kh: 3, kw: 3, pad: 1 }] : []),
      ].map((s) => {
        const n = s.batch * (s.h >> 1) * (s.w >> 1) * s.outChannels;
        return {
          label: JSON.stringify(s),
          big: s.batch === 16,
          data: { out: r.f32(n), code: r.ints(n, 4), x: r.f32(s.batch * s.h * s.w * s.c), w: r.f32(s.kh * s.kw * s.c * s.outChannels), bias: r.f32(s.outChannels) },
          call: (K: Kernels, b: Bufs) => K.convReluPool(b.out as F32, b.code as I32, b.x as F32, b.w as F32, b.bias as F32, s),
        };
      }),
  },
  convReluPoolBackward: {
    kernels: ['conv_relu_pool_backward_weights', 'conv_relu_pool_backward_input'],
    writes: ['dx', 'dw', 'dbias'],
    reads: ['dout', 'code', 'x', 'w'],
    inPlace: [],
    shapes: (r, big) =>
      [
        { batch: 1, h: 2, w: 2, c: 1, outChannels: 4, kh: 1, kw: 1, pad: 0 }, // every buffer 4 elements
        { batch: 2, h: 5, w: 4, c: 2, outChannels: 3, kh: 3, kw: 3, pad: 1 },
        ...(big ? [{ batch: 16, h: 12, w: 12, c: 3, outChannels: 8, kh: 3, kw: 3, pad: 1 }] : []),
      ].map((s) => {
        const n = s.batch * (s.h >> 1) * (s.w >> 1) * s.outChannels;
        const kk = s.kh * s.kw * s.c;
        return {
          label: JSON.stringify(s),
          big: s.batch === 16,
          data: {
            dx: r.f32(s.batch * s.h * s.w * s.c),
            dw: r.f32(kk * s.outChannels),
            dbias: r.f32(s.outChannels),
            dout: r.f32(n),
            code: Int32Array.from(r.ints(n, 5), (v) => v - 1),
            x: r.f32(s.batch * s.h * s.w * s.c),
            w: r.f32(kk * s.outChannels),
          },
          call: (K: Kernels, b: Bufs) => K.convReluPoolBackward(b.dx as F32, b.dw as F32, b.dbias as F32, b.dout as F32, b.code as I32, b.x as F32, b.w as F32, s),
        };
      }),
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
