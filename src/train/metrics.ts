/** Classification metrics from probabilities (n × classes, row-major). Pure integer/f64 arithmetic. */

export function argmaxRows(probs: ArrayLike<number>, n: number, classes: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[i * classes + c] > probs[i * classes + best]) best = c;
    out[i] = best;
  }
  return out;
}

export function accuracy(pred: Int32Array, labels: Int32Array): number {
  if (pred.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) ok++;
  return ok / pred.length;
}

/** Macro-averaged F1 over the classes present in labels or predictions. */
export function macroF1(pred: Int32Array, labels: Int32Array, classes: number): number {
  const tp = new Float64Array(classes),
    fp = new Float64Array(classes),
    fn = new Float64Array(classes);
  for (let i = 0; i < pred.length; i++) {
    if (pred[i] === labels[i]) tp[pred[i]]++;
    else {
      fp[pred[i]]++;
      fn[labels[i]]++;
    }
  }
  let sum = 0,
    count = 0;
  for (let c = 0; c < classes; c++) {
    if (tp[c] + fp[c] + fn[c] === 0) continue;
    sum += (2 * tp[c]) / (2 * tp[c] + fp[c] + fn[c]);
    count++;
  }
  return count ? sum / count : 0;
}

export interface Scores {
  acc: number;
  f1: number;
}

export function scores(probs: ArrayLike<number>, labels: Int32Array, classes: number): Scores {
  const pred = argmaxRows(probs, labels.length, classes);
  return { acc: accuracy(pred, labels), f1: macroF1(pred, labels, classes) };
}
