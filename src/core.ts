/**
 * The portable API of udi-wasm: everything that runs the same in Node, Deno, browsers, Web Workers
 * and edge runtimes, and imports no `node:*` module (directly or through the modules it imports).
 * It is not an entry by itself: each entry adds `createRuntime` bound to its host, and the Node/Deno
 * entry adds the file readers and writers.
 *   src/index.ts  Node and Deno (export conditions "node", "deno"): this + files (loadMfeat, saveModel, ...)
 *   src/web.ts    browsers, Web Workers, workerd (conditions "browser", "worker", "default"): this
 * Add an export here when it is portable, in src/index.ts when it reads or writes files
 * (test/entries.test.ts checks that the two entries differ by exactly the Node-only list).
 */
export { UdiError, ERRORS, isErrorCode, type ErrorCode } from './errors.js';
export { Runtime, type RuntimeInfo, type RuntimeOptions } from './runtime/runtime.js';
export { Arena, MemoryLimitError, type F32, type I32 } from './runtime/arena.js';
export { BUILDS, type Build, type WasmSource } from './runtime/loader.js';
export { WorkerError } from './runtime/pool.js';
export { Kernels, ShapeError, AliasingError, convOutputSize, poolOutputSize, type ConvShape, type PoolShape, type MatmulOptions, type MatmulLayout, type DivergenceOptions } from './kernels/ops.js';
export { KERNELS, KERNEL_NAMES, type KernelName } from './kernels/spec.js';

// Training: UDI and the baselines on one trainer.
export { train, trainUDI, predict, defaultConfig, METHODS, alignmentWeights, minNormWeight, type Method, type MethodConfig, type UdiOptions, type Result, type Model, type Splits, type LambdaStep, type TrainOptions } from './train/methods.js';
export { classify, predictProba, predictClasses, evaluate, type PredictInput, type ModalityInput, type PredictOptions, type Prediction, type Evaluation, type ClassScores } from './train/predict.js';
export { argmax, accuracy, macroF1, confusionMatrix } from './train/metrics.js';
export type { InitScheme } from './nn/params.js';
export type { StageConfig, OptimizerConfig, ScheduleConfig, Callbacks, EpochLog, StageResult, TrainProgress, TrainPlan, PlannedStage } from './train/trainer.js';
export { planStages } from './train/plan.js';
export { TrainingError } from './train/trainer.js';
export type { EncoderConfig } from './nn/encoders.js';
export type { FusionKind } from './train/fusion.js';

// Data.
export { makeDataset, subset, stratifiedSplit, fitStandardize, applyStandardize, DataError, type Dataset, type Modality, type Standardization } from './data/dataset.js';
export { parseCsv, type Table } from './data/csv.js';
export { logMel, melFilterbank, DEFAULT_AUDIO, type AudioFeatureConfig } from './data/audio.js';
export { Rng } from './util/rng.js';

// Checkpoints and config.
export { serializeModel, deserializeModel, preprocessOf, CHECKPOINT_FORMAT, type ModelDescription, type LoadedModel } from './io/checkpoint.js';
export { encodeSafetensors, decodeSafetensors } from './io/safetensors.js';
export { exportOnnx, ONNX_OPSET, type OnnxExportOptions, type OnnxPreprocess } from './io/onnx.js';
export { TrainConfigSchema, EncoderSchema, parseTrainConfig, toMethodConfig, ConfigError, type TrainConfig } from './io/config.js';
export { VERSION } from './version.js';
