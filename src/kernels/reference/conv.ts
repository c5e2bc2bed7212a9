/** Float64 twins of convolution and pooling (assembly/conv.ts); conventions in ./index.ts. */
import type { ConvShape, PoolShape } from '../ops.js';
import type { Vec } from './math.js';

function convGeometry(s: ConvShape): { ho: number; wo: number; stride: number; pad: number } {
  const stride = s.stride ?? 1,
    pad = s.pad ?? 0;
  return { ho: Math.floor((s.h + 2 * pad - s.kh) / stride) + 1, wo: Math.floor((s.w + 2 * pad - s.kw) / stride) + 1, stride, pad };
}

/** col (batch·ho·wo, kh·kw·c) = each output position's receptive field of x (batch,h,w,c) in (ky, kx, channel) order, 0 in the padding. */
export function im2col(x: Vec, s: ConvShape): Float64Array {
  const { ho, wo, stride, pad } = convGeometry(s);
  const kk = s.kh * s.kw * s.c;
  const col = new Float64Array(s.batch * ho * wo * kk);
  for (let b = 0; b < s.batch; b++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++)
        for (let ky = 0; ky < s.kh; ky++)
          for (let kx = 0; kx < s.kw; kx++)
            for (let ch = 0; ch < s.c; ch++) {
              const iy = oy * stride - pad + ky,
                ix = ox * stride - pad + kx;
              const inside = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w;
              col[((b * ho + oy) * wo + ox) * kk + (ky * s.kw + kx) * s.c + ch] = inside ? x[((b * s.h + iy) * s.w + ix) * s.c + ch] : 0;
            }
  return col;
}

/** out (batch,ho,wo,o) = bias[o] + Σ_{ky,kx,ch} x[b, oy·stride−pad+ky, ox·stride−pad+kx, ch] · w[(ky·kw+kx)·c+ch, o], by direct convolution. */
export function conv2d(x: Vec, w: Vec, bias: Vec | null, s: ConvShape): Float64Array {
  const { ho, wo, stride, pad } = convGeometry(s);
  const oc = s.outChannels;
  const out = new Float64Array(s.batch * ho * wo * oc);
  for (let b = 0; b < s.batch; b++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++)
        for (let o = 0; o < oc; o++) {
          let acc = bias ? bias[o] : 0;
          for (let ky = 0; ky < s.kh; ky++)
            for (let kx = 0; kx < s.kw; kx++) {
              const iy = oy * stride - pad + ky,
                ix = ox * stride - pad + kx;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              for (let ch = 0; ch < s.c; ch++) acc += x[((b * s.h + iy) * s.w + ix) * s.c + ch] * w[((ky * s.kw + kx) * s.c + ch) * oc + o];
            }
          out[((b * ho + oy) * wo + ox) * oc + o] = acc;
        }
  return out;
}

/** dx (batch,h,w,c), dw (kh·kw·c, o), dbias (o) of Σ dout ⊙ conv2d(x, w, bias); dout is (batch,ho,wo,o). */
export function conv2dBackward(dout: Vec, x: Vec, w: Vec, s: ConvShape): { dx: Float64Array; dw: Float64Array; dbias: Float64Array } {
  const { ho, wo, stride, pad } = convGeometry(s);
  const oc = s.outChannels;
  const dx = new Float64Array(s.batch * s.h * s.w * s.c),
    dw = new Float64Array(s.kh * s.kw * s.c * oc),
    dbias = new Float64Array(oc);
  for (let b = 0; b < s.batch; b++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++)
        for (let o = 0; o < oc; o++) {
          const g = dout[((b * ho + oy) * wo + ox) * oc + o];
          dbias[o] += g;
          for (let ky = 0; ky < s.kh; ky++)
            for (let kx = 0; kx < s.kw; kx++) {
              const iy = oy * stride - pad + ky,
                ix = ox * stride - pad + kx;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              for (let ch = 0; ch < s.c; ch++) {
                const xi = ((b * s.h + iy) * s.w + ix) * s.c + ch,
                  wi = ((ky * s.kw + kx) * s.c + ch) * oc + o;
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
            }
        }
  return { dx, dw, dbias };
}

function poolGeometry(s: PoolShape): { ho: number; wo: number; stride: number } {
  const stride = s.stride ?? s.k;
  return { ho: Math.floor((s.h - s.k) / stride) + 1, wo: Math.floor((s.w - s.k) / stride) + 1, stride };
}

/** out, argmax (batch,ho,wo,c) = max of x (batch,h,w,c) over k×k windows (no padding); argmax = flat index into x of the first max in (ky, kx) order. */
export function maxPool(x: Vec, s: PoolShape): { out: Float64Array; argmax: Int32Array } {
  const { ho, wo, stride } = poolGeometry(s);
  const out = new Float64Array(s.batch * ho * wo * s.c),
    argmax = new Int32Array(out.length);
  for (let b = 0; b < s.batch; b++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++)
        for (let ch = 0; ch < s.c; ch++) {
          let best = -Infinity,
            bi = -1;
          for (let ky = 0; ky < s.k; ky++)
            for (let kx = 0; kx < s.k; kx++) {
              const idx = ((b * s.h + oy * stride + ky) * s.w + ox * stride + kx) * s.c + ch;
              if (bi < 0 || x[idx] > best) {
                best = x[idx];
                bi = idx;
              }
            }
          const o = ((b * ho + oy) * wo + ox) * s.c + ch;
          out[o] = best;
          argmax[o] = bi;
        }
  return { out, argmax };
}

/** dx (batch,h,w,c) of Σ dout ⊙ maxPool(x): each dout (batch,ho,wo,c) goes to its window's first maximum of x. */
export function maxPoolBackward(dout: Vec, x: Vec, s: PoolShape): Float64Array {
  const { argmax } = maxPool(x, s);
  const dx = new Float64Array(x.length);
  for (let i = 0; i < argmax.length; i++) dx[argmax[i]] += dout[i];
  return dx;
}
