/**
 * UDI's anchor: chosen after the solo stage, then frozen, its training-set targets cached once.
 *
 *   selection  a = argmax_m acc_val(m); if the top two are within ε, the one with the lower mean
 *              entropy H(p) = −Σ_c p_c log p_c on validation [paper; ε ours]; or forced by name
 *   cache      p_a = softmax(z_a / T) (N × C) and f_a (N × d_a) for the N training rows: the anchor
 *              never changes after selection, so the guided stage reads rows of these [ours]
 */
import { prefix } from '../../nn/layers.js';
import { scores } from '../metrics.js';
import type { Run } from '../run.js';
import { infer, TrainingError } from '../trainer.js';
import type { Result, UdiOptions } from '../types.js';

export type AnchorChoice = NonNullable<Result['anchor']>;

/** The anchor's cached training-set targets: probabilities at temperature T (rows × C) and features (rows × dim). */
export interface AnchorCache {
  probs: Float32Array;
  feats: Float32Array;
  dim: number;
}

export function selectAnchor(run: Run, o: UdiOptions): AnchorChoice {
  const net = run.net;
  const K = net.rt.kernels;
  const arena = net.rt.arena;
  const validation: Record<string, { acc: number; entropy: number }> = {};
  const out = infer(net, run.val, run.names);
  for (const m of run.names) {
    const mark = arena.mark();
    const p = arena.f32From(out.probs[m]);
    validation[m] = { acc: scores(out.probs[m], run.val.labels, net.classes).acc, entropy: K.entropy(p, run.val.size, net.classes, o.eps) };
    arena.release(mark);
  }
  if (o.anchor !== undefined) {
    if (!run.names.includes(o.anchor)) throw new TrainingError('BAD_ANCHOR', `udi.anchor: "${o.anchor}" is not a modality of this run (${run.names.join(', ')})`);
    return { name: o.anchor, reason: 'forced by the udi.anchor option', validation };
  }
  const ranked = [...run.names].sort((a, b) => validation[b].acc - validation[a].acc || run.names.indexOf(a) - run.names.indexOf(b));
  const [first, second] = ranked;
  const fmt = (m: string) => `${m} ${(100 * validation[m].acc).toFixed(2)}%`;
  if (validation[first].acc - validation[second].acc < o.epsilon) {
    const pick = validation[second].entropy < validation[first].entropy ? second : first;
    return { name: pick, reason: `validation accuracies within ${(100 * o.epsilon).toFixed(2)} points (${fmt(first)}, ${fmt(second)}); lower mean entropy wins (${validation[pick].entropy.toFixed(4)})`, validation };
  }
  return { name: first, reason: `best validation accuracy (${ranked.map(fmt).join(' > ')})`, validation };
}

/** The anchor's cached training-set targets: probabilities at temperature T and features. */
export function cacheAnchor(run: Run, anchor: string, T: number): AnchorCache {
  const net = run.net;
  const K = net.rt.kernels;
  const arena = net.rt.arena;
  const C = net.classes;
  const b = net.branch(anchor);
  const probs = new Float32Array(run.train.size * C);
  const feats = new Float32Array(run.train.size * b.featureDim);
  const idx = new Int32Array(net.maxBatch);
  for (let start = 0; start < run.train.size; start += net.maxBatch) {
    const n = Math.min(net.maxBatch, run.train.size - start);
    for (let i = 0; i < n; i++) idx[i] = start + i;
    net.load(run.train, idx.subarray(0, n), [anchor]);
    net.forward(anchor, n, false);
    // softmax is not safe in place: scale the logits in a separate scratch buffer (dlogits is unused in inference).
    const z = prefix(b.dlogits, n * C),
      p = prefix(b.probs, n * C);
    K.copy(z, b.logits!);
    if (T !== 1) K.scale(z, 1 / T);
    K.softmax(p, z, n, C);
    probs.set(arena.viewF32(p), start * C);
    feats.set(arena.viewF32(b.feat!), start * b.featureDim);
  }
  return { probs, feats, dim: b.featureDim };
}
