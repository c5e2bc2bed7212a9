/**
 * The training layer's types: the methods, their config, what a run reports (Result) and what it
 * leaves (Model), and the state a run can be resumed from. Defaults are in ./config.ts, each method's
 * maths in ./methods/<method>.ts, the loop in ./trainer.ts.
 */
import type { Dataset, Standardization } from '../data/dataset.js';
import type { EncoderConfig } from '../nn/encoders.js';
import type { InitScheme } from '../nn/params.js';
import type { FusionKind } from './fusion.js';
import type { Scores } from './metrics.js';
import type { MultimodalNet } from './net.js';
import type { Callbacks, EpochLog, StageConfig, StageResult, StageState } from './trainer.js';

export type Method = 'udi' | 'udi-paper' | 'unimodal' | 'ensemble' | 'joint' | 'joint+uni' | 'ogm-ge' | 'mmpareto' | 'umt' | 'di-mml';
export const METHODS: readonly Method[] = ['udi', 'udi-paper', 'unimodal', 'ensemble', 'joint', 'joint+uni', 'ogm-ge', 'mmpareto', 'umt', 'di-mml'];

export interface UdiOptions {
  /** Force the anchor by modality name instead of selecting it. */
  anchor?: string;
  /** Top-two validation accuracies closer than this (fraction, 0.005 = 0.5 points) are a tie broken by entropy. [ours] */
  epsilon: number;
  /** Temperature of both sides of the JS consistency term. [ours] */
  temperature: number;
  /** 'gradient-alignment' (the paper's dynamic interaction, our rule) or 'fixed'. */
  controller: 'gradient-alignment' | 'fixed';
  /** Recompute the controller's weights every k steps. [ours] */
  controllerEvery: number;
  /** With the fixed controller: lambda_con = 1 and lambda_com = this. */
  lambdaCom: number;
  /** Keep the follower's own cross-entropy in its loss. [ours] */
  keepCE: boolean;
  /** Follower initialisation: its solo weights, or fresh. [ours] */
  followerInit: 'solo' | 'scratch';
  /** The complementary term; 'xcorr' = mean squared cross-correlation of standardised features. [ours] */
  complementary: 'xcorr' | 'none';
  /** Clamp for probabilities inside logs. */
  eps: number;
  /**
   * What the guided stage's early stopping watches on validation: the follower's own accuracy, or the
   * fused accuracy (with the run's fusion), which the stage exists to improve. [ours]
   */
  monitor: 'follower' | 'fused';
  /**
   * Do-no-harm gate: the follower's weights from before its guided stage compete with the stage's
   * epochs on the monitor, and the guided follower is kept only if it beats them. [ours]
   */
  gate: boolean;
}

export interface MethodConfig {
  seed: number;
  /**
   * Parameter initialisation: 'he' (He-normal encoders, Xavier-uniform heads, zero biases; the
   * default) or 'pytorch' (PyTorch's nn.Linear/nn.Conv2d defaults: weights and biases U(±1/√fan_in)).
   */
  init: InitScheme;
  /** Encoder per modality (by name); modalities absent here are not used. */
  encoders: Record<string, EncoderConfig>;
  /** Stage budgets: solo (per modality), guided (UDI followers), joint (joint-family baselines), fusion head. */
  solo: StageConfig;
  guided: StageConfig;
  joint: StageConfig;
  fusionHead: StageConfig;
  udi: UdiOptions;
  /** How fused predictions are made for udi/ensemble. [ours] */
  fusion: FusionKind;
  /** Fraction of the training split carved out for validation when no validation set is given. */
  validationFraction: number;
  /** OGM-GE modulation strength alpha. */
  ogmAlpha: number;
  /** UMT distillation weight. */
  umtWeight: number;
  /** DI-MML: weight and temperature of the one-way contrastive term. */
  dimml: { contrastWeight: number; temperature: number };
}

export interface LambdaStep {
  follower: string;
  step: number;
  lambdaCon: number;
  lambdaCom: number;
  /** cos(g_con, g_com), NaN with the fixed controller. */
  cos: number;
}

export interface Result {
  method: Method;
  modalities: string[];
  /** Fused accuracy and macro-F1 on the evaluation split (test if given, else validation). */
  fused: Scores;
  evaluatedOn: 'test' | 'validation';
  /** Each modality trained alone (solo stage), on the evaluation split; absent for joint-family methods. */
  soloAcc: Record<string, number>;
  /** Each modality's accuracy inside the final model: its own head, or its block of the joint head. */
  inModelAcc: Record<string, number>;
  /** Validation accuracy and mean entropy per modality after the solo stage, and the anchor chosen. */
  anchor?: { name: string; reason: string; validation: Record<string, { acc: number; entropy: number }> };
  lambdaTrace: LambdaStep[];
  /** Update steps per encoder, and each stage's wall time. */
  cost: { updates: Record<string, number>; stages: { name: string; steps: number; epochs: number; wallMs: number }[]; wallMs: number };
  fusionWeights?: Record<string, number>;
  /** With fusion 'calibrated': each modality's temperature, fitted on validation NLL. */
  fusionTemperatures?: Record<string, number>;
  /** UDI: per follower, whether its guided weights were kept or (gate) its solo weights. */
  guided?: { follower: string; kept: 'guided' | 'solo'; bestEpoch: number; monitor: number }[];
  history: EpochLog[];
}

export interface Splits {
  train: Dataset;
  val?: Dataset;
  test?: Dataset;
}

/** A trained model: the network, how to fuse its modalities, and how its raw inputs are standardised. */
export interface Model {
  net: MultimodalNet;
  method: Method;
  modalities: string[];
  fusion: FusionKind | 'joint';
  fusionWeights?: Record<string, number>;
  fusionTemperatures?: Record<string, number>;
  /**
   * The standardisation of raw inputs, per modality ((x − mean) / std, the training part's
   * statistics), that the network was trained behind; a modality without an entry is used as it is
   * (`{}`: raw inputs throughout). Undefined when not recorded (trained without train()'s
   * `preprocess` or `standardize` option, or loaded from a checkpoint saved without it): classify()
   * then refuses raw inputs rather than guess. Saved in checkpoints, applied by classify/predictProba/evaluate.
   */
  preprocess?: Standardization;
}

export interface TrainOptions {
  callbacks?: Callbacks;
  signal?: AbortSignal;
  /** Continue a run from a state that `onState` gave; the final weights equal an uninterrupted run's, bit for bit. */
  resume?: TrainState;
  /** Called after every epoch and every stage with the full training state (write it to resume later). */
  onState?: (state: TrainState) => Promise<void> | void;
  /**
   * The standardisation the splits were already given, as fitStandardize returns it (statistics of
   * the rows that train): recorded in the model (Model.preprocess, and so in its checkpoint) so that
   * classify() standardises raw inputs the same way; it is not applied to the splits. `{}` records
   * that the model takes raw inputs. Entries of modalities the model does not use are dropped.
   */
  preprocess?: Readonly<Record<string, { readonly mean: ArrayLike<number>; readonly std: ArrayLike<number> }>>;
  /**
   * Fit the standardisation of every modality of the model on the rows that train (the training
   * split, less the validation part carved from it when no validation set is given), apply it to the
   * training, validation and test splits, and record it in the model. The splits are then raw data.
   */
  standardize?: boolean;
}

/** Everything needed to continue a run: see TrainOptions.resume. */
export interface TrainState {
  method: Method;
  /** Stages completed, in order. */
  done: StageResult[];
  /** The stage in progress (the next after `done`), after a whole epoch; null between stages. */
  current: StageState | null;
  trace: LambdaStep[];
  memo: Record<string, unknown>;
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  rngs: Int32Array[];
  wallMs: number;
}

