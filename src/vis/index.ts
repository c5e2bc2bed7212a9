/**
 * udi-wasm/vis: live plots and progress for training, fed by the callbacks `train()` calls.
 *
 *   import { liveChart } from 'udi-wasm/vis';
 *   const chart = liveChart(document.getElementById('plots')!);
 *   await train(rt, 'udi', data, cfg, { callbacks: chart });
 *
 * Across a Worker: `relayCallbacks(post)` in the worker, `replayCallback(message, chart)` on the page.
 * `trainingSeries`, `estimate` and `describeProgress` need no DOM (Node, Deno, workers).
 */
export { liveChart, type LiveChart, type LiveChartOptions } from './chart.js';
export { trainingSeries, type TrainingSeries, type TrainingSeriesOptions, type Columns } from './series.js';
export { estimate, describeProgress, formatDuration, type ProgressEstimate } from './progress.js';
export { relayCallbacks, replayCallback, isCallbackMessage, CALLBACK_NAMES, type CallbackMessage, type CallbackName } from './relay.js';
export type { Callbacks, TrainProgress, TrainPlan, PlannedStage, EpochLog, StageResult } from '../train/trainer.js';
