/**
 * The one training loop every method runs. A method supplies Stages: which parameter groups train,
 * which modalities a batch needs, how one batch turns into gradients (`step`) and how the stage is
 * judged on validation (`validate`). The loop owns shuffling, batching, clipping, the optimiser,
 * the learning-rate schedule, early stopping with restore-best, callbacks, cancellation and
 * yielding to the event loop.
 */
import { ConfigError, TrainingError } from '../errors.js';
import type { Dataset } from '../data/dataset.js';
import { dcosHalfTurn } from '../util/detmath.js';
import { Rng } from '../util/rng.js';
import { STAGE_DEFAULTS } from './config.js';
import type { MultimodalNet } from './net.js';
import { yieldToEventLoop } from '../runtime/env.js';

/**
 * A stage's optimiser. defaultConfig() and config files fill every field (the defaults are
 * ./config.ts's schema); in a hand-built one an absent field takes that default (STAGE_DEFAULTS),
 * except weightDecay, which is then 0.
 */
export interface OptimizerConfig {
  type: 'adamw' | 'sgd';
  lr: number;
  /** Decoupled for AdamW, L2 for SGD (absent: 0). */
  weightDecay?: number;
  /** SGD only. */
  momentum?: number;
  nesterov?: boolean;
  /** AdamW only. */
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export type ScheduleConfig = { type: 'constant' } | { type: 'step'; everyEpochs: number; gamma: number } | { type: 'cosine' };

export interface StageConfig {
  /** Maximum epochs. */
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  schedule?: ScheduleConfig;
  /** Clip the global gradient norm of the trained groups to this value (0 or absent: off). */
  clipNorm?: number;
  /** Stop when the validation monitor has not improved by minDelta for `patience` epochs, and restore the best weights (absent: the default, STAGE_DEFAULTS). */
  earlyStopping?: { patience: number; minDelta: number } | false;
}

export interface EpochLog {
  stage: string;
  epoch: number;
  loss: number;
  /** The validation figure early stopping watches (higher is better). */
  monitor: number;
  /** Mean of every loss part over the epoch, and validation metrics. */
  [key: string]: number | string;
}

/**
 * Where training stands, given to every callback after its usual arguments, so a progress bar or an
 * ETA needs no config lookups. Budgets are maxima: early stopping may end a stage sooner.
 */
export interface TrainProgress {
  /** The stage running (e.g. `solo:audio`, `guided:audio`, `joint`, `fusion-head`). */
  stage: string;
  /** Its position among the run's stages (0-based), and how many stages the run has (see `planStages`). */
  stageIndex: number;
  stageCount: number;
  /** The epoch running (0-based; at the end of a stage, the epochs it ran), and the stage's budget of epochs. */
  epoch: number;
  epochs: number;
  /** Batches (optimiser steps) per epoch of this stage, steps done in the stage, and its budget (epochs × stepsPerEpoch). */
  stepsPerEpoch: number;
  step: number;
  maxSteps: number;
  /** Steps done over the whole run (stages before this one included), and the run's budget: the steps done plus every remaining step the budgets allow. */
  runStep: number;
  runMaxSteps: number;
}

/** One stage of a run as known before it starts (see `planStages`). */
export interface PlannedStage {
  /** `solo`, `guided`, a joint-family method's name (`joint`, `ogm-ge`, ...), `di-mml` or `fusion-head`. */
  kind: string;
  /** The stage's name, or null when it is decided during the run (UDI's followers are ordered by their solo validation accuracy). */
  name: string | null;
  /** The config section whose budget it runs under. */
  budget: 'solo' | 'guided' | 'joint' | 'fusionHead';
  epochs: number;
  batchSize: number;
  stepsPerEpoch: number;
  maxSteps: number;
}

/** Every stage a run will go through, in order, with its budget. */
export interface TrainPlan {
  method: string;
  modalities: string[];
  /** Rows trained on (the validation part carved from the training data excluded). */
  trainRows: number;
  stages: PlannedStage[];
  /** Sum of the stages' step budgets. */
  maxSteps: number;
}

/**
 * Called by `train()` as it runs. Every callback after the first receives a `TrainProgress` last;
 * callbacks must not change the network (they never change results).
 */
export interface Callbacks {
  /** Called once the network exists (before any stage), with the network and the run's plan (every stage and its budget). */
  onTrainBegin?(net: MultimodalNet, plan: TrainPlan): void;
  /** Called once, after the last stage and the final evaluation. */
  onTrainEnd?(): void;
  onStageBegin?(stage: string, progress: TrainProgress): void;
  onStageEnd?(stage: string, result: StageResult, progress: TrainProgress): void;
  /** `epoch` is 0-based within the stage. */
  onEpochBegin?(epoch: number, stage: string, progress: TrainProgress): void;
  /** After the epoch's validation: `log` holds the mean loss parts and the validation metrics. */
  onEpochEnd?(epoch: number, log: EpochLog, progress: TrainProgress): void;
  /** After every optimiser step: `step` counts the stage's steps (1-based), `losses` are this batch's. */
  onBatchEnd?(step: number, losses: Record<string, number>, stage: string, progress: TrainProgress): void;
}

export interface Stage {
  name: string;
  /** Closure state beyond the parameters (e.g. the controller's weights, a noise generator), for resuming. */
  saveState?(): unknown;
  loadState?(state: unknown): void;
  /** Parameter groups the optimiser updates. */
  trainable: string[];
  /** Modalities to load for each batch. */
  modalities: string[];
  /** Forward and backward for the loaded batch of n rows (`idx`: their dataset rows, a buffer reused between steps); gradients accumulate. Returns losses ({ loss, ...parts }). */
  step(n: number, idx: Int32Array, step: number): Record<string, number>;
  /** Validation after each epoch: `monitor` drives early stopping. */
  validate(): { monitor: number; metrics: Record<string, number> };
  /**
   * Optional competitor for the best weights: weights from before the stage (per trainable group) and
   * their monitor. With it the stage keeps its best epoch only if that epoch beats the baseline (by
   * minDelta), else it ends with the baseline weights and reports bestEpoch −1; the stage then keeps
   * its best weights even with earlyStopping false. Read when the stage starts (a resumed stage carries
   * it in its state).
   */
  baseline?: { monitor: number; snapshot: Record<string, Float32Array> };
}

export interface StageResult {
  name: string;
  epochs: number;
  bestEpoch: number;
  bestMonitor: number;
  steps: number;
  wallMs: number;
  stoppedEarly: boolean;
  history: EpochLog[];
}

/** Where a stage stands after a whole epoch: enough, with the parameters and moments, to resume it. */
export interface StageState {
  /** Epochs completed. */
  epoch: number;
  best: number;
  bestEpoch: number;
  wait: number;
  steps: number;
  history: EpochLog[];
  /** Best weights so far per trainable group (early stopping). */
  snapshot: Record<string, Float32Array> | null;
  extra?: unknown;
  /** Wall time spent in the stage so far. */
  wallMs: number;
}

export { TrainingError };

export interface RunContext {
  seed: number;
  callbacks?: Callbacks;
  signal?: AbortSignal;
  /** Yield to the event loop at least this often (ms); default 50. */
  yieldEveryMs?: number;
  /** Called after every completed epoch with the stage's state (for resumable checkpoints). */
  onEpochState?(state: StageState): Promise<void> | void;
  /** For the callbacks' progress: how many stages the run has, and the steps done and still allowed outside this stage. */
  totals?: { stageCount: number; stepsBefore: number; stepsAfter: number };
}

function checkConfig(c: StageConfig, stage: string): void {
  const bad = (what: string, v: unknown) => new ConfigError(`stage ${stage}: ${what}, got ${JSON.stringify(v)}`);
  if (!(Number.isInteger(c.epochs) && c.epochs >= 1)) throw bad('epochs must be a whole number >= 1', c.epochs);
  if (!(Number.isInteger(c.batchSize) && c.batchSize >= 1)) throw bad('batchSize must be a whole number >= 1', c.batchSize);
  if (!(c.optimizer.lr > 0 && Number.isFinite(c.optimizer.lr))) throw bad('optimizer.lr must be > 0', c.optimizer.lr);
  if (c.optimizer.type !== 'adamw' && c.optimizer.type !== 'sgd') throw bad("optimizer.type must be 'adamw' or 'sgd'", c.optimizer.type);
}

/** Learning rate at `step` of `total` (epoch given for step decay). Deterministic arithmetic only. */
export function learningRate(base: number, s: ScheduleConfig | undefined, epoch: number, step: number, total: number): number {
  if (!s || s.type === 'constant') return base;
  if (s.type === 'step') {
    let lr = base;
    for (let k = 0; k < Math.floor(epoch / s.everyEpochs); k++) lr *= s.gamma;
    return lr;
  }
  const t = Math.min(1, step / Math.max(1, total));
  return base * 0.5 * (1 + dcosHalfTurn(Math.PI * t));
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

export async function runStage(net: MultimodalNet, train: Dataset, stage: Stage, cfg: StageConfig, ctx: RunContext, stageIndex: number, resume?: StageState): Promise<StageResult> {
  checkConfig(cfg, stage.name);
  const { store } = net;
  const K = net.rt.kernels;
  const cb = ctx.callbacks ?? {};
  const t0 = now() - (resume?.wallMs ?? 0);
  let lastYield = now();
  const yieldMs = ctx.yieldEveryMs ?? 50;
  const trainable = stage.trainable;
  if (!resume) for (const g of trainable) store.clearMoments(g);
  const rng = new Rng(ctx.seed, 1000 + stageIndex);
  const bs = Math.min(cfg.batchSize, net.maxBatch);
  const batchIdx = new Int32Array(bs); // the batch's rows, rewritten every step
  const perEpoch = Math.ceil(train.size / bs);
  const total = perEpoch * cfg.epochs;
  const es = cfg.earlyStopping === undefined ? STAGE_DEFAULTS.earlyStopping : cfg.earlyStopping;
  let best = -Infinity,
    bestEpoch = -1,
    wait = 0,
    steps = 0;
  let snapshot: Map<string, Float32Array> | null = null;
  const history: EpochLog[] = [];
  let epoch = 0;
  // Keep the best weights (restored at the end) with early stopping, or when a baseline competes.
  const keepBest = !!es || !!stage.baseline;
  if (!resume && stage.baseline) {
    best = stage.baseline.monitor;
    snapshot = new Map(trainable.map((g) => [g, stage.baseline!.snapshot[g]]));
  }
  if (resume) {
    // The epochs to replay are bounded by the state's own history (a tampered count must not spin).
    if (!(Number.isInteger(resume.epoch) && resume.epoch >= 0 && resume.epoch <= cfg.epochs && resume.history.length === resume.epoch)) {
      throw new TrainingError('RESUME_MISMATCH', `cannot resume stage ${stage.name}: the state says ${resume.epoch} epochs done with ${resume.history.length} logged, of at most ${cfg.epochs}`);
    }
    ({ best, bestEpoch, wait, steps, epoch } = resume);
    history.push(...resume.history);
    snapshot = resume.snapshot ? new Map(Object.entries(resume.snapshot)) : null;
    for (let e = 0; e < epoch; e++) rng.permutation(train.size); // the shuffles already drawn
    stage.loadState?.(resume.extra);
  }
  const lastGood = new Map(trainable.map((g) => [g, store.snapshot(g)]));
  const tot = ctx.totals ?? { stageCount: stageIndex + 1, stepsBefore: 0, stepsAfter: 0 };
  const progress = (ended = false): TrainProgress => ({
    stage: stage.name,
    stageIndex,
    stageCount: tot.stageCount,
    epoch,
    epochs: cfg.epochs,
    stepsPerEpoch: perEpoch,
    step: steps,
    maxSteps: total,
    runStep: tot.stepsBefore + steps,
    runMaxSteps: tot.stepsBefore + (ended ? steps : total) + tot.stepsAfter,
  });
  cb.onStageBegin?.(stage.name, progress());
  // The optimiser's options, made once and updated per step.
  const o = cfg.optimizer;
  const D = STAGE_DEFAULTS.optimizer;
  const adam = o.type === 'adamw' ? { lr: 0, step: 0, beta1: o.beta1 ?? D.beta1, beta2: o.beta2 ?? D.beta2, eps: o.eps ?? D.eps, weightDecay: o.weightDecay } : { lr: 0, step: 0 };
  const sgd = o.type === 'adamw' ? { lr: 0 } : { lr: 0, momentum: o.momentum ?? D.momentum, weightDecay: o.weightDecay, nesterov: o.nesterov ?? D.nesterov };
  // Worker threads stay awake between the stage's kernel calls (they sleep again after it).
  net.rt.threads.beginStage();
  try {
    for (; epoch < cfg.epochs && !(es && wait >= es.patience); epoch++) {
      cb.onEpochBegin?.(epoch, stage.name, progress());
      const order = rng.permutation(train.size);
      const sums: Record<string, number> = {};
      let batches = 0;
      for (let start = 0; start < train.size; start += bs) {
        if (ctx.signal?.aborted) throw ctx.signal.reason ?? new DOMException('training was cancelled', 'AbortError');
        const rows = Math.min(bs, train.size - start);
        for (let i = 0; i < rows; i++) batchIdx[i] = order[start + i];
        const idx = rows === bs ? batchIdx : batchIdx.subarray(0, rows); // a view only for an epoch's last, partial batch
        const n = net.load(train, idx, stage.modalities);
        store.zeroGrads(trainable);
        const losses = stage.step(n, idx, steps);
        if (!Number.isFinite(losses.loss)) {
          // Stop the stage and put back the last good weights (the best epoch's, else the stage's start).
          for (const [g, data] of snapshot ?? lastGood) store.restore(g, data);
          throw new TrainingError(
            'DIVERGED',
            `stage ${stage.name}: the loss became ${losses.loss} at step ${steps} (epoch ${epoch}); the weights of ${!snapshot ? 'the start of the stage' : bestEpoch < 0 ? 'before the stage (its baseline)' : `epoch ${bestEpoch}`} were restored. ` +
              `Try a lower learning rate (now ${cfg.optimizer.lr})${cfg.clipNorm ? '' : ' or gradient clipping (clipNorm)'}.`,
          );
        }
        if (cfg.clipNorm && cfg.clipNorm > 0) {
          let sq = 0;
          for (let i = 0; i < trainable.length; i++) sq += K.sumsq(store.groupGrads(trainable[i]));
          const norm = Math.sqrt(sq);
          if (norm > cfg.clipNorm) for (let i = 0; i < trainable.length; i++) K.scale(store.groupGrads(trainable[i]), cfg.clipNorm / norm);
        }
        adam.lr = sgd.lr = learningRate(cfg.optimizer.lr, cfg.schedule, epoch, steps, total);
        adam.step = steps + 1;
        for (let i = 0; i < trainable.length; i++) {
          const g = trainable[i];
          const p = store.groupParams(g),
            gr = store.groupGrads(g),
            mv = store.groupMoments(g);
          if (o.type === 'adamw') K.adamwStep(p, gr, mv.m, mv.v, adam);
          else K.sgdStep(p, gr, mv.m, sgd);
        }
        steps++;
        batches++;
        for (const k in losses) sums[k] = (sums[k] ?? 0) + losses[k]; // (for-in: no entry arrays per step)
        cb.onBatchEnd?.(steps, losses, stage.name, progress()); // arguments are not built when there is no callback
        if (now() - lastYield > yieldMs) {
          await yieldToEventLoop();
          lastYield = now();
        }
      }
      const val = stage.validate();
      const log: EpochLog = { stage: stage.name, epoch, loss: sums.loss / batches, monitor: val.monitor };
      for (const [k, v] of Object.entries(sums)) if (k !== 'loss') log[k] = v / batches;
      Object.assign(log, val.metrics);
      history.push(log);
      cb.onEpochEnd?.(epoch, log, progress());
      // The first epoch is the best so far unless a baseline competes (then snapshot is already set).
      if (val.monitor > best + (es ? es.minDelta : 0) || (bestEpoch < 0 && !snapshot)) {
        best = val.monitor;
        bestEpoch = epoch;
        wait = 0;
        if (keepBest) snapshot = new Map(trainable.map((g) => [g, store.snapshot(g)]));
      } else if (es) wait++;
      await ctx.onEpochState?.({ epoch: epoch + 1, best, bestEpoch, wait, steps, history: [...history], snapshot: snapshot && Object.fromEntries(snapshot), extra: stage.saveState?.(), wallMs: now() - t0 });
    }
  } finally {
    net.rt.threads.endStage();
  }
  if (keepBest && snapshot) for (const [g, data] of snapshot) store.restore(g, data);
  const result: StageResult = { name: stage.name, epochs: epoch, bestEpoch, bestMonitor: best, steps, wallMs: now() - t0, stoppedEarly: epoch < cfg.epochs, history };
  cb.onStageEnd?.(stage.name, result, progress(true));
  return result;
}
