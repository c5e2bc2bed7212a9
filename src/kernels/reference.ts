/**
 * The plain TypeScript twin of every WebAssembly kernel, computing in float64. Written to be
 * obviously right rather than fast: triple loops for matmul, direct convolution (no im2col), direct
 * max-pooling, one loop per formula. Tests compare the scalar and SIMD builds against it and check
 * every backward here against central differences of the forward here.
 *
 * Conventions as in the kernels: row-major matrices, NHWC images, filter banks (kh·kw·c, outChannels),
 * forward next to backward. Inputs are any array of numbers (Float32Array, Float64Array, number[]);
 * outputs are fresh Float64Arrays. Backward functions *return* the gradient (dx = ...) where the
 * kernels accumulate (dx += ...), and are the exact analytic gradients of the forward next to them.
 * Scalars that the kernels receive as f32 (invT, eps, p, lr, ...) are used as given: pass
 * Math.fround(v) to reproduce a kernel call exactly.
 */
import type { ConvShape, MatmulLayout, PoolShape } from './ops.js';

type Vec = ArrayLike<number>;

// ---- matmul -------------------------------------------------------------------------------------

/** Floats of matmul scratch per thread: MC·KC packed A + KC·NC packed B + one 4×8 edge tile. */
export const MATMUL_SCRATCH_FLOATS = 64 * 256 + 256 * 512 + 32;

const elemA = (a: Vec, layout: MatmulLayout, i: number, p: number, m: number, k: number) => (layout === 'tn' ? a[p * m + i] : a[i * k + p]);
const elemB = (b: Vec, layout: MatmulLayout, p: number, j: number, n: number, k: number) => (layout === 'nt' ? b[j * k + p] : b[p * n + j]);

/** C (m,n) = c0 (m,n; or 0) + bias (n; or 0) + op(A)·op(B); 'nn': A (m,k), B (k,n); 'nt': B is (n,k); 'tn': A is (k,m). */
export function matmul(a: Vec, b: Vec, m: number, n: number, k: number, layout: MatmulLayout = 'nn', bias: Vec | null = null, c0: Vec | null = null): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = (c0 ? c0[i * n + j] : 0) + (bias ? bias[j] : 0);
      for (let p = 0; p < k; p++) s += elemA(a, layout, i, p, m, k) * elemB(b, layout, p, j, n, k);
      c[i * n + j] = s;
    }
  }
  return c;
}

/** dA (A's layout), dB (B's layout), dbias (n) of Σ dC ⊙ matmul(A, B, ...); dC is (m,n). */
export function matmulBackward(dc: Vec, a: Vec, b: Vec, m: number, n: number, k: number, layout: MatmulLayout = 'nn'): { da: Float64Array; db: Float64Array; dbias: Float64Array } {
  const da = new Float64Array(m * k),
    db = new Float64Array(k * n),
    dbias = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += dc[i * n + j] * elemB(b, layout, p, j, n, k);
      da[layout === 'tn' ? p * m + i : i * k + p] = s;
    }
  }
  for (let p = 0; p < k; p++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += elemA(a, layout, i, p, m, k) * dc[i * n + j];
      db[layout === 'nt' ? j * k + p : p * n + j] = s;
    }
  }
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) dbias[j] += dc[i * n + j];
  return { da, db, dbias };
}

// ---- bias and activations -----------------------------------------------------------------------

/** out (rows,cols) = x (rows,cols) + bias (cols) on every row. */
export function biasAdd(x: Vec, bias: Vec, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + j] + bias[j];
  return out;
}

/** dbias (cols) = column sums of dout (rows,cols); (dx is dout itself). */
export function biasAddBackward(dout: Vec, rows: number, cols: number): Float64Array {
  const dbias = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) dbias[j] += dout[r * cols + j];
  return dbias;
}

/** out (n) = max(x, 0). */
export function relu(x: Vec): Float64Array {
  return Float64Array.from(x, (v) => (v > 0 ? v : 0));
}

/** dx (n) = dout where x > 0, else 0. */
export function reluBackward(dout: Vec, x: Vec): Float64Array {
  return Float64Array.from(x, (v, i) => (v > 0 ? dout[i] : 0));
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/** out (n) = 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), the tanh approximation of GELU. */
export function gelu(x: Vec): Float64Array {
  return Float64Array.from(x, (v) => 0.5 * v * (1 + Math.tanh(GELU_C * (v + GELU_A * v * v * v))));
}

/** dx (n) = dout · gelu'(x). */
export function geluBackward(dout: Vec, x: Vec): Float64Array {
  return Float64Array.from(x, (v, i) => {
    const t = Math.tanh(GELU_C * (v + GELU_A * v * v * v));
    return dout[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * v * v));
  });
}

/** mask (n) = 1/(1−p) where the generator's next uniform u >= p, else 0 (advances `state` n times). */
export function dropoutMask(n: number, p: number, state: Uint32Array): Float64Array {
  const keep = p < 1 ? 1 / (1 - p) : 0;
  const mask = new Float64Array(n);
  for (let i = 0; i < n; i++) mask[i] = uniform24(state) >= p ? keep : 0;
  return mask;
}

/** out (n) = x (n) ⊙ mask (n). */
export function dropout(x: Vec, mask: Vec): Float64Array {
  return Float64Array.from(x, (v, i) => v * mask[i]);
}

/** dx (n) = dout ⊙ mask. */
export function dropoutBackward(dout: Vec, mask: Vec): Float64Array {
  return Float64Array.from(dout, (v, i) => v * mask[i]);
}

// ---- softmax and losses -------------------------------------------------------------------------

/** out (rows,cols) = softmax along cols of x·invT (x is (rows,cols)). */
export function softmax(x: Vec, rows: number, cols: number, invT = 1): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity;
    for (let j = 0; j < cols; j++) mx = Math.max(mx, x[r * cols + j] * invT);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[r * cols + j] * invT - mx);
    for (let j = 0; j < cols; j++) out[r * cols + j] = Math.exp(x[r * cols + j] * invT - mx) / s;
  }
  return out;
}

/** dx (rows,cols) = y ⊙ (dy − Σ_j dy·y) per row; y = softmax(x) (invT 1). */
export function softmaxBackward(dy: Vec, y: Vec, rows: number, cols: number): Float64Array {
  const dx = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += dy[r * cols + j] * y[r * cols + j];
    for (let j = 0; j < cols; j++) dx[r * cols + j] = y[r * cols + j] * (dy[r * cols + j] - s);
  }
  return dx;
}

/** out (rows,cols) = x − log Σ_j exp(x) per row, computed as (x − max) − log Σ_j exp(x − max). */
export function logSoftmax(x: Vec, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const mx = rowMax(x, r * cols, cols),
      ls = logSumExpShifted(x, r * cols, cols, mx);
    for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + j] - mx - ls;
  }
  return out;
}

/** dx (rows,cols) = dy − exp(y)·Σ_j dy per row; y = logSoftmax(x). */
export function logSoftmaxBackward(dy: Vec, y: Vec, rows: number, cols: number): Float64Array {
  const dx = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += dy[r * cols + j];
    for (let j = 0; j < cols; j++) dx[r * cols + j] = dy[r * cols + j] - Math.exp(y[r * cols + j]) * s;
  }
  return dx;
}

/** probs (rows,cols) = softmax(logits); loss = mean over rows of −log probs[label]; labels (rows) in [0, cols). */
export function softmaxCrossEntropy(logits: Vec, labels: Vec, rows: number, cols: number): { loss: number; probs: Float64Array } {
  const probs = softmax(logits, rows, cols);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const mx = rowMax(logits, r * cols, cols);
    total += logSumExpShifted(logits, r * cols, cols, mx) - (logits[r * cols + labels[r]] - mx);
  }
  return { loss: rows > 0 ? total / rows : 0, probs };
}

/** dlogits (rows,cols) = scale · (probs − onehot(labels)) / rows. */
export function softmaxCrossEntropyBackward(probs: Vec, labels: Vec, rows: number, cols: number, scale = 1): Float64Array {
  const d = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) d[r * cols + j] = (scale * (probs[r * cols + j] - (j === labels[r] ? 1 : 0))) / rows;
  return d;
}

/** log(max(p, eps)): the clamped log of the divergences and the entropy. */
const clog = (p: number, eps: number) => Math.log(Math.max(p, eps));

/** pm = softmax(zm·invT), pa and zm (rows,cols); loss = mean over rows of JS(pa || pm) = ½KL(pa||r) + ½KL(pm||r), r = (pa+pm)/2. */
export function jsDivergence(pa: Vec, zm: Vec, rows: number, cols: number, invT = 1, eps = 1e-7): { loss: number; pm: Float64Array } {
  const pm = softmax(zm, rows, cols, invT);
  let total = 0;
  for (let i = 0; i < rows * cols; i++) {
    const a = pa[i],
      m = pm[i],
      lr = clog(0.5 * (a + m), eps);
    total += 0.5 * (a * (clog(a, eps) - lr) + m * (clog(m, eps) - lr));
  }
  return { loss: rows > 0 ? total / rows : 0, pm };
}

/**
 * dzm (rows,cols) = scale · ∂ mean JS / ∂zm = scale/rows · invT · pm ⊙ (g − Σ pm·g), g = ∂JS/∂pm =
 * ½(clog pm − clog r + [pm > eps] − [r > eps]): a clamped log has derivative 0 where the clamp binds.
 */
export function jsDivergenceBackward(pa: Vec, pm: Vec, rows: number, cols: number, invT = 1, eps = 1e-7, scale = 1): Float64Array {
  const dz = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const g = new Float64Array(cols);
    let sg = 0;
    for (let j = 0; j < cols; j++) {
      const a = pa[r * cols + j],
        m = pm[r * cols + j];
      const r2 = 0.5 * (a + m);
      g[j] = 0.5 * (clog(m, eps) - clog(r2, eps) + (m > eps ? 1 : 0) - (r2 > eps ? 1 : 0));
      sg += m * g[j];
    }
    for (let j = 0; j < cols; j++) dz[r * cols + j] = ((scale * invT) / rows) * pm[r * cols + j] * (g[j] - sg);
  }
  return dz;
}

/** pm = softmax(zm·invT); loss = mean over rows of KL(pa || pm) = Σ_{pa>0} pa (log pa − log pm). */
export function klDivergence(pa: Vec, zm: Vec, rows: number, cols: number, invT = 1, eps = 1e-7): { loss: number; pm: Float64Array } {
  const pm = softmax(zm, rows, cols, invT);
  let total = 0;
  for (let i = 0; i < rows * cols; i++) if (pa[i] > 0) total += pa[i] * (clog(pa[i], eps) - clog(pm[i], eps));
  return { loss: rows > 0 ? total / rows : 0, pm };
}

/** dzm (rows,cols) = scale · ∂ mean KL / ∂zm = scale/rows · invT · (pm·Σ_j pa − pa): the gradient of the unclamped KL (the clamp guards the value only). */
export function klDivergenceBackward(pa: Vec, pm: Vec, rows: number, cols: number, invT = 1, scale = 1): Float64Array {
  const dz = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let sa = 0;
    for (let j = 0; j < cols; j++) sa += pa[r * cols + j];
    for (let j = 0; j < cols; j++) dz[r * cols + j] = ((scale * invT) / rows) * (pm[r * cols + j] * sa - pa[r * cols + j]);
  }
  return dz;
}

/** Mean over rows of −Σ_{p>0} p log max(p, eps); p is (rows,cols). Forward only. */
export function entropy(p: Vec, rows: number, cols: number, eps = 1e-7): number {
  let total = 0;
  for (let i = 0; i < rows * cols; i++) if (p[i] > 0) total -= p[i] * clog(p[i], eps);
  return rows > 0 ? total / rows : 0;
}

// ---- the complementary (cross-correlation) loss -------------------------------------------------

/** xhat (rows,cols) = (x − mean)·invstd per column; invstd (cols) = 1/sqrt(biased var + eps). */
export function standardize(x: Vec, rows: number, cols: number, eps = 1e-5): { xhat: Float64Array; invstd: Float64Array } {
  const xhat = new Float64Array(rows * cols),
    invstd = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += x[r * cols + j];
    const mean = rows > 0 ? s / rows : 0;
    let v = 0;
    for (let r = 0; r < rows; r++) v += (x[r * cols + j] - mean) ** 2;
    invstd[j] = 1 / Math.sqrt((rows > 0 ? v / rows : 0) + eps);
    for (let r = 0; r < rows; r++) xhat[r * cols + j] = (x[r * cols + j] - mean) * invstd[j];
  }
  return { xhat, invstd };
}

/** dx (rows,cols) = invstd · (dxhat − mean(dxhat) − xhat · mean(dxhat ⊙ xhat)) per column. */
export function standardizeBackward(dxhat: Vec, xhat: Vec, invstd: Vec, rows: number, cols: number): Float64Array {
  const dx = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) {
    let s = 0,
      sx = 0;
    for (let r = 0; r < rows; r++) {
      s += dxhat[r * cols + j];
      sx += dxhat[r * cols + j] * xhat[r * cols + j];
    }
    for (let r = 0; r < rows; r++) dx[r * cols + j] = invstd[j] * (dxhat[r * cols + j] - s / rows - (xhat[r * cols + j] * sx) / rows);
  }
  return dx;
}

/** fhat, invstd = standardize(f (rows,d1)); c (d1,d2) = fhatᵀ·ghat / rows; loss = Σ c² / (d1·d2); ghat (rows,d2) is given. */
export function crossCorrelation(f: Vec, ghat: Vec, rows: number, d1: number, d2: number, eps = 1e-5): { loss: number; c: Float64Array; fhat: Float64Array; invstd: Float64Array } {
  const { xhat: fhat, invstd } = standardize(f, rows, d1, eps);
  const c = new Float64Array(d1 * d2);
  let total = 0;
  for (let i = 0; i < d1; i++) {
    for (let j = 0; j < d2; j++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += fhat[r * d1 + i] * ghat[r * d2 + j];
      c[i * d2 + j] = rows > 0 ? s / rows : 0;
      total += c[i * d2 + j] ** 2;
    }
  }
  return { loss: d1 > 0 && d2 > 0 ? total / (d1 * d2) : 0, c, fhat, invstd };
}

/** df (rows,d1) = scale · ∂loss/∂f: dfhat[r,i] = Σ_j ghat[r,j]·2c[i,j]/(d1·d2·rows), then standardizeBackward. */
export function crossCorrelationBackward(c: Vec, fhat: Vec, invstd: Vec, ghat: Vec, rows: number, d1: number, d2: number, scale = 1): Float64Array {
  if (rows <= 0 || d1 <= 0 || d2 <= 0) return new Float64Array(rows * d1);
  const dfhat = new Float64Array(rows * d1);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < d1; i++) {
      let s = 0;
      for (let j = 0; j < d2; j++) s += ghat[r * d2 + j] * c[i * d2 + j];
      dfhat[r * d1 + i] = (2 * scale * s) / (d1 * d2 * rows);
    }
  }
  return standardizeBackward(dfhat, fhat, invstd, rows, d1);
}

// ---- convolution and pooling --------------------------------------------------------------------

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

// ---- flat vectors -------------------------------------------------------------------------------

/** Σ x[i]·y[i]; x, y are (n). */
export function dot(x: Vec, y: Vec): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

/** Σ x[i]²; x is (n). */
export function sumsq(x: Vec): number {
  return dot(x, x);
}

/** y + a·x; x, y are (n). */
export function axpy(y: Vec, x: Vec, a: number): Float64Array {
  return Float64Array.from(y, (v, i) => v + a * x[i]);
}

/** a·x; x is (n). */
export function scale(x: Vec, a: number): Float64Array {
  return Float64Array.from(x, (v) => v * a);
}

/** (n) copies of v. */
export function fill(n: number, v: number): Float64Array {
  return new Float64Array(n).fill(v);
}

/** A copy of x (n). */
export function copy(x: Vec): Float64Array {
  return Float64Array.from(x);
}

// ---- optimisers ---------------------------------------------------------------------------------

export interface SgdOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** The smallest normal f32: optimiser state below it is flushed to 0 (see assembly/optim.ts). */
export const F32_MIN_NORMAL = 2 ** -126;
const flush = (x: number, min: number) => (Math.abs(x) < min ? 0 : x);

/**
 * One SGD step over p, g, v (n): g' = g + wd·p; v = momentum·v + g', flushed to 0 below
 * F32_MIN_NORMAL / lr (0 < lr < 1; else F32_MIN_NORMAL); p −= lr·(nesterov ? g' + momentum·v : v).
 */
export function sgdStep(p: Vec, g: Vec, v: Vec, o: SgdOptions): { p: Float64Array; v: Float64Array } {
  const mu = o.momentum ?? 0,
    wd = o.weightDecay ?? 0;
  const vmin = o.lr > 0 && o.lr < 1 ? F32_MIN_NORMAL / o.lr : F32_MIN_NORMAL;
  const np = new Float64Array(p.length),
    nv = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const gg = g[i] + wd * p[i];
    nv[i] = flush(mu * v[i] + gg, vmin);
    np[i] = p[i] - o.lr * (o.nesterov ? gg + mu * nv[i] : nv[i]);
  }
  return { p: np, v: nv };
}

export interface AdamWOptions {
  lr: number;
  step: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** One AdamW step t over p, g, m, v (n): m, v moments (flushed to 0 below F32_MIN_NORMAL); p −= lr·((m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps) + wd·p). */
export function adamwStep(p: Vec, g: Vec, m: Vec, v: Vec, o: AdamWOptions): { p: Float64Array; m: Float64Array; v: Float64Array } {
  const b1 = o.beta1 ?? 0.9,
    b2 = o.beta2 ?? 0.999,
    eps = o.eps ?? 1e-8,
    wd = o.weightDecay ?? 0;
  const bc1 = 1 - b1 ** o.step,
    bc2 = 1 - b2 ** o.step;
  const np = new Float64Array(p.length),
    nm = new Float64Array(p.length),
    nv = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    nm[i] = flush(b1 * m[i] + (1 - b1) * g[i], F32_MIN_NORMAL);
    nv[i] = flush(b2 * v[i] + (1 - b2) * g[i] * g[i], F32_MIN_NORMAL);
    np[i] = p[i] - o.lr * (nm[i] / bc1 / (Math.sqrt(nv[i] / bc2) + eps) + wd * p[i]);
  }
  return { p: np, m: nm, v: nv };
}

// ---- random numbers: xoshiro128** (Blackman & Vigna, 2018) seeded by splitmix64 ----------------

const MASK64 = (1n << 64n) - 1n;

function splitmix64(x: bigint): bigint {
  x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return x ^ (x >> 31n);
}

/** The generator state (4 u32 words, as the kernels store it) for a 32-bit seed and stream id. */
export function rng(seed: number, stream: number): Uint32Array {
  let x = (BigInt(seed >>> 0) << 32n) | BigInt(stream >>> 0);
  x = (x + 0x9e3779b97f4a7c15n) & MASK64;
  const a = splitmix64(x);
  x = (x + 0x9e3779b97f4a7c15n) & MASK64;
  const b = splitmix64(x);
  const s = new Uint32Array([Number(a & 0xffffffffn), Number(a >> 32n), Number(b & 0xffffffffn), Number(b >> 32n)]);
  if ((a | b) === 0n) s[0] = 1;
  return s;
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** Next u32 of the generator (advances `state`). */
export function rngNext(state: Uint32Array): number {
  const s1 = state[1];
  const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
  const t = (s1 << 9) >>> 0;
  state[2] ^= state[0];
  state[3] ^= state[1];
  state[1] ^= state[2];
  state[0] ^= state[3];
  state[2] ^= t;
  state[3] = rotl(state[3], 11);
  return result;
}

/** The top 24 bits of the next draw as a number in [0, 1). */
const uniform24 = (state: Uint32Array) => (rngNext(state) >>> 8) * 2 ** -24;

/** out (n) = lo + (hi − lo)·u, u uniform in [0, 1) from the top 24 bits of each draw. */
export function uniform(n: number, state: Uint32Array, lo = 0, hi = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * uniform24(state);
  return out;
}

/** out (n) = normal(mean, std) by Marsaglia's polar method, two values per accepted pair. */
export function normal(n: number, state: Uint32Array, mean = 0, std = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; ) {
    const u = uniform24(state) * 2 - 1,
      v = uniform24(state) * 2 - 1;
    const s = u * u + v * v;
    if (s >= 1 || s === 0) continue;
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    out[i++] = mean + std * u * f;
    if (i < n) out[i++] = mean + std * v * f;
  }
  return out;
}

/** out (n) = a uniformly random permutation of 0..n−1 by Fisher-Yates, rejecting draws above the largest multiple of i+1. */
export function permutation(n: number, state: Uint32Array): Int32Array {
  const out = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const bound = i + 1;
    const limit = 2 ** 32 - (2 ** 32 % bound) - 1;
    let r = rngNext(state);
    while (r > limit) r = rngNext(state);
    const j = r % bound;
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

// ---- helpers ------------------------------------------------------------------------------------

/** max_j x[off + j] for j in [0, cols). */
function rowMax(x: Vec, off: number, cols: number): number {
  let mx = -Infinity;
  for (let j = 0; j < cols; j++) mx = Math.max(mx, x[off + j]);
  return mx;
}

/** log Σ_j exp(x[off + j] − mx): log Σ exp(x) minus mx, kept apart from mx so huge logits do not absorb it. */
function logSumExpShifted(x: Vec, off: number, cols: number, mx: number): number {
  let s = 0;
  for (let j = 0; j < cols; j++) s += Math.exp(x[off + j] - mx);
  return Math.log(s);
}

// ---- audio -------------------------------------------------------------------------------------

/** out (frames, nfft/2+1) = |DFT(hann · frame_t)|² by the direct O(nfft²) DFT; frames zero-padded past the end. */
export function stftPower(signal: Vec, nfft: number, hop: number): { frames: number; out: Float64Array } {
  const len = signal.length;
  const frames = len <= nfft ? 1 : 1 + Math.ceil((len - nfft) / hop);
  const bins = nfft / 2 + 1;
  const out = new Float64Array(frames * bins);
  for (let t = 0; t < frames; t++) {
    const x = Array.from({ length: nfft }, (_, i) => {
      const s = t * hop + i;
      return (s < len ? signal[s] : 0) * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / nfft));
    });
    for (let k = 0; k < bins; k++) {
      let re = 0,
        im = 0;
      for (let i = 0; i < nfft; i++) {
        re += x[i] * Math.cos((2 * Math.PI * k * i) / nfft);
        im -= x[i] * Math.sin((2 * Math.PI * k * i) / nfft);
      }
      out[t * bins + k] = re * re + im * im;
    }
  }
  return { frames, out };
}

/** out = log(max(x, eps)). */
export function logEps(x: Vec, eps: number): Float64Array {
  return Float64Array.from(x, (v) => Math.log(v > eps ? v : eps));
}

/** out (n, dim) = rows idx[i] of src (rows, dim). */
export function gatherRows(src: Vec, idx: ArrayLike<number>, dim: number): Float64Array {
  const out = new Float64Array(idx.length * dim);
  for (let i = 0; i < idx.length; i++) for (let j = 0; j < dim; j++) out[i * dim + j] = src[idx[i] * dim + j];
  return out;
}
