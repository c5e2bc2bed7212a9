/**
 * UDI's anchor: chosen after the solo stage, then frozen, its training-set targets cached once.
 *
 *   selection  a = argmax_m acc_val(m); if the top two are within ε, the one with the lower mean
 *              entropy H(p) = −Σ_c p_c log p_c on validation [paper; ε ours]; or forced by name
 *   cache      p_a = softmax(z_a / T) (N × C) and f_a (N × d_a) for the N training rows: the anchor
 *              never changes after selection, so the guided stage reads rows of these [ours]
 */
import type { F32 } from '../../runtime/arena.js';
import { scores } from '../metrics.js';
import type { Run } from '../run.js';
import { infer } from '../infer.js';
import { TrainingError } from '../trainer.js';
import type { Result, UdiOptions } from '../types.js';

export type AnchorChoice = NonNullable<Result['anchor']>;

/** The anchor's cached training-set targets in WebAssembly memory: probabilities at temperature T (rows × C) and features (rows × dim). */
export interface AnchorCache {
  probs: F32;
  feats: F32;
  dim: number;
}

export function selectAnchor(run: Run, o: UdiOptions): AnchorChoice {
  const net = run.net;
  const K = net.rt.kernels;
  const arena = net.rt.arena;
  const validation: Record<string, { acc: number; entropy: number }> = {};
  // The probabilities stay in WebAssembly memory for the entropy kernel; accuracy reads them through a view.
  const mark = arena.mark();
  const out = infer(net, run.val, run.names, { into: 'wasm' });
  for (const m of run.names) {
    const entropy = K.entropy(out.probs[m], run.val.size, net.classes, o.eps);
    validation[m] = { acc: scores(arena.viewF32(out.probs[m]), run.val.labels, net.classes).acc, entropy };
  }
  arena.release(mark);
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

/** The anchor's cached training-set targets: probabilities at temperature T and features, in WebAssembly memory. */
export function cacheAnchor(run: Run, anchor: string, T: number): AnchorCache {
  const out = infer(run.net, run.train, [anchor], { into: 'wasm', temperature: T, feats: true });
  return { probs: out.probs[anchor], feats: out.feats[anchor], dim: run.net.branch(anchor).featureDim };
}
