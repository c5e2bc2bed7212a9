/**
 * Layers over the kernels. Each layer owns its output and input-gradient buffers: what its forward
 * pass writes holds `rows.forward` samples (inference may run batches larger than training's), what
 * only training uses holds `rows.batch`; a smaller batch uses their prefix. Contracts (per sample, row-major):
 *   forward(x (batch, inFeatures), batch, train) -> y (batch, outFeatures)
 *   backward(dy (batch, outFeatures), batch, needDx) -> dx (batch, inFeatures) or null;
 *     parameter gradients accumulate into the store's gradient buffer.
 * backward may be called several times after one forward (the UDI controller does so).
 * Images are NHWC, so flattening a (h, w, c) map is free.
 */
import type { F32, I32 } from '../runtime/arena.js';
import type { Runtime } from '../runtime/runtime.js';
import type { ConvShape, Kernels, MatmulOptions, PoolShape } from '../kernels/ops.js';
import { convBlockScratch, convOutputSize, poolOutputSize } from '../kernels/ops.js';
import type { Param, ParamStore } from './params.js';

export interface Layer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  forward(x: F32, batch: number, train: boolean): F32;
  backward(dy: F32, batch: number, needDx: boolean): F32 | null;
}

/**
 * Rows a layer's buffers hold: `forward` for its outputs and whatever else its forward pass writes,
 * `batch` (<= forward) for what only training uses (input gradients, dropout masks). A number is both.
 */
export type Rows = number | { readonly batch: number; readonly forward: number };
const rowsOf = (r: Rows) => (typeof r === 'number' ? { batch: r, forward: r } : r);

/** The last prefix view made of each buffer (see prefix). */
const views = new WeakMap<F32 | I32, F32 | I32>();
/**
 * The first `n` elements of a buffer: the buffer itself when that is all of it, else a view that is
 * reused while the same length is asked for, so a training step over buffers that hold a larger
 * inference batch makes no new descriptor per step.
 */
export function prefix<T extends F32 | I32>(b: T, n: number): T {
  if (n === b.length) return b;
  const v = views.get(b) as T | undefined;
  if (v !== undefined && v.length === n) return v;
  if (!(Number.isInteger(n) && n >= 0 && n <= b.length)) throw new RangeError(`prefix of ${n} elements of a buffer of ${b.length}`);
  const view = { ptr: b.ptr, length: n, kind: b.kind } as T;
  views.set(b, view);
  return view;
}

export class Dense implements Layer {
  private readonly y: F32;
  private readonly dx: F32;
  private readonly w: Param;
  private readonly b: Param;
  private x: F32 | null = null;
  private readonly K: Kernels;
  /** Matmul options of the forward product, reused (its m is set to the batch on each call). */
  private readonly fwd: MatmulOptions;

  constructor(
    rt: Runtime,
    private readonly store: ParamStore,
    group: string,
    name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    rows: Rows,
    init: 'he' | 'xavier' = 'he',
  ) {
    this.K = rt.kernels;
    const { batch, forward } = rowsOf(rows);
    this.w = store.add(group, `${name}.weight`, [inFeatures, outFeatures], init, inFeatures, outFeatures);
    this.b = store.add(group, `${name}.bias`, [outFeatures], 'zeros', inFeatures, outFeatures);
    this.y = rt.arena.f32(forward * outFeatures);
    this.dx = rt.arena.f32(batch * inFeatures);
    this.fwd = { m: 0, n: outFeatures, k: inFeatures };
  }

  forward(x: F32, batch: number): F32 {
    this.x = x;
    const y = prefix(this.y, batch * this.outFeatures);
    this.fwd.m = batch;
    this.fwd.bias = this.store.paramOf(this.b);
    this.K.matmul(y, x, this.store.paramOf(this.w), this.fwd);
    return y;
  }

  backward(dy: F32, batch: number, needDx: boolean): F32 | null {
    if (!this.x) throw new Error('Dense.backward before forward');
    const dx = needDx ? prefix(this.dx, batch * this.inFeatures) : null;
    this.K.linearBackward(dx, this.store.gradOf(this.w), this.store.gradOf(this.b), dy, this.x, this.store.paramOf(this.w), batch, this.inFeatures, this.outFeatures);
    return dx;
  }
}

export class Activation implements Layer {
  private readonly y: F32;
  private readonly dx: F32;
  private x: F32 | null = null;
  readonly outFeatures: number;
  private readonly K: Kernels;

  constructor(
    rt: Runtime,
    readonly kind: 'relu' | 'gelu',
    readonly inFeatures: number,
    rows: Rows,
  ) {
    this.K = rt.kernels;
    const { batch, forward } = rowsOf(rows);
    this.outFeatures = inFeatures;
    this.y = rt.arena.f32(forward * inFeatures);
    this.dx = rt.arena.f32(batch * inFeatures);
  }

  forward(x: F32, batch: number): F32 {
    this.x = x;
    const y = prefix(this.y, batch * this.outFeatures);
    if (this.kind === 'relu') this.K.relu(y, x);
    else this.K.gelu(y, x);
    return y;
  }

  backward(dy: F32, batch: number, needDx: boolean): F32 | null {
    if (!needDx) return null;
    if (!this.x) throw new Error('Activation.backward before forward');
    const dx = prefix(this.dx, batch * this.inFeatures);
    this.K.fill(dx, 0);
    if (this.kind === 'relu') this.K.reluBackward(dx, dy, this.x);
    else this.K.geluBackward(dx, dy, this.x);
    return dx;
  }
}

export class Dropout implements Layer {
  private readonly y: F32;
  private readonly mask: F32;
  private readonly dx: F32;
  /** This layer's generator state (4 words); part of a resumable training state. */
  readonly rng: I32;
  private trained = false;
  readonly outFeatures: number;
  private readonly K: Kernels;

  constructor(
    rt: Runtime,
    readonly p: number,
    readonly inFeatures: number,
    rows: Rows,
    seed: number,
    stream: number,
  ) {
    if (!(p >= 0 && p < 1)) throw new RangeError(`dropout must be in [0, 1), got ${p}`);
    this.K = rt.kernels;
    this.outFeatures = inFeatures;
    // Outside training the forward pass returns its input: every buffer is training's.
    const { batch } = rowsOf(rows);
    this.y = rt.arena.f32(batch * inFeatures);
    this.mask = rt.arena.f32(batch * inFeatures);
    this.dx = rt.arena.f32(batch * inFeatures);
    this.rng = rt.kernels.rng(seed, stream);
  }

  forward(x: F32, batch: number, train: boolean): F32 {
    this.trained = train && this.p > 0;
    if (!this.trained) return x;
    const n = batch * this.inFeatures;
    const y = prefix(this.y, n);
    this.K.dropout(y, prefix(this.mask, n), x, this.p, this.rng);
    return y;
  }

  backward(dy: F32, batch: number, needDx: boolean): F32 | null {
    if (!needDx) return null;
    if (!this.trained) return dy;
    const n = batch * this.inFeatures;
    const dx = prefix(this.dx, n);
    this.K.fill(dx, 0);
    this.K.dropoutBackward(dx, dy, prefix(this.mask, n));
    return dx;
  }
}

/** 2-D convolution, NHWC, 'same'-style padding = floor(kernel/2) by default. */
export class Conv2d implements Layer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly outShape: [number, number, number];
  private readonly y: F32;
  private readonly dx: F32;
  private readonly col: F32;
  private readonly dcol: F32;
  private readonly w: Param;
  private readonly b: Param;
  private x: F32 | null = null;
  private readonly K: Kernels;
  private readonly pad: number;
  private readonly colPerSample: number;
  /** The kernels' shape argument, reused (its batch is set on each call). */
  private readonly geom: ConvShape;

  constructor(
    rt: Runtime,
    private readonly store: ParamStore,
    group: string,
    name: string,
    readonly inShape: [number, number, number],
    readonly channels: number,
    readonly kernel: number,
    rows: Rows,
  ) {
    this.K = rt.kernels;
    const { batch, forward } = rowsOf(rows);
    const [h, w, c] = inShape;
    this.pad = Math.floor(kernel / 2);
    const { ho, wo } = convOutputSize({ batch: 1, h, w, c, outChannels: channels, kh: kernel, kw: kernel, pad: this.pad });
    this.outShape = [ho, wo, channels];
    this.inFeatures = h * w * c;
    this.outFeatures = ho * wo * channels;
    const kk = kernel * kernel * c;
    this.colPerSample = ho * wo * kk;
    this.w = store.add(group, `${name}.weight`, [kk, channels], 'he', kk, channels);
    this.b = store.add(group, `${name}.bias`, [channels], 'zeros', kk, channels);
    this.y = rt.arena.f32(forward * this.outFeatures);
    this.dx = rt.arena.f32(batch * this.inFeatures);
    this.col = rt.arena.f32(forward * this.colPerSample);
    this.dcol = rt.arena.f32(batch * this.colPerSample);
    this.geom = { batch: 0, h, w, c, outChannels: channels, kh: kernel, kw: kernel, pad: this.pad };
  }

  private shape(batch: number): ConvShape {
    this.geom.batch = batch;
    return this.geom;
  }

  forward(x: F32, batch: number): F32 {
    this.x = x;
    const y = prefix(this.y, batch * this.outFeatures);
    this.K.conv2d(y, x, this.store.paramOf(this.w), this.store.paramOf(this.b), prefix(this.col, batch * this.colPerSample), this.shape(batch));
    return y;
  }

  backward(dy: F32, batch: number, needDx: boolean): F32 | null {
    if (!this.x) throw new Error('Conv2d.backward before forward');
    const dx = needDx ? prefix(this.dx, batch * this.inFeatures) : null;
    if (dx) this.K.fill(dx, 0);
    const cols = batch * this.colPerSample;
    this.K.conv2dBackward(dx, this.store.gradOf(this.w), this.store.gradOf(this.b), dy, prefix(this.col, cols), this.store.paramOf(this.w), prefix(this.dcol, cols), this.shape(batch));
    return dx;
  }
}

export class MaxPool implements Layer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly outShape: [number, number, number];
  private readonly y: F32;
  private readonly dx: F32;
  private readonly argmax: I32;
  private readonly K: Kernels;
  private readonly geom: PoolShape;

  constructor(
    rt: Runtime,
    readonly inShape: [number, number, number],
    readonly k: number,
    rows: Rows,
  ) {
    this.K = rt.kernels;
    const { batch, forward } = rowsOf(rows);
    const [h, w, c] = inShape;
    const { ho, wo } = poolOutputSize({ batch: 1, h, w, c, k });
    if (ho < 1 || wo < 1) throw new RangeError(`max-pool window ${k} does not fit a ${h}×${w} map`);
    this.outShape = [ho, wo, c];
    this.inFeatures = h * w * c;
    this.outFeatures = ho * wo * c;
    this.y = rt.arena.f32(forward * this.outFeatures);
    this.dx = rt.arena.f32(batch * this.inFeatures);
    this.argmax = rt.arena.i32(forward * this.outFeatures);
    this.geom = { batch: 0, h, w, c, k };
  }

  /** Rows of the last forward: the backward scatters through its argmax, so it must be of those rows. */
  private rowsSeen = 0;
  forward(x: F32, batch: number): F32 {
    const y = prefix(this.y, batch * this.outFeatures);
    this.geom.batch = this.rowsSeen = batch;
    this.K.maxPool(y, prefix(this.argmax, batch * this.outFeatures), x, this.geom);
    return y;
  }

  backward(dy: F32, batch: number, needDx: boolean): F32 | null {
    if (!needDx) return null;
    const n = batch * this.outFeatures;
    if (batch !== this.rowsSeen || dy.length !== n) throw new RangeError(`MaxPool.backward: ${batch} rows, dy of ${dy.length} elements, after a forward of ${this.rowsSeen} rows (expected the same rows, dy of ${n})`);
    const dx = prefix(this.dx, batch * this.inFeatures);
    this.K.fill(dx, 0);
    // argmax came from this layer's own forward of these rows, so it is in range by construction:
    // call the kernel directly, without Kernels.maxPoolBackward's per-element scan.
    this.K.raw.max_pool_backward(dx.ptr, dy.ptr, this.argmax.ptr, n);
    return dx;
  }
}

/**
 * A convolution block: a k×k 'same' convolution (k odd, stride 1) + bias, ReLU and a 2×2 max-pool,
 * as one layer over the fused kernels (convReluPool): no patch matrix, and only the pooled map and
 * a window code per pooled value are written. The same parameters (`<name>.weight` (k·k·c, channels),
 * `<name>.bias`), values and bits as Conv2d, Activation('relu') and MaxPool(2) one after the other.
 */
export class ConvBlock implements Layer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** The convolution's map (h, w, channels), before the pool. */
  readonly convShape: [number, number, number];
  readonly outShape: [number, number, number];
  /** The pool's window. */
  readonly k = 2;
  private readonly y: F32;
  private readonly code: I32;
  private readonly dx: F32;
  private readonly w: Param;
  private readonly b: Param;
  private x: F32 | null = null;
  private readonly K: Kernels;
  private readonly geom: ConvShape;

  constructor(
    rt: Runtime,
    private readonly store: ParamStore,
    group: string,
    name: string,
    readonly inShape: [number, number, number],
    readonly channels: number,
    readonly kernel: number,
    rows: Rows,
  ) {
    this.K = rt.kernels;
    const { batch, forward } = rowsOf(rows);
    const [h, w, c] = inShape;
    const pad = (kernel - 1) / 2;
    this.geom = { batch: 0, h, w, c, outChannels: channels, kh: kernel, kw: kernel, pad };
    if (!ConvBlock.fits(rt, this.geom)) throw new RangeError(`ConvBlock: a ${kernel}×${kernel} convolution of a ${h}×${w}×${c} map is not a fused block (odd kernel, sample within a thread's scratch)`);
    if (h < 2 || w < 2) throw new RangeError(`max-pool window 2 does not fit a ${h}×${w} map`);
    this.convShape = [h, w, channels];
    this.outShape = [h >> 1, w >> 1, channels];
    this.inFeatures = h * w * c;
    this.outFeatures = (h >> 1) * (w >> 1) * channels;
    const kk = kernel * kernel * c;
    this.w = store.add(group, `${name}.weight`, [kk, channels], 'he', kk, channels);
    this.b = store.add(group, `${name}.bias`, [channels], 'zeros', kk, channels);
    this.y = rt.arena.f32(forward * this.outFeatures);
    this.code = rt.arena.i32(forward * this.outFeatures);
    this.dx = rt.arena.f32(batch * this.inFeatures);
  }

  /** Whether a k×k 'same' convolution of this shape runs as a fused block (else: Conv2d, Activation, MaxPool). */
  static fits(rt: Runtime, s: ConvShape): boolean {
    const need = convBlockScratch(s);
    return s.kh % 2 === 1 && need !== null && need <= (rt.kernels.raw.matmul_scratch_floats() as number);
  }

  private shape(batch: number): ConvShape {
    this.geom.batch = batch;
    return this.geom;
  }

  forward(x: F32, batch: number): F32 {
    this.x = x;
    const y = prefix(this.y, batch * this.outFeatures);
    this.K.convReluPool(y, prefix(this.code, batch * this.outFeatures), x, this.store.paramOf(this.w), this.store.paramOf(this.b), this.shape(batch));
    return y;
  }

  backward(dy: F32, batch: number, needDx: boolean): F32 | null {
    if (!this.x) throw new Error('ConvBlock.backward before forward');
    const dx = needDx ? prefix(this.dx, batch * this.inFeatures) : null;
    this.K.convReluPoolBackward(dx, this.store.gradOf(this.w), this.store.gradOf(this.b), dy, prefix(this.code, batch * this.outFeatures), this.x, this.store.paramOf(this.w), this.shape(batch));
    return dx;
  }
}

/** Layers applied in order. */
export class Sequential implements Layer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  constructor(readonly layers: Layer[]) {
    if (layers.length === 0) throw new Error('Sequential needs at least one layer');
    this.inFeatures = layers[0].inFeatures;
    this.outFeatures = layers[layers.length - 1].outFeatures;
  }
  forward(x: F32, batch: number, train: boolean): F32 {
    let h = x;
    for (let i = 0; i < this.layers.length; i++) h = this.layers[i].forward(h, batch, train);
    return h;
  }
  backward(dy: F32, batch: number, needDx: boolean): F32 | null {
    let g: F32 | null = dy;
    for (let i = this.layers.length - 1; i >= 0 && g; i--) g = this.layers[i].backward(g, batch, needDx || i > 0);
    return g;
  }
}
