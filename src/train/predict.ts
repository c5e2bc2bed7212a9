/**
 * Prediction for users of a trained model: raw rows (or one sample) per modality in, classes and
 * probabilities out, no labels; `evaluate` with labels. Every input is checked (modality names,
 * widths, row counts, finite values, labels) with an error naming the modality, row and column, and
 * raw inputs are standardised with the model's own statistics (Model.preprocess) exactly as the
 * training pipeline standardised its splits, so the probabilities are the same bits.
 *
 *   classify(model, { audio: row })                 one sample        -> Prediction (n = 1)
 *   classify(model, { image: rows })                rows (any subset of the modalities)
 *   predictProba / predictClasses                   the probabilities / classes alone
 *   evaluate(model, input, labels)                  accuracy, macro-F1, confusion matrix, per class
 */
import { applyStandardize, type Dataset, DataError, type Modality } from '../data/dataset.js';
import type { ErrorCode } from '../errors.js';
import { accuracy, argmaxRows, confusionMatrix, macroF1 } from './metrics.js';
import { predict } from './train.js';
import type { Model } from './types.js';

/**
 * One modality's input, as it comes (raw) unless `inputs: 'preprocessed'`:
 * - one sample: `dim` numbers (a plain array or any typed array);
 * - rows: an array of rows of `dim` numbers each (plain or typed arrays);
 * - n × dim numbers row-major, flat (a length that is a multiple of `dim`), or as `{ data, dim }`.
 */
export type ModalityInput = ArrayLike<number> | readonly ArrayLike<number>[] | { readonly data: ArrayLike<number>; readonly dim: number };

/** Inputs by modality name: any non-empty subset of the model's modalities, the same rows in each. */
export type PredictInput = Readonly<Record<string, ModalityInput>>;

export interface PredictOptions {
  /**
   * 'raw' (the default): inputs as they come; the model's standardisation (Model.preprocess) is
   * applied, and a model that does not record one is refused. 'preprocessed': inputs as the network
   * saw them in training (already standardised); nothing is applied.
   */
  inputs?: 'raw' | 'preprocessed';
}

/** What a model predicts for n rows: plain data (typed arrays), so it can be posted to a worker. */
export interface Prediction {
  /** Rows predicted (1 for one sample). */
  n: number;
  /** Number of classes: the width of each row of `probs`. */
  numClasses: number;
  /** The predicted class of each row (the highest probability; a tie goes to the lowest class). */
  classes: Int32Array;
  /** Fused class probabilities, n × numClasses, row-major: row i is probs.subarray(i·numClasses, (i+1)·numClasses). */
  probs: Float32Array;
  /** The modalities the prediction used (those of the input the model fuses). */
  modalities: string[];
}

export interface ClassScores {
  /** Of the rows predicted as this class, the fraction that are (0 when none is). */
  precision: number;
  /** Of the rows of this class, the fraction predicted as it (0 when there is none). */
  recall: number;
  f1: number;
  /** Rows of this class. */
  support: number;
}

export interface Evaluation {
  n: number;
  numClasses: number;
  accuracy: number;
  /** Macro-averaged F1 over the classes present in the labels or the predictions. */
  macroF1: number;
  /** numClasses × numClasses, row-major: confusion[t · numClasses + p] counts rows of true class t predicted as p. */
  confusion: Int32Array;
  /** Precision, recall, F1 and support of each class 0..numClasses-1. */
  perClass: ClassScores[];
  prediction: Prediction;
}

const fail = (code: ErrorCode, msg: string) => new DataError(code, msg);

/** The value at `i` as a float32, or an error naming where it is. */
function f32Value(v: unknown, where: () => string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw fail('NON_FINITE', `${where()} is ${typeof v === 'number' ? v : JSON.stringify(v) ?? String(v)}; inputs must be finite numbers`);
  const f = Math.fround(v);
  if (!Number.isFinite(f)) throw fail('NON_FINITE', `${where()} is ${v}, outside the float32 range the model computes in`);
  return f;
}

const isRows = (x: ModalityInput): x is readonly ArrayLike<number>[] => Array.isArray(x) && x.length > 0 && typeof x[0] === 'object' && x[0] !== null;
const isDataDim = (x: ModalityInput): x is { data: ArrayLike<number>; dim: number } => typeof x === 'object' && x !== null && !ArrayBuffer.isView(x) && !Array.isArray(x) && 'data' in x && 'dim' in x;

/** One modality's input as n × dim float32 rows (a fresh array), checked: width, finite values. */
function toRows(fn: string, name: string, x: ModalityInput, dim: number): Modality {
  const forms = `one sample of ${dim} values, n × ${dim} values row-major, rows of ${dim} values, or { data, dim: ${dim} }`;
  const at = (i: number) => () => `${fn}: modality "${name}" row ${Math.floor(i / dim)} column ${i % dim}`;
  if (x === null || typeof x !== 'object') throw fail('BAD_SHAPE', `${fn}: modality "${name}" is ${x === null ? 'null' : typeof x}; give ${forms}`);
  if (isRows(x)) {
    const data = new Float32Array(x.length * dim);
    x.forEach((row, r) => {
      if (row === null || typeof row !== 'object' || typeof row.length !== 'number') throw fail('BAD_SHAPE', `${fn}: modality "${name}" row ${r} is not an array of numbers`);
      if (row.length !== dim) throw fail('BAD_SHAPE', `${fn}: modality "${name}" row ${r} has ${row.length} values, the model expects ${dim} features`);
      for (let j = 0; j < dim; j++) data[r * dim + j] = f32Value(row[j], at(r * dim + j));
    });
    return { data, dim };
  }
  let flat: ArrayLike<number>;
  if (isDataDim(x)) {
    if (x.dim !== dim) throw fail('BAD_SHAPE', `${fn}: modality "${name}" has dim ${x.dim}, the model expects ${dim} features`);
    flat = x.data;
    if (flat === null || typeof flat !== 'object' || typeof flat.length !== 'number') throw fail('BAD_SHAPE', `${fn}: modality "${name}": data is not an array of numbers`);
  } else if (typeof (x as ArrayLike<number>).length === 'number') flat = x as ArrayLike<number>;
  else throw fail('BAD_SHAPE', `${fn}: modality "${name}" is not an array; give ${forms}`);
  if (flat.length === 0 || flat.length % dim !== 0) {
    throw fail('BAD_SHAPE', `${fn}: modality "${name}" has ${flat.length} values${flat.length ? `, not a multiple of the model's ${dim} features` : ''}; give ${forms}`);
  }
  const data = new Float32Array(flat.length);
  for (let i = 0; i < flat.length; i++) data[i] = f32Value(flat[i], at(i));
  return { data, dim };
}

/**
 * The input as the dataset the network takes: checked against the model, standardised with its
 * statistics (raw inputs), with every fused modality the fusion needs. Labels are placeholders.
 */
function prepare(fn: string, model: Model, input: PredictInput, o: PredictOptions): { ds: Dataset; used: string[] } {
  const inputs = o.inputs ?? 'raw';
  if (inputs !== 'raw' && inputs !== 'preprocessed') throw fail('BAD_OPTIONS', `${fn}: options.inputs must be 'raw' or 'preprocessed', got ${JSON.stringify(inputs)}`);
  const specs = model.net.specs;
  const listed = specs.map((s) => `${s.name} (${s.dim} features)`).join(', ');
  if (input === null || typeof input !== 'object' || Array.isArray(input) || ArrayBuffer.isView(input)) {
    throw fail('PREDICT_INPUT', `${fn}: the input must be an object with an entry per modality, e.g. { ${specs[0].name}: [...] }; the model has ${listed}`);
  }
  const names = Object.keys(input);
  if (names.length === 0) throw fail('PREDICT_MODALITIES', `${fn}: the input names no modality; the model has ${listed}`);
  const mods: Record<string, Modality> = {};
  let n = -1;
  let first = '';
  for (const name of names) {
    const spec = specs.find((s) => s.name === name);
    if (!spec) throw fail('UNKNOWN_MODALITY', `${fn}: the model has no modality "${name}" (it has ${listed})`);
    const m = toRows(fn, name, input[name], spec.dim);
    const rows = m.data.length / m.dim;
    if (n >= 0 && rows !== n) throw fail('ROW_COUNT', `${fn}: modality "${name}" has ${rows} row${rows === 1 ? '' : 's'}, but "${first}" has ${n}; every modality needs the same rows`);
    if (n < 0) [n, first] = [rows, name];
    mods[name] = m;
  }
  const used = model.modalities.filter((m) => mods[m] !== undefined);
  if (used.length === 0) throw fail('PREDICT_MODALITIES', `${fn}: none of the modalities the model predicts from (${model.modalities.join(', ')}) is in the input (it has ${names.join(', ')})`);
  if (model.fusion === 'joint' && used.length !== model.modalities.length) {
    throw fail('PREDICT_MODALITIES', `${fn}: a ${model.method} model fuses in its joint head and needs every modality (${model.modalities.join(', ')}); missing ${model.modalities.filter((m) => !used.includes(m)).join(', ')}`);
  }
  if (model.fusion === 'validation' && !(used.reduce((a, m) => a + (model.fusionWeights?.[m] ?? 0), 0) > 0)) {
    throw fail('PREDICT_MODALITIES', `${fn}: the model gives weight 0 to ${used.join(', ')} (its fusion weights: ${JSON.stringify(model.fusionWeights)}); give the input the other modalities too`);
  }
  let ds: Dataset = { modalities: mods, labels: new Int32Array(n), classes: model.net.classes, size: n };
  if (inputs === 'raw') {
    if (!model.preprocess) {
      throw fail(
        'PREPROCESS_UNKNOWN',
        `${fn}: the model does not record how its inputs were standardised (trained without train()'s preprocess or standardize option, or loaded from a checkpoint saved without it), so raw inputs cannot be standardised as in training. ` +
          "Either pass inputs standardised as in training with { inputs: 'preprocessed' }, or set model.preprocess to the training statistics (fitStandardize of the training part; {} if the model was trained on raw features)",
      );
    }
    ds = applyStandardize(ds, model.preprocess);
    for (const [name, m] of Object.entries(ds.modalities)) {
      const i = m.data.findIndex((v) => !Number.isFinite(v));
      if (i >= 0) throw fail('NON_FINITE', `${fn}: modality "${name}" row ${Math.floor(i / m.dim)} column ${i % m.dim} becomes ${m.data[i]} after the model's standardisation ((x − mean) / std): the value is far outside the range of the training data`);
    }
  }
  return { ds, used };
}

/**
 * Classes and fused probabilities for rows (or one sample) of any non-empty subset of the model's
 * modalities; see ModalityInput for the forms one modality's input may take. Raw inputs are
 * standardised with the model's statistics, so the result equals, bit for bit, what the training
 * pipeline gets from its standardised rows.
 */
export function classify(model: Model, input: PredictInput, options: PredictOptions = {}): Prediction {
  const { ds, used } = prepare('classify', model, input, options);
  const C = model.net.classes;
  // The network keeps a copy of each dataset it sees in WebAssembly memory; these rows are used
  // once, so their copies are given back afterwards (the arrays are fresh: nothing else refers to them).
  const arena = model.net.rt.arena;
  const mark = arena.mark();
  let probs: Float32Array;
  try {
    probs = predict(model, ds);
  } finally {
    arena.release(mark);
  }
  return { n: ds.size, numClasses: C, classes: argmaxRows(probs, ds.size, C), probs, modalities: used };
}

/** Fused class probabilities, n × classes row-major (classify(...).probs). */
export function predictProba(model: Model, input: PredictInput, options: PredictOptions = {}): Float32Array {
  return classify(model, input, options).probs;
}

/** The predicted class of each row (classify(...).classes). */
export function predictClasses(model: Model, input: PredictInput, options: PredictOptions = {}): Int32Array {
  return classify(model, input, options).classes;
}

/**
 * Accuracy, macro-F1, the confusion matrix and per-class scores of the model on labelled rows (the
 * input as for classify; one label per row, classes 0..classes-1 of the model).
 */
export function evaluate(model: Model, input: PredictInput, labels: ArrayLike<number>, options: PredictOptions = {}): Evaluation {
  const C = model.net.classes;
  if (labels === null || typeof labels !== 'object' || typeof labels.length !== 'number') throw fail('BAD_LABEL', 'evaluate: labels must be an array of class numbers, one per row');
  const prediction = classify(model, input, options);
  if (labels.length !== prediction.n) throw fail('ROW_COUNT', `evaluate: ${labels.length} label${labels.length === 1 ? '' : 's'} for ${prediction.n} row${prediction.n === 1 ? '' : 's'} of input; give one label per row`);
  const y = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!(Number.isInteger(v) && v >= 0 && v < C)) throw fail('BAD_LABEL', `evaluate: the label of row ${i} is ${typeof v === 'number' ? v : JSON.stringify(v)}, but the model has ${C} classes (0-${C - 1}); the labels must be the ones the model was trained with`);
    y[i] = v;
  }
  const pred = prediction.classes;
  const confusion = confusionMatrix(pred, y, C);
  const perClass: ClassScores[] = Array.from({ length: C }, (_, c) => {
    let tp = 0,
      predicted = 0,
      support = 0;
    for (let k = 0; k < C; k++) {
      predicted += confusion[k * C + c];
      support += confusion[c * C + k];
    }
    tp = confusion[c * C + c];
    const precision = predicted ? tp / predicted : 0,
      recall = support ? tp / support : 0;
    return { precision, recall, f1: predicted + support ? (2 * tp) / (predicted + support) : 0, support };
  });
  return { n: prediction.n, numClasses: C, accuracy: accuracy(pred, y), macroF1: macroF1(pred, y, C), confusion, perClass, prediction };
}
