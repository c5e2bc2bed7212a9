/**
 * The entry points: train() runs a method's recipe (./methods/index.ts) on a Run (./run.ts) and
 * reports; predict() fuses a trained model's probabilities.
 */
import type { Runtime } from '../runtime/runtime.js';
import { applyStandardize, type Dataset, fitStandardize, type Standardization } from '../data/dataset.js';
import { fuseMean, fuseProbs } from './fusion.js';
import { RECIPES } from './methods/index.js';
import type { RecipeOutput } from './methods/recipe.js';
import { Run, trainingParts } from './run.js';
import { infer } from './infer.js';
import { TrainingError } from './trainer.js';
import { type Method, type MethodConfig, METHODS, type Model, type Result, type Splits, type TrainOptions } from './types.js';

/** Largest |value| of a float32. */
const F32_MAX = 3.4028234663852886e38;

/**
 * The given statistics, checked against the training data and copied (the model's modalities only):
 * vectors as long as the modality's rows, finite means within float32, standard deviations >= 1e-8
 * (what a checkpoint accepts; fitStandardize gives a constant feature std 1).
 */
function checkedStandardization(p: NonNullable<TrainOptions['preprocess']>, names: readonly string[], train: Dataset): Standardization {
  const out: Standardization = {};
  const fail = (msg: string) => new TrainingError('BAD_PREPROCESS', `train(): options.preprocess.${msg}`);
  for (const m of names) {
    if (!Object.hasOwn(p, m)) continue;
    const s = p[m];
    const dim = train.modalities[m]?.dim;
    if (!s || s.mean === undefined || s.std === undefined) throw fail(`${m}: give { mean, std }, one value per feature`);
    for (const key of ['mean', 'std'] as const) {
      if (dim !== undefined && s[key].length !== dim) throw fail(`${m}.${key} has ${s[key].length} values, but modality "${m}" has ${dim} features`);
    }
    for (let j = 0; j < s.mean.length; j++) {
      const mean = s.mean[j], std = s.std[j];
      if (!(Number.isFinite(mean) && Math.abs(mean) <= F32_MAX)) throw fail(`${m}.mean[${j}] is ${mean}; a mean must be a finite float32 value`);
      if (!(Number.isFinite(std) && std >= 1e-8)) throw fail(`${m}.std[${j}] is ${std}; a standard deviation must be finite and >= 1e-8 (give a constant feature std 1, as fitStandardize does)`);
    }
    out[m] = { mean: Float64Array.from(s.mean), std: Float64Array.from(s.std) };
  }
  return out;
}

/**
 * The splits train() runs on, and the standardisation the model records: the splits as given (with
 * `preprocess` recorded, if any), or with `standardize` standardised with the statistics of the rows
 * that train.
 */
function preprocessing(data: Splits, cfg: MethodConfig, o: TrainOptions): { data: Splits; preprocess?: Standardization } {
  const names = Object.keys(cfg.encoders);
  if (o.standardize && o.preprocess) throw new TrainingError('BAD_OPTIONS', 'train(): give options.preprocess (the statistics the splits were already standardised with) or options.standardize (fit and apply them here), not both');
  if (o.preprocess) return { data, preprocess: checkedStandardization(o.preprocess, names, data.train) };
  if (!o.standardize || names.some((m) => !data.train.modalities[m])) return { data }; // Run names a missing modality
  const { train, val } = trainingParts(data, cfg, names);
  const stats = fitStandardize({ ...train, modalities: Object.fromEntries(names.map((m) => [m, train.modalities[m]])) });
  const apply = (ds: Dataset) => applyStandardize(ds, stats);
  return { data: { train: apply(train), val: apply(val), test: data.test && apply(data.test) }, preprocess: stats };
}

/** Train `method` on the splits and report the result (and the trained model). */
export async function train(rt: Runtime, method: Method, data: Splits, cfg: MethodConfig, opts: TrainOptions = {}): Promise<{ result: Result; model: Model }> {
  if (!METHODS.includes(method)) throw new TrainingError('UNKNOWN_METHOD', `unknown method "${method}"; choose one of ${METHODS.join(', ')}`);
  const recipe = RECIPES[method];
  if (recipe.config) cfg = recipe.config(cfg);
  const prep = preprocessing(data, cfg, opts);
  const run = new Run(rt, method, prep.data, cfg, opts.callbacks ?? {}, opts.signal, opts.resume, opts.onState);
  opts.callbacks?.onTrainBegin?.(run.net, run.plan);
  // Worker threads stay awake for the whole run: its stages and the inference between them
  // (anchor selection, cached targets, fusion fitting); they sleep again when train() returns.
  rt.threads.beginStage();
  let out: RecipeOutput;
  try {
    out = await recipe.run(run);
  } finally {
    rt.threads.endStage();
  }
  const result: Result = { method, modalities: run.names, evaluatedOn: run.evaluatedOn, lambdaTrace: run.trace, ...out.result, cost: run.cost(), history: run.history() };
  const model: Model = { net: run.net, method, ...out.model };
  if (prep.preprocess) model.preprocess = prep.preprocess;
  opts.callbacks?.onTrainEnd?.();
  return { result, model };
}

/**
 * Fused class probabilities (n × classes) for a dataset holding any non-empty subset of the model's
 * modalities, taken as the network sees them: already preprocessed (the model's standardisation is
 * not applied here). Joint-head models need all of them.
 * @deprecated for new code: classify / predictProba (src/train/predict.ts) take raw rows or one
 * sample per modality, no labels, apply the model's standardisation and check every input.
 */
export function predict(model: Model, ds: Dataset): Float32Array {
  const present = model.modalities.filter((m) => ds.modalities[m] !== undefined);
  if (present.length === 0) throw new TrainingError('PREDICT_MODALITIES', `predict: the input has none of the model's modalities (${model.modalities.join(', ')})`);
  const C = model.net.classes;
  if (model.fusion === 'joint' || model.fusion === 'head') {
    if (present.length !== model.net.branches.length) {
      if (model.fusion === 'head') return fuseMean(infer(model.net, ds, present).probs, ds.size, C);
      throw new TrainingError('PREDICT_MODALITIES', `predict: a ${model.method} model fuses inside its joint head and needs every modality (${model.modalities.join(', ')}); missing ${model.modalities.filter((m) => !present.includes(m)).join(', ')}`);
    }
    return infer(model.net, ds, present, { joint: true }).joint!;
  }
  return fuseProbs(infer(model.net, ds, present).probs, ds.size, C, model);
}
