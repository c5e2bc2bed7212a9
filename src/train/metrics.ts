/**
 * Classification metrics from probabilities (n × classes, row-major) or predicted classes. Pure
 * integer/f64 arithmetic. Exported from the package: argmax, accuracy, macroF1, confusionMatrix.
 */
import { UdiError } from '../errors.js';

export function argmaxRows(probs: ArrayLike<number>, n: number, classes: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[i * classes + c] > probs[i * classes + best]) best = c;
    out[i] = best;
  }
  return out;
}

/**
 * The class of highest probability of each row of `probs` (n × classes, row-major); a tie goes to the
 * lowest class.
 */
export function argmax(probs: ArrayLike<number>, classes: number): Int32Array {
  if (!(Number.isInteger(classes) && classes >= 1)) throw new UdiError('BAD_OPTIONS', `argmax: classes must be a whole number >= 1, got ${classes}`);
  if (probs.length % classes !== 0) throw new UdiError('BAD_SHAPE', `argmax: probs has ${probs.length} values, not a multiple of the ${classes} classes`);
  return argmaxRows(probs, probs.length / classes, classes);
}

function sameLength(what: string, pred: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (pred.length !== labels.length) throw new UdiError('BAD_SHAPE', `${what}: ${pred.length} predictions but ${labels.length} labels`);
}

/** The fraction of predictions equal to their label (0 for no rows). */
export function accuracy(pred: ArrayLike<number>, labels: ArrayLike<number>): number {
  sameLength('accuracy', pred, labels);
  if (pred.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) ok++;
  return ok / pred.length;
}

/** Macro-averaged F1 over the classes present in labels or predictions (classes 0..classes-1). */
export function macroF1(pred: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  sameLength('macroF1', pred, labels);
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

/**
 * The confusion matrix, classes × classes row-major: entry [t · classes + p] counts the rows of true
 * class t predicted as p (rows: true class, columns: predicted).
 */
export function confusionMatrix(pred: ArrayLike<number>, labels: ArrayLike<number>, classes: number): Int32Array {
  sameLength('confusionMatrix', pred, labels);
  const out = new Int32Array(classes * classes);
  for (let i = 0; i < pred.length; i++) {
    const t = labels[i],
      p = pred[i];
    if (!(Number.isInteger(t) && t >= 0 && t < classes && Number.isInteger(p) && p >= 0 && p < classes)) throw new UdiError('BAD_LABEL', `confusionMatrix: row ${i} has label ${t} and prediction ${p}; both must be classes 0-${classes - 1}`);
    out[t * classes + p]++;
  }
  return out;
}

export interface Scores {
  acc: number;
  f1: number;
}

export function scores(probs: ArrayLike<number>, labels: Int32Array, classes: number): Scores {
  const pred = argmaxRows(probs, labels.length, classes);
  return { acc: accuracy(pred, labels), f1: macroF1(pred, labels, classes) };
}
