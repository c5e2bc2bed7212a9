/**
 * The network in inference mode over a whole dataset, in batches of the network's inference rows (net.maxRows):
 *
 *   p_m = softmax(z_m / T)   own-head (or shared-head) probabilities, n × C per modality (T = 1 default)
 *   f_m                      encoder features, n × featureDim (feats)
 *   p   = softmax(z)         the joint head, and each modality's block f_m W_m + b/M of it (joint)
 *
 * Outputs land in JavaScript arrays, or (into 'wasm') in arena buffers that stay in WebAssembly
 * memory: targets a stage gathers by row (K.gatherRows) and figures taken by kernels there.
 */
import type { F32 } from '../runtime/arena.js';
import type { Dataset } from '../data/dataset.js';
import { prefix } from '../nn/layers.js';
import { slice } from '../nn/params.js';
import type { MultimodalNet } from './net.js';

export interface Outputs<T = Float32Array> {
  /** Own-head probabilities per modality, n × classes. */
  probs: Record<string, T>;
  /** Encoder features per modality, n × featureDim (when asked). */
  feats: Record<string, T>;
  /** Joint-head probabilities (when asked). */
  joint?: T;
  /** In-model probabilities of each modality's block of the joint head (when asked). */
  jointBlocks?: Record<string, T>;
}

export interface InferOptions {
  feats?: boolean;
  joint?: boolean;
  head?: 'own' | 'shared';
  /** Temperature of the own-head probabilities (not of the joint ones). */
  temperature?: number;
}

/**
 * Run the network in inference mode over a dataset, in batches. Own-head (or shared-head)
 * probabilities for every modality in `modalities`; features and joint outputs on request. With
 * `into: 'wasm'` the outputs are new arena buffers. Rows are copied from JavaScript (or
 * gathered from the data's resident copy when training made one): inference allocates no arena
 * memory besides those outputs.
 */
export function infer(net: MultimodalNet, ds: Dataset, modalities: readonly string[], opts?: InferOptions & { into?: 'js' }): Outputs;
export function infer(net: MultimodalNet, ds: Dataset, modalities: readonly string[], opts: InferOptions & { into: 'wasm' }): Outputs<F32>;
export function infer(net: MultimodalNet, ds: Dataset, modalities: readonly string[], opts: InferOptions & { into?: 'js' | 'wasm' } = {}): Outputs<Float32Array | F32> {
  const K = net.rt.kernels;
  const arena = net.rt.arena;
  const C = net.classes;
  const T = opts.temperature ?? 1;
  const wasm = opts.into === 'wasm';
  const make = (length: number): Float32Array | F32 => (wasm ? arena.f32(length) : new Float32Array(length));
  /** Rows start.. of dst (rows of `dim`) = src. */
  const put = (dst: Float32Array | F32, src: F32, start: number, dim: number) => {
    if (dst instanceof Float32Array) dst.set(arena.viewF32(src), start * dim);
    else K.copy(slice(dst, start * dim, src.length), src);
  };
  const out: Outputs<Float32Array | F32> = { probs: {}, feats: {} };
  for (const m of modalities) {
    out.probs[m] = make(ds.size * C);
    if (opts.feats) out.feats[m] = make(ds.size * net.branch(m).featureDim);
  }
  if (opts.joint) {
    out.joint = make(ds.size * C);
    out.jointBlocks = Object.fromEntries(net.branches.map((b) => [b.name, make(ds.size * C)]));
  }
  const idx = new Int32Array(net.maxRows);
  for (let start = 0; start < ds.size; start += net.maxRows) {
    const n = Math.min(net.maxRows, ds.size - start);
    for (let i = 0; i < n; i++) idx[i] = start + i;
    const rows = idx.subarray(0, n);
    net.load(ds, rows, modalities, false);
    for (const m of modalities) {
      const b = net.forward(m, n, false, opts.head);
      const p = prefix(b.probs, n * C);
      if (T === 1) K.softmax(p, b.logits!, n, C);
      else {
        // softmax is not safe in place: scale the logits in a separate scratch buffer (dlogits is unused in inference).
        const z = prefix(b.dlogits, n * C);
        K.copy(z, b.logits!);
        K.scale(z, 1 / T);
        K.softmax(p, z, n, C);
      }
      put(out.probs[m], p, start, C);
      if (opts.feats) put(out.feats[m], b.feat!, start, b.featureDim);
    }
    if (opts.joint) {
      const z = net.jointForward(n);
      const p = prefix(net.jointProbs, n * C);
      K.softmax(p, z, n, C);
      put(out.joint!, p, start, C);
      const blk = prefix(net.jointDlogits, n * C); // scratch: not in use during inference
      net.branches.forEach((b, i) => {
        net.jointBlockLogits(i, n, blk);
        K.softmax(p, blk, n, C);
        put(out.jointBlocks![b.name], p, start, C);
      });
    }
  }
  return out;
}
