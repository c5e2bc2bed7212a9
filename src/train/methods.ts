/**
 * The training layer's public names, gathered (the package entries and the benchmarks import them
 * from here). Where things live:
 *   ./types.ts          Method, MethodConfig, UdiOptions, Result, Model, TrainState, TrainOptions
 *   ./config.ts         the settings' schema (every default) and defaultConfig
 *   ./train.ts          train(), predict()
 *   ./run.ts            a run's shared state (network, splits, stages, memos, validation)
 *   ./trainer.ts        the one loop (runStage); ./infer.ts inference over a dataset
 *   ./net.ts            the network every method trains
 *   ./methods/*.ts      each method's maths, one file each, registered in ./methods/index.ts
 */
export { METHODS, type LambdaStep, type Method, type MethodConfig, type Model, type Result, type Splits, type TrainOptions, type TrainState, type UdiOptions } from './types.js';
export { defaultConfig } from './config.js';
export { predict, train } from './train.js';
export { alignmentWeights, minNormWeight } from './methods/controller.js';
