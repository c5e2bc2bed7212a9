/**
 * The stages a method runs, known before training starts: how many, in which order, under which
 * budget, and how many optimiser steps each may take. `train()` passes this plan to
 * `Callbacks.onTrainBegin` and derives every callback's totals from it; a progress bar or an ETA
 * can use it before the first step. Each method's recipe lists its stages (./methods/*.ts); a test
 * checks the plan against the stages every method really runs.
 */
import { RECIPES } from './methods/index.js';
import type { PlanConfig, PlanStage } from './methods/recipe.js';
import { type PlannedStage, TrainingError, type TrainPlan } from './trainer.js';
import { METHODS, type Method } from './types.js';

/**
 * The plan of `method` on `modalities` (the config's encoders, in order) with `trainRows` training
 * rows (after the validation part is carved out: `train()` carves `validationFraction` of the
 * training data when no validation set is given). Budgets are maxima: early stopping may end a stage
 * sooner. UDI's guided stages are named once the anchor is chosen (name null here).
 */
export function planStages(method: Method, cfg: PlanConfig, trainRows: number, modalities: readonly string[]): TrainPlan {
  if (!METHODS.includes(method)) throw new TrainingError('UNKNOWN_METHOD', `unknown method "${method}"; choose one of ${METHODS.join(', ')}`);
  // The network's batch holds the largest of the stage batch sizes; a stage's batch is capped by it.
  const maxBatch = Math.max(cfg.solo.batchSize, cfg.guided.batchSize, cfg.joint.batchSize, cfg.fusionHead.batchSize);
  const stage: PlanStage = (kind, name, budget) => {
    const c = cfg[budget];
    const batchSize = Math.min(c.batchSize, maxBatch);
    const stepsPerEpoch = Math.ceil(trainRows / batchSize);
    return { kind, name, budget, epochs: c.epochs, batchSize, stepsPerEpoch, maxSteps: stepsPerEpoch * c.epochs };
  };
  const stages: PlannedStage[] = RECIPES[method].plan(stage, modalities, cfg);
  return { method, modalities: [...modalities], trainRows, stages, maxSteps: stages.reduce((a, s) => a + s.maxSteps, 0) };
}
