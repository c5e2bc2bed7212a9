/**
 * Wrappers of convolution and pooling (assembly/conv.ts): shape checks, the aliasing contract, one export call each.
 * Composed into the one `Kernels` class by ../ops.ts; conventions there.
 */
import type { F32, I32 } from '../../runtime/arena.js';
import type { Kernels } from '../ops.js';
import { ShapeError } from '../../errors.js';
import { convBlockScratch, convOutputCols, convOutputRows, poolOutputSize, type ConvShape, type MatmulLayout, type MatmulOptions, type PoolShape } from './shapes.js';
import { dims, KernelBase } from './base.js';

export class ConvOps extends KernelBase {
  /** Check a convolution's shape and return its geometry (this.cg, overwritten by the next call). */
  protected conv(op: string, s: ConvShape): { ho: number; wo: number; kk: number; rows: number; stride: number; pad: number } {
    this.size(op, 'batch', s.batch);
    this.size(op, 'h', s.h);
    this.size(op, 'w', s.w);
    this.size(op, 'c', s.c);
    this.size(op, 'outChannels', s.outChannels);
    this.size(op, 'kh', s.kh);
    this.size(op, 'kw', s.kw);
    const stride = s.stride ?? 1,
      pad = s.pad ?? 0;
    if (!(Number.isInteger(stride) && stride >= 1)) throw new ShapeError(`${op}: stride must be a whole number >= 1, got ${stride}`);
    if (!(Number.isInteger(pad) && pad >= 0)) throw new ShapeError(`${op}: pad must be a whole number >= 0, got ${pad}`);
    const ho = convOutputRows(s),
      wo = convOutputCols(s);
    if (ho < 1 || wo < 1) throw new ShapeError(`${op}: a ${dims(s.kh, s.kw)} kernel with pad ${pad} does not fit a ${dims(s.h, s.w)} input`);
    const g = this.cg;
    g.ho = ho;
    g.wo = wo;
    g.kk = s.kh * s.kw * s.c;
    g.rows = s.batch * ho * wo;
    g.stride = stride;
    g.pad = pad;
    return g;
  }
  protected convMatmul(m: number, n: number, k: number, layout: MatmulLayout, bias: F32 | undefined, accumulate: boolean): MatmulOptions {
    const o = this.cm;
    o.m = m;
    o.n = n;
    o.k = k;
    o.layout = layout;
    o.bias = bias;
    o.accumulate = accumulate;
    return o;
  }

  /** The arguments im2col (col, x, ...) and col2im (dx, dcol, ...) share; their range (r0 r1 or b0 b1) follows. */
  protected convArgs(name: 'im2col' | 'col2im', p0: number, p1: number, s: ConvShape, g: { stride: number; pad: number; ho: number; wo: number }): number[] {
    const v = this.argv[name]; // p0 p1 batch h w c kh kw stride pad ho wo
    v[0] = p0;
    v[1] = p1;
    v[2] = s.batch;
    v[3] = s.h;
    v[4] = s.w;
    v[5] = s.c;
    v[6] = s.kh;
    v[7] = s.kw;
    v[8] = g.stride;
    v[9] = g.pad;
    v[10] = g.ho;
    v[11] = g.wo;
    return v;
  }

  /**
   * out (batch,ho,wo,outChannels) = conv(x (batch,h,w,c), w (kh·kw·c, outChannels)) + bias; col is (batch·ho·wo, kh·kw·c) scratch.
   * Aliasing: out and col overlap nothing (im2col writes col while x is read; the matmul writes out
   * while col, w and bias are read; out = x is correct today only because im2col runs first).
   */
  conv2d(this: Kernels, out: F32, x: F32, w: F32, bias: F32 | null, col: F32, s: ConvShape): void {
    const op = 'conv2d';
    const g = this.conv(op, s);
    const xp = this.buf(op, 'x', x, s.batch * s.h * s.w * s.c, 'batch×h×w×c', s.batch, s.h, s.w, s.c);
    const colp = this.buf(op, 'col', col, g.rows * g.kk, '(batch·ho·wo)×(kh·kw·c)', g.rows, g.kk);
    this.apart(op, 'out', out, 'x', x);
    this.apart(op, 'out', out, 'w', w);
    this.apart(op, 'out', out, 'bias', bias);
    this.apart(op, 'col', col, 'x', x);
    this.apart(op, 'col', col, 'w', w);
    this.apart(op, 'col', col, 'bias', bias);
    this.distinct(op, 'out', out, 'col', col);
    this.split('im2col', this.convArgs('im2col', colp, xp, s, g), 12, g.rows, 1, g.rows * g.kk * 8, -1);
    this.matmul(out, col, w, this.convMatmul(g.rows, s.outChannels, g.kk, 'nn', bias ?? undefined, false));
  }

  /**
   * dw += colᵀ·dout, dbias += Σ dout, dx += col2im(dout·wᵀ) (dx may be null for a first layer); dcol is scratch like col.
   * Aliasing: dx, dw, dbias and dcol (used only with dx) overlap nothing: not each other, nor dout, col or w.
   */
  conv2dBackward(this: Kernels, dx: F32 | null, dw: F32, dbias: F32 | null, dout: F32, col: F32, w: F32, dcol: F32, s: ConvShape): void {
    const op = 'conv2dBackward';
    const g = this.conv(op, s);
    const { rows, kk } = g;
    const dc = dx ? dcol : null;
    this.readOnly(op, 'dx', dx, dout, col, w);
    this.readOnly(op, 'dw', dw, dout, col, w);
    this.readOnly(op, 'dbias', dbias, dout, col, w);
    this.readOnly(op, 'dcol', dc, dout, col, w);
    this.distinct(op, 'dx', dx, 'dw', dw);
    this.distinct(op, 'dx', dx, 'dbias', dbias);
    this.distinct(op, 'dx', dx, 'dcol', dc);
    this.distinct(op, 'dw', dw, 'dbias', dbias);
    this.distinct(op, 'dw', dw, 'dcol', dc);
    this.distinct(op, 'dbias', dbias, 'dcol', dc);
    this.matmul(dw, col, dout, this.convMatmul(kk, s.outChannels, rows, 'tn', undefined, true));
    if (dbias) this.biasAddBackward(dbias, dout, rows, s.outChannels);
    if (!dx) return;
    this.matmul(dcol, dout, w, this.convMatmul(rows, kk, s.outChannels, 'nt', undefined, false));
    const dxp = this.buf(op, 'dx', dx, s.batch * s.h * s.w * s.c, 'batch×h×w×c', s.batch, s.h, s.w, s.c);
    // g is still this convolution's geometry: matmul does not touch it.
    this.split('col2im', this.convArgs('col2im', dxp, dcol.ptr, s, g), 12, s.batch, 1, rows * kk * 8, -1);
  }
  /** conv2dBackward's written buffer b must not overlap its inputs dout, col and w. */
  protected readOnly(op: string, name: string, b: F32 | null, dout: F32, col: F32, w: F32): void {
    this.apart(op, name, b, 'dout', dout);
    this.apart(op, name, b, 'col', col);
    this.apart(op, name, b, 'w', w);
  }

  /** Check a convolution block's shape; its patch size and pooled height and width, in an object reused by every call. */
  protected block(op: string, s: ConvShape): { kk: number; hq: number; wq: number } {
    this.conv(op, s);
    const need = convBlockScratch(s);
    if (need === null) throw new ShapeError(`${op}: needs a k×k 'same' convolution (kh = kw = 2·pad + 1, stride 1), got ${dims(s.kh, s.kw)} with pad ${s.pad ?? 0}, stride ${s.stride ?? 1}`);
    if (need > this.scratchFloats) throw new ShapeError(`${op}: one ${dims(s.h, s.w, s.c)} sample needs ${need} floats of scratch, more than the ${this.scratchFloats} a thread has; use conv2d, relu and maxPool`);
    const b = this.cb;
    b.kk = s.kh * s.kw * s.c;
    b.hq = s.h >> 1;
    b.wq = s.w >> 1;
    return b;
  }

  /**
   * A convolution block: out, code (batch,⌊h/2⌋,⌊w/2⌋,outChannels) = 2×2 max-pool (stride 2) of
   * relu(conv2d(x, w, bias)), for a k×k 'same' convolution (kh = kw = 2·pad + 1, stride 1) without a
   * patch matrix; code = the window position (dy·2 + dx) of the first maximum, −1 where it is not > 0.
   * The bits equal conv2d, relu and maxPool run one after the other.
   * Aliasing: out and code overlap nothing (not x, w, bias nor each other).
   */
  convReluPool(out: F32, code: I32, x: F32, w: F32, bias: F32 | null, s: ConvShape): void {
    const op = 'convReluPool';
    const { kk, hq, wq } = this.block(op, s);
    const n = s.batch * hq * wq * s.outChannels;
    const v = this.argv.conv_relu_pool_forward; // out code x w bias h wd c oc pad scratch b0 b1
    v[0] = this.buf(op, 'out', out, n, 'batch×⌊h/2⌋×⌊w/2⌋×outChannels', s.batch, hq, wq, s.outChannels);
    v[1] = this.ibuf(op, 'code', code, n, 'batch×⌊h/2⌋×⌊w/2⌋×outChannels', s.batch, hq, wq, s.outChannels);
    v[2] = this.buf(op, 'x', x, s.batch * s.h * s.w * s.c, 'batch×h×w×c', s.batch, s.h, s.w, s.c);
    v[3] = this.buf(op, 'w', w, kk * s.outChannels, '(kh·kw·c)×outChannels', kk, s.outChannels);
    v[4] = bias ? this.buf(op, 'bias', bias, s.outChannels, 'outChannels') : 0;
    for (let i = 0; i < 2; i++) {
      const wn = i === 0 ? 'out' : 'code',
        wb = i === 0 ? out : code;
      this.apart(op, wn, wb, 'x', x);
      this.apart(op, wn, wb, 'w', w);
      this.apart(op, wn, wb, 'bias', bias);
    }
    this.distinct(op, 'out', out, 'code', code);
    v[5] = s.h;
    v[6] = s.w;
    v[7] = s.c;
    v[8] = s.outChannels;
    v[9] = s.pad ?? 0;
    this.split('conv_relu_pool_forward', v, 11, s.batch, 1, s.batch * 4 * hq * wq * kk * s.outChannels, 10);
  }

  /**
   * The backward of convReluPool from its code: dw += x_patchᵀ·dconv, dbias += Σ dconv (when not
   * null), dx = the input gradient (overwritten; skipped when null, as for a first layer), where
   * dconv is dout routed through the pool and the ReLU. Bits as conv2dBackward after relu and
   * maxPool backward into zeroed buffers; dw and dbias are split over threads by rows of dw, dx by
   * samples, so no reduction depends on the thread count.
   * Aliasing: dx, dw and dbias overlap nothing: not each other, nor dout, code, x or w.
   */
  convReluPoolBackward(dx: F32 | null, dw: F32, dbias: F32 | null, dout: F32, code: I32, x: F32, w: F32, s: ConvShape): void {
    const op = 'convReluPoolBackward';
    const { kk, hq, wq } = this.block(op, s);
    const n = s.batch * hq * wq * s.outChannels;
    const oc = s.outChannels;
    const doutp = this.buf(op, 'dout', dout, n, 'batch×⌊h/2⌋×⌊w/2⌋×outChannels', s.batch, hq, wq, oc);
    const codep = this.ibuf(op, 'code', code, n, 'batch×⌊h/2⌋×⌊w/2⌋×outChannels', s.batch, hq, wq, oc);
    const xp = this.buf(op, 'x', x, s.batch * s.h * s.w * s.c, 'batch×h×w×c', s.batch, s.h, s.w, s.c);
    const wp = this.buf(op, 'w', w, kk * oc, '(kh·kw·c)×outChannels', kk, oc);
    const dwp = this.buf(op, 'dw', dw, kk * oc, '(kh·kw·c)×outChannels', kk, oc);
    const dbp = dbias ? this.buf(op, 'dbias', dbias, oc, 'outChannels') : 0;
    const dxp = dx ? this.buf(op, 'dx', dx, s.batch * s.h * s.w * s.c, 'batch×h×w×c', s.batch, s.h, s.w, s.c) : 0;
    for (let i = 0; i < 3; i++) {
      const wn = i === 0 ? 'dx' : i === 1 ? 'dw' : 'dbias';
      const wb = i === 0 ? dx : i === 1 ? dw : dbias;
      this.apart(op, wn, wb, 'dout', dout);
      this.apart(op, wn, wb, 'code', code);
      this.apart(op, wn, wb, 'x', x);
      this.apart(op, wn, wb, 'w', w);
    }
    this.distinct(op, 'dx', dx, 'dw', dw);
    this.distinct(op, 'dx', dx, 'dbias', dbias);
    this.distinct(op, 'dw', dw, 'dbias', dbias);
    const macs = s.batch * s.h * s.w * kk * oc;
    const v = this.argv.conv_relu_pool_backward_weights; // dw dbias dout code x batch h wd c oc pad scratch k0 k1
    v[0] = dwp;
    v[1] = dbp;
    v[2] = doutp;
    v[3] = codep;
    v[4] = xp;
    v[5] = s.batch;
    v[6] = s.h;
    v[7] = s.w;
    v[8] = s.c;
    v[9] = oc;
    v[10] = s.pad ?? 0;
    // Rows of dw, one chunk per thread (the kernel tiles its own range: 9 rows of a 3×3×1 bank split
    // 5 + 4): every chunk pads and unpools every sample again, so more chunks cost more than they
    // balance. Measured on the image CNN's two blocks alone (2 threads vs 1, 2-core AMD EPYC VM):
    // 3 chunks per thread made the 28×28×1→8 block's weight gradient slower than 1 thread (0.79×)
    // and the 14×14×8→16 one 1.37× faster; one chunk per thread gives 1.26× and 1.68×.
    this.split('conv_relu_pool_backward_weights', v, 12, kk, 1, macs, 11, 1);
    if (!dx) return;
    const u = this.argv.conv_relu_pool_backward_input; // dx dout code w batch h wd c oc pad scratch b0 b1
    u[0] = dxp;
    u[1] = doutp;
    u[2] = codep;
    u[3] = wp;
    u[4] = s.batch;
    u[5] = s.h;
    u[6] = s.w;
    u[7] = s.c;
    u[8] = oc;
    u[9] = s.pad ?? 0;
    this.split('conv_relu_pool_backward_input', u, 11, s.batch, 1, macs, 10);
  }

  /**
   * out, argmax (batch,ho,wo,c) = k×k max-pooling of x (batch,h,w,c), stride defaults to k.
   * Aliasing: out and argmax overlap nothing (windows of x are read after earlier outputs are stored).
   */
  maxPool(out: F32, argmax: I32, x: F32, s: PoolShape): void {
    const op = 'maxPool';
    this.size(op, 'batch', s.batch);
    this.size(op, 'h', s.h);
    this.size(op, 'w', s.w);
    this.size(op, 'c', s.c);
    this.size(op, 'k', s.k);
    const stride = s.stride ?? s.k;
    if (s.k < 1 || stride < 1 || s.k > s.h || s.k > s.w) throw new ShapeError(`maxPool: window ${s.k} (stride ${stride}) does not fit a ${dims(s.h, s.w)} input`);
    const { ho, wo } = poolOutputSize(s);
    const n = s.batch * ho * wo * s.c;
    const v = this.argv.max_pool_forward; // out argmax x batch h w c k stride ho wo b0 b1
    v[0] = this.buf(op, 'out', out, n, 'batch×ho×wo×c', s.batch, ho, wo, s.c);
    v[1] = this.ibuf(op, 'argmax', argmax, n, 'batch×ho×wo×c', s.batch, ho, wo, s.c);
    v[2] = this.buf(op, 'x', x, s.batch * s.h * s.w * s.c, 'batch×h×w×c', s.batch, s.h, s.w, s.c);
    this.apart(op, 'out', out, 'x', x);
    this.apart(op, 'argmax', argmax, 'x', x);
    this.distinct(op, 'out', out, 'argmax', argmax);
    v[3] = s.batch;
    v[4] = s.h;
    v[5] = s.w;
    v[6] = s.c;
    v[7] = s.k;
    v[8] = stride;
    v[9] = ho;
    v[10] = wo;
    this.split('max_pool_forward', v, 11, s.batch, 1, n * s.k * s.k * 8, -1);
  }
  /**
   * dx[argmax[i]] += dout[i]; argmax must come from maxPool over a buffer the size of dx.
   * Aliasing: dx must not overlap dout (dx is scattered into while dout is read) nor argmax (its
   * checked indices could change under the writes).
   */
  maxPoolBackward(dx: F32, dout: F32, argmax: I32): void {
    const op = 'maxPoolBackward';
    const n = this.same(op, 'dout and argmax', dout, argmax);
    const idx = this.arena.viewI32(argmax);
    for (let i = 0; i < n; i++) if (!(idx[i] >= 0 && idx[i] < dx.length)) throw new RangeError(`${op}: argmax[${i}] = ${idx[i]} is outside dx (${dx.length} elements)`);
    const d = this.buf(op, 'dx', dx, dx.length),
      g = this.buf(op, 'dout', dout, n),
      a = this.ibuf(op, 'argmax', argmax, n);
    this.apart(op, 'dx', dx, 'dout', dout);
    this.apart(op, 'dx', dx, 'argmax', argmax);
    this.raw.max_pool_backward(d, g, a, n);
  }
}
