/**
 * What a method is to train(): a recipe of stages run on one Run, registered in ./index.ts (RECIPES).
 * A recipe names the stages it will run (plan, for callbacks and progress bars, before any step),
 * runs them, and reports what is specific to it; train() adds what every method reports (method,
 * modalities, λ trace, cost, history) and builds the Model.
 */
import type { PlannedStage } from '../trainer.js';
import type { Run } from '../run.js';
import type { MethodConfig, Model, Result } from '../types.js';

/** A planned stage of the given kind and name (null: decided during the run) under a config budget. */
export type PlanStage = (kind: string, name: string | null, budget: PlannedStage['budget']) => PlannedStage;

/** The config sections a plan depends on. */
export type PlanConfig = Pick<MethodConfig, 'solo' | 'guided' | 'joint' | 'fusionHead' | 'fusion'>;

export interface RecipeOutput {
  result: Pick<Result, 'fused' | 'soloAcc' | 'inModelAcc'> & Partial<Pick<Result, 'anchor' | 'guided' | 'fusionWeights' | 'fusionTemperatures'>>;
  model: Pick<Model, 'modalities' | 'fusion'> & Partial<Pick<Model, 'fusionWeights' | 'fusionTemperatures'>>;
}

export interface Recipe {
  /** The fewest modalities the method trains on. */
  minModalities: 1 | 2;
  /** The config the method runs under, when it fixes some options (udi-paper). */
  config?(cfg: MethodConfig): MethodConfig;
  /** Every stage the method will run, in order (see planStages). */
  plan(stage: PlanStage, modalities: readonly string[], cfg: PlanConfig): PlannedStage[];
  /** Run the method's stages and report. */
  run(run: Run): Promise<RecipeOutput>;
}
