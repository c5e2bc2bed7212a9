/** Float64 twins of divergences and entropy (assembly/divergence.ts); conventions in ./index.ts. */
import type { Vec } from './math.js';
import { softmax } from './softmax.js';

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
