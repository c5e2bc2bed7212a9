/**
 * The portable root API of udi-wasm (`import … from 'udi-wasm'`): what a user imports to train,
 * predict, save and export models and to catch errors. It runs the same in Node, Deno, browsers,
 * Web Workers and edge runtimes, and imports no `node:*` module (directly or through the modules it
 * imports). It is not an entry by itself: each entry adds `createRuntime` bound to its host, and the
 * Node/Deno entry adds the dataset loaders and checkpoint files.
 *   src/index.ts  Node and Deno (export conditions "node", "deno"): this + files (loadMfeat, saveModel, ...)
 *   src/web.ts    browsers, Web Workers, workerd (conditions "browser", "worker", "default"): this
 * Everything else is a subpath (package.json "exports"; README: Library use):
 *   udi-wasm/engine  the compute core: Kernels, Arena, the kernel table, the UDI controller's maths (src/engine.ts)
 *   udi-wasm/io      parsers and file formats: CSV, safetensors, WAV, IDX, audio features, schemas (src/io-web.ts, src/io-node.ts)
 *   udi-wasm/vis     live plots and progress (src/vis/index.ts)
 * test/entries.test.ts pins this list: a new root export is a decision, not a side effect.
 */
export { UdiError, ERRORS, type ErrorCode, DataError, TrainingError, ConfigError, MemoryLimitError, WorkerError } from './errors.js';
export type { Runtime, RuntimeInfo, RuntimeOptions } from './runtime/runtime.js';
export type { Build, WasmSource } from './runtime/loader.js';

// Training: UDI and the baselines on one trainer.
export { train, predict, defaultConfig, METHODS, type Method, type MethodConfig, type UdiOptions, type Result, type Model, type Splits, type LambdaStep, type TrainOptions } from './train/methods.js';
export { classify, predictProba, predictClasses, evaluate, type PredictInput, type ModalityInput, type PredictOptions, type Prediction, type Evaluation, type ClassScores } from './train/predict.js';
export { accuracy, macroF1, confusionMatrix } from './train/metrics.js';
export { planStages } from './train/plan.js';
export type { InitScheme } from './nn/params.js';
export type { StageConfig, OptimizerConfig, ScheduleConfig, Callbacks, EpochLog, StageResult, TrainProgress, TrainPlan, PlannedStage } from './train/trainer.js';
export type { EncoderConfig } from './nn/encoders.js';
export type { FusionKind } from './train/fusion.js';

// Data.
export { makeDataset, subset, stratifiedSplit, fitStandardize, applyStandardize, type Dataset, type Modality, type Standardization } from './data/dataset.js';
export { Rng } from './util/rng.js';

// Models and configs.
export { serializeModel, deserializeModel, type ModelDescription, type LoadedModel } from './io/checkpoint.js';
export { exportOnnx, type OnnxExportOptions, type OnnxPreprocess } from './io/onnx.js';
export { parseTrainConfig, toMethodConfig, type TrainConfig } from './io/config.js';
export { VERSION } from './version.js';
