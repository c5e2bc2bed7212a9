/**
 * The stages a method runs, known before training starts: how many, in which order, under which
 * budget, and how many optimiser steps each may take. `train()` passes this plan to
 * `Callbacks.onTrainBegin` and derives every callback's totals from it; a progress bar or an ETA
 * can use it before the first step. A test checks it against the stages every method really runs.
 */
import type { Method, MethodConfig } from './methods.js';
import type { PlannedStage, TrainPlan } from './trainer.js';

/**
 * The plan of `method` on `modalities` (the config's encoders, in order) with `trainRows` training
 * rows (after the validation part is carved out: `train()` carves `validationFraction` of the
 * training data when no validation set is given). Budgets are maxima: early stopping may end a stage
 * sooner. UDI's guided stages are named once the anchor is chosen (name null here).
 */
export function planStages(method: Method, cfg: Pick<MethodConfig, 'solo' | 'guided' | 'joint' | 'fusionHead' | 'fusion'>, trainRows: number, modalities: readonly string[]): TrainPlan {
  // The network's batch holds the largest of the stage batch sizes; a stage's batch is capped by it.
  const maxBatch = Math.max(cfg.solo.batchSize, cfg.guided.batchSize, cfg.joint.batchSize, cfg.fusionHead.batchSize);
  const stage = (kind: string, name: string | null, budget: PlannedStage['budget']): PlannedStage => {
    const c = cfg[budget];
    const batchSize = Math.min(c.batchSize, maxBatch);
    const stepsPerEpoch = Math.ceil(trainRows / batchSize);
    return { kind, name, budget, epochs: c.epochs, batchSize, stepsPerEpoch, maxSteps: stepsPerEpoch * c.epochs };
  };
  const solo = modalities.map((m) => stage('solo', `solo:${m}`, 'solo'));
  // udi-paper fuses by the mean of probabilities (paperForm), so it never trains a fusion head.
  const head = cfg.fusion === 'head' && (method === 'udi' || method === 'ensemble') ? [stage('fusion-head', 'fusion-head', 'fusionHead')] : [];
  let stages: PlannedStage[];
  if (method === 'unimodal') stages = solo;
  else if (method === 'ensemble') stages = [...solo, ...head];
  else if (method === 'udi' || method === 'udi-paper') stages = [...solo, ...modalities.slice(1).map(() => stage('guided', null, 'guided')), ...head];
  else if (method === 'di-mml') stages = [stage('di-mml', 'di-mml', 'joint'), stage('fusion-head', 'fusion-head', 'fusionHead')];
  else if (method === 'umt') stages = [...solo, stage('umt', 'umt', 'joint')];
  else stages = [stage(method, method, 'joint')];
  return { method, modalities: [...modalities], trainRows, stages, maxSteps: stages.reduce((a, s) => a + s.maxSteps, 0) };
}
