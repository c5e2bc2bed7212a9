/**
 * Float64 references of the network and the loss terms, written from shared/notes/udi-method.md and
 * the papers (not from src/train or src/kernels/reference/), on the autodiff of ./autodiff.ts.
 *
 * Network layout (src/nn/encoders.ts, src/train/net.ts; layout only): parameters are named
 * `<group>.<name>`; a Dense layer `fcK` has `fcK.weight` stored [in, out] row-major and `fcK.bias`
 * [out], y = x·W + b. An MLP encoder `enc:<m>` is fc0, ReLU, fc1, ReLU, ... (ReLU after every layer,
 * the last included: the features are the last ReLU's output). Heads: `head:<m>.fc` (own),
 * `head:joint.fc` over the modalities' features concatenated in declaration order, `head:shared.fc`.
 */
import type { Dataset } from '../../src/data/dataset.js';
import { add, clog, detach, div, leaf, logSoftmax, matmul, mean, mul, oneHot, relu, scalar, scale, softmax, sqrt, square, sub, sum, sumCols, sumRows, transpose, type V } from './autodiff.js';

export type Params = Record<string, Float64Array>;
export type Shapes = Record<string, readonly number[]>;

/** One graph's parameter leaves, created on first use; a fresh Graph per evaluation. */
export class Graph {
  private readonly leaves = new Map<string, V>();
  constructor(
    readonly params: Params,
    readonly shapes: Shapes,
  ) {}
  p(name: string): V {
    let x = this.leaves.get(name);
    if (!x) {
      const v = this.params[name],
        s = this.shapes[name];
      if (!v || !s) throw new Error(`reference: no parameter ${name}`);
      x = s.length === 1 ? leaf(1, s[0], v) : leaf(s[0], s[1], v);
      this.leaves.set(name, x);
    }
    return x;
  }
  has(name: string): boolean {
    return name in this.params;
  }
  /** d(root)/d(parameter) for the parameters this graph used (after backward). */
  grad(name: string): Float64Array {
    return this.leaves.get(name)?.g.slice() ?? new Float64Array(this.params[name].length);
  }
}

/** A modality's rows as a constant (n, dim). */
export function input(ds: Dataset, m: string): V {
  const x = ds.modalities[m];
  return leaf(ds.size, x.dim, x.data);
}

/** y = x·W + b for the Dense `<group>.<layer>`. */
export function dense(G: Graph, group: string, layer: string, x: V): V {
  return add(matmul(x, G.p(`${group}.${layer}.weight`)), G.p(`${group}.${layer}.bias`));
}

/** MLP encoder of modality m: ReLU(Dense) for fc0, fc1, ... as many as the parameters name. */
export function encode(G: Graph, m: string, x: V): V {
  let h = x;
  for (let k = 0; G.has(`enc:${m}.fc${k}.weight`); k++) h = relu(dense(G, `enc:${m}`, `fc${k}`, h));
  if (h === x) throw new Error(`reference: enc:${m} has no fc0 (only MLP encoders are referenced)`);
  return h;
}

/** Mean softmax cross-entropy of logits z (n, C) against labels. */
export function crossEntropy(z: V, labels: ArrayLike<number>): V {
  return scale(sum(mul(logSoftmax(z), oneHot(labels, z.c))), -1 / z.r);
}

/**
 * Consistency term (udi-method.md §4): mean over rows of JS(p_a || p_m) = ½ KL(p_a || r) + ½ KL(p_m || r),
 * r = (p_a + p_m)/2, with p_m = softmax(z_m / T) and every probability clamped to >= eps inside
 * the logs. `pa` are the anchor's targets, softmax(z_a / T), given as probabilities.
 */
export function jsConsistency(pa: V, zm: V, T: number, eps: number): V {
  const pm = softmax(scale(zm, 1 / T));
  const r = scale(add(pa, pm), 0.5);
  const lr = clog(r, eps);
  const perRow = add(sumCols(mul(pa, sub(clog(pa, eps), lr))), sumCols(mul(pm, sub(clog(pm, eps), lr))));
  return scale(mean(perRow), 0.5);
}

/**
 * Batch standardisation of each column: (x − mean) / sqrt(var + eps), var the POPULATION variance
 * (divide by rows), eps = 1e-5 inside the square root. Convention from assembly/xcorr.ts's header
 * ("biased variance, over rows", invstd = 1/sqrt(var + eps)) and the eps default of
 * Kernels.standardize; the notes only say "batch-standardised".
 */
export function standardize(x: V, eps = 1e-5): V {
  const d = sub(x, scale(sumRows(x), 1 / x.r));
  const variance = scale(sumRows(square(d)), 1 / x.r);
  return div(d, sqrt(add(variance, scalar(eps))));
}

/**
 * Complementary term (udi-method.md §4, [ours]): mean over (j, k) of C_jk², C = F̂ᵀĜ / n, F̂ and Ĝ the
 * batch-standardised follower and anchor features. Zero when every pair of features is uncorrelated.
 */
export function xcorrRedundancy(f: V, g: V): V {
  const C = scale(matmul(transpose(standardize(f)), standardize(g)), 1 / f.r);
  return mean(square(C));
}

/** Mean squared error over every element (UMT's feature distillation, F.mse_loss's default). */
export function mse(f: V, t: V): V {
  return mean(square(sub(f, t)));
}

/** Rows divided by their L2 norm (+1e-12 against a zero row). */
export function l2rows(f: V): V {
  return div(f, add(sqrt(sumCols(square(f))), scalar(1e-12)));
}

/**
 * One-way InfoNCE (DI-MML as this project simplifies it): S = ĥ_w ĥ_sᵀ / τ between the weaker
 * modality's normalised features (rows i) and the stronger's (columns j, no gradient), cross-entropy
 * of each row against its own index (the matching sample), mean over rows.
 */
export function infoNCE(fw: V, fs: V, tau: number): V {
  const S = scale(matmul(l2rows(fw), transpose(detach(l2rows(fs)))), 1 / tau);
  return crossEntropy(
    S,
    Array.from({ length: S.r }, (_, i) => i),
  );
}

/** Row-wise softmax of logits, as plain numbers (e.g. to inspect targets). */
export function probabilities(z: V, T = 1): Float64Array {
  return softmax(scale(z, 1 / T)).v;
}
