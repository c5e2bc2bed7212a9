/**
 * UDI and the baselines, as stages over the one trainer (trainer.ts) and the one network (net.ts).
 *
 *   unimodal, ensemble   solo stage only (ensemble = the solo models fused: UDI minus its guided stage)
 *   udi                  solo stage, anchor selection, anchor frozen and cached, guided stage per follower
 *   udi-paper            udi in the paper's form: the guided stage watches the follower alone, no gate, mean fusion
 *   joint, joint+uni     concatenated features with one linear head (+ per-modality heads)
 *   ogm-ge               joint, with on-the-fly gradient modulation and Gaussian noise
 *   mmpareto             joint+uni, each encoder's multimodal and unimodal gradients combined (Pareto)
 *   umt                  unimodal teachers, then joint CE + feature distillation (MSE) from them
 *   di-mml               detached per-modality CE through one shared classifier, plus a one-way
 *                        contrastive term (weaker modality's features towards the stronger's); then a
 *                        fusion head on the frozen encoders. A simplification of DI-MML (Fan et al.
 *                        2024): its dimension-decoupled contrastive loss is replaced by plain InfoNCE.
 *
 * Every [ours] choice of ../shared/notes/udi-method.md is an option here; see UdiOptions.
 */
import type { F32 } from '../runtime/arena.js';
import type { Runtime } from '../runtime/runtime.js';
import { applyStandardize, type Dataset, DataError, fitStandardize, type Standardization, stratifiedSplit, subset } from '../data/dataset.js';
import type { EncoderConfig } from '../nn/encoders.js';
import { prefix } from '../nn/layers.js';
import { type InitScheme, slice } from '../nn/params.js';
import { dtanh } from '../util/detmath.js';
import { fitFusionWeights, fitTemperature, fuseCalibrated, fuseEntropy, fuseMean, type FusionKind } from './fusion.js';
import { scores, type Scores } from './metrics.js';
import { MultimodalNet } from './net.js';
import { type Callbacks, type EpochLog, infer, runStage, type Stage, type StageConfig, type StageResult, type StageState, TrainingError, type TrainPlan } from './trainer.js';
import { planStages } from './plan.js';

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

/** The paper's form of UDI (with the notes' [ours] defaults for what the paper leaves open): `udi-paper`. */
export function paperForm(cfg: MethodConfig): MethodConfig {
  return { ...cfg, udi: { ...cfg.udi, monitor: 'follower', gate: false }, fusion: 'mean' };
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

const adam = (lr: number) => ({ type: 'adamw' as const, lr, weightDecay: 1e-4 });

export function defaultConfig(encoders: Record<string, EncoderConfig>, seed = 0): MethodConfig {
  // A fresh object per stage: changing cfg.guided must not change cfg.solo.
  const stage = (): StageConfig => ({ epochs: 30, batchSize: 64, optimizer: adam(1e-3), schedule: { type: 'constant' }, clipNorm: 5, earlyStopping: { patience: 5, minDelta: 0 } });
  return {
    seed,
    init: 'he',
    encoders,
    solo: stage(),
    guided: stage(),
    joint: stage(),
    fusionHead: { ...stage(), epochs: 20, optimizer: adam(1e-2) },
    udi: { epsilon: 0.005, temperature: 1, controller: 'gradient-alignment', controllerEvery: 1, lambdaCom: 1, keepCE: true, followerInit: 'solo', complementary: 'xcorr', eps: 1e-7, monitor: 'fused', gate: true },
    // monitor 'fused', the gate and calibrated fusion were adopted by bench/udi-study.ts's rule (README).
    fusion: 'calibrated',
    validationFraction: 0.1,
    ogmAlpha: 0.1,
    umtWeight: 1,
    dimml: { contrastWeight: 0.1, temperature: 0.1 },
  };
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

/**
 * The rows that train and those that validate: the given validation set, or a stratified part
 * (validationFraction, the run's seed) carved from the training split.
 */
function trainingParts(data: Splits, cfg: MethodConfig, names: readonly string[]): { train: Dataset; val: Dataset } {
  if (data.val) return { train: data.train, val: data.val };
  const { fit, val } = stratifiedSplit(data.train.labels, cfg.validationFraction, cfg.seed);
  return { train: subset(data.train, fit, names), val: subset(data.train, val, names) };
}

class Run {
  readonly net: MultimodalNet;
  readonly names: string[];
  readonly train: Dataset;
  readonly val: Dataset;
  readonly evalSet: Dataset;
  readonly evaluatedOn: 'test' | 'validation';
  readonly stages: StageResult[] = [];
  readonly updates: Record<string, number> = {};
  readonly trace: LambdaStep[] = [];
  private stageCount = 0;
  readonly t0 = Date.now();
  /** Every stage and its budget, for the callbacks' totals. */
  readonly plan: TrainPlan;
  /** Validation temperature of each validation probability array already fitted (calibrated fusion). */
  private readonly temperatureOf = new WeakMap<Float32Array, number>();
  /** Values computed once between stages (solo accuracies, the anchor, UMT teachers); kept in resumable states. */
  private readonly memos: Record<string, unknown> = {};

  constructor(
    readonly rt: Runtime,
    readonly method: Method,
    data: Splits,
    readonly cfg: MethodConfig,
    readonly callbacks: Callbacks,
    readonly signal?: AbortSignal,
    private readonly resume?: TrainState,
    private readonly onState?: (s: TrainState) => Promise<void> | void,
  ) {
    this.names = Object.keys(cfg.encoders);
    if (this.names.length === 0) throw new TrainingError('NO_MODALITY', 'config.encoders names no modality');
    for (const m of this.names) if (!data.train.modalities[m]) throw new TrainingError('UNKNOWN_MODALITY', `config.encoders.${m}: the training data has no modality "${m}" (have ${Object.keys(data.train.modalities).join(', ')})`);
    if (method !== 'unimodal' && this.names.length < 2) throw new TrainingError('NEED_TWO_MODALITIES', `method ${method} needs at least two modalities, got only ${this.names[0]}`);
    const parts = trainingParts(data, cfg, this.names);
    this.train = parts.train;
    this.val = parts.val;
    for (const [part, ds] of [
      ['training', this.train],
      ['validation', this.val],
    ] as const) {
      const seen = new Set(ds.labels);
      const absent = Array.from({ length: data.train.classes }, (_, c) => c).filter((c) => !seen.has(c));
      if (absent.length) {
        throw new DataError(
          'CLASS_ABSENT',
          `class${absent.length > 1 ? 'es' : ''} ${absent.slice(0, 10).join(', ')} ${absent.length > 1 ? 'have' : 'has'} no example in the ${part} split (${ds.size} rows, ${data.train.classes} classes); ` +
            (part === 'validation' ? 'give a larger validationFraction or your own validation set' : 'every class needs training examples'),
        );
      }
    }
    this.evalSet = data.test ?? this.val;
    this.evaluatedOn = data.test ? 'test' : 'validation';
    const batch = Math.max(cfg.solo.batchSize, cfg.guided.batchSize, cfg.joint.batchSize, cfg.fusionHead.batchSize);
    this.net = new MultimodalNet(
      rt,
      this.names.map((name) => ({ name, dim: this.train.modalities[name].dim, encoder: cfg.encoders[name] })),
      this.train.classes,
      batch,
      cfg.seed,
    );
    // The scheme's own draws, from the same generator stream allocate() used (the default, 'he', is what allocate() drew).
    if ((cfg.init ?? 'he') !== 'he') this.net.store.initialize(cfg.seed, cfg.init);
    for (const m of this.names) this.updates[m] = 0;
    this.plan = planStages(method, cfg, this.train.size, this.names);
    if (resume) this.restore(resume);
  }

  /** Put a saved state back: parameters, optimiser moments, generators, λ trace and memos. */
  private restore(s: TrainState): void {
    if (s.method !== this.method) throw new TrainingError('RESUME_MISMATCH', `cannot resume: the saved state is of method ${s.method}, not ${this.method}`);
    const { store } = this.net;
    const a = this.rt.arena;
    for (const [buf, data, what] of [
      [store.params, s.params, 'parameters'],
      [store.moments.m, s.m, 'first moments'],
      [store.moments.v, s.v, 'second moments'],
    ] as const) {
      if (data.length !== buf.length) throw new TrainingError('RESUME_MISMATCH', `cannot resume: the saved ${what} have ${data.length} values, this model has ${buf.length} (different config?)`);
      a.viewF32(buf).set(data);
    }
    const rngs = this.net.rngStates;
    if (rngs.length !== s.rngs.length) throw new TrainingError('RESUME_MISMATCH', `cannot resume: ${s.rngs.length} saved generator states, this model has ${rngs.length}`);
    rngs.forEach((r, i) => a.viewI32(r).set(s.rngs[i]));
    this.trace.push(...s.trace);
    Object.assign(this.memos, s.memo);
  }

  /** Whether stage `index` had started (or finished) in the run being resumed. */
  private started(index: number): boolean {
    const r = this.resume;
    return !!r && (index < r.done.length || (index === r.done.length && r.current !== null));
  }

  /** True when the next stage is new (not being resumed): one-off setup such as re-initialisation runs only then. */
  nextStageIsNew(): boolean {
    return !this.started(this.stageCount);
  }

  /** A value computed once; on resume it comes from the saved state instead. */
  memo<T>(key: string, compute: () => T): T {
    if (!(key in this.memos)) this.memos[key] = compute();
    return this.memos[key] as T;
  }

  private async emit(current: StageState | null): Promise<void> {
    if (!this.onState) return;
    const { store } = this.net;
    const a = this.rt.arena;
    await this.onState({
      method: this.method,
      done: [...this.stages],
      current,
      trace: [...this.trace],
      memo: { ...this.memos },
      params: a.read(store.params),
      m: a.read(store.moments.m),
      v: a.read(store.moments.v),
      rngs: this.net.rngStates.map((r) => a.viewI32(r).slice()),
      wallMs: this.elapsed(),
    });
  }

  elapsed(): number {
    return (this.resume?.wallMs ?? 0) + Math.max(0, Date.now() - this.t0);
  }

  async stage(stage: Stage, cfg: StageConfig, encodersUpdated: string[]): Promise<StageResult> {
    const index = this.stageCount++;
    const saved = this.resume;
    let r: StageResult;
    if (saved && index < saved.done.length) {
      r = saved.done[index];
      if (r.name !== stage.name) throw new TrainingError('RESUME_MISMATCH', `cannot resume: stage ${index} was ${r.name}, now ${stage.name} (different config?)`);
    } else {
      const from = saved && index === saved.done.length ? (saved.current ?? undefined) : undefined;
      const totals = { stageCount: this.plan.stages.length, stepsBefore: this.stages.reduce((a, s) => a + s.steps, 0), stepsAfter: this.plan.stages.slice(index + 1).reduce((a, s) => a + s.maxSteps, 0) };
      r = await runStage(this.net, this.train, stage, cfg, { seed: this.cfg.seed, callbacks: this.callbacks, signal: this.signal, onEpochState: (s) => this.emit(s), totals }, index, from);
    }
    this.stages.push(r);
    for (const m of encodersUpdated) this.updates[m] += r.steps;
    if (!(saved && index < saved.done.length)) await this.emit(null);
    return r;
  }

  /** Validation accuracy of one modality's own head. */
  valAcc(m: string): Scores {
    return scores(infer(this.net, this.val, [m]).probs[m], this.val.labels, this.net.classes);
  }

  /**
   * Per-epoch validation metrics for every modality and the fused prediction; the monitor is the
   * accuracy of `monitor` (a modality's own head, or 'fused'). Joint models fuse in their joint
   * head, and their per-modality figures are their in-model ones (own heads if trained, else blocks).
   * With `frozen` (own heads only), the probabilities of the modalities a stage does not train are
   * computed at its first validation and kept there: they cannot change during the stage (the same
   * bits as recomputing them, as each modality's forward pass is independent of the others').
   */
  validation(monitor: string, joint: 'none' | 'heads' | 'blocks', frozen?: { names: readonly string[]; probs: Record<string, Float32Array> }, fusion: FusionKind = 'mean'): { monitor: number; metrics: Record<string, number> } {
    const C = this.net.classes;
    const fresh = frozen && joint === 'none' ? this.names.filter((m) => !(frozen.names.includes(m) && frozen.probs[m])) : this.names;
    const out = infer(this.net, this.val, fresh, { joint: joint !== 'none' });
    if (frozen && joint === 'none') {
      for (const m of this.names) {
        if (out.probs[m]) {
          if (frozen.names.includes(m)) frozen.probs[m] = out.probs[m];
        } else out.probs[m] = frozen.probs[m];
      }
    }
    const metrics: Record<string, number> = {};
    for (const m of this.names) {
      const s = scores(joint === 'blocks' ? out.jointBlocks![m] : out.probs[m], this.val.labels, C);
      metrics[`val_acc_${m}`] = s.acc;
      metrics[`val_f1_${m}`] = s.f1;
    }
    const f = scores(joint === 'none' ? this.lateFuse(out.probs, fusion).probs : out.joint!, this.val.labels, C);
    metrics.val_acc_fused = f.acc;
    metrics.val_f1_fused = f.f1;
    return { monitor: metrics[`val_acc_${monitor}`], metrics };
  }

  /**
   * Late fusion of validation probabilities (own heads) with `kind`; the validation-fitted kinds
   * ('validation', 'calibrated') fit their weights or temperatures on these same rows. 'head' fuses
   * by the mean here (its head is trained after the other stages).
   */
  lateFuse(probs: Record<string, Float32Array>, kind: FusionKind): { probs: Float32Array; weights?: Record<string, number>; temperatures?: Record<string, number> } {
    const C = this.net.classes;
    const weights = kind === 'validation' ? fitFusionWeights(probs, this.val.labels, C) : undefined;
    // A stage's frozen modalities keep the same probability arrays from epoch to epoch: fit each array once.
    const temperatures =
      kind === 'calibrated'
        ? Object.fromEntries(
            Object.entries(probs).map(([m, p]) => {
              let T = this.temperatureOf.get(p);
              if (T === undefined) this.temperatureOf.set(p, (T = fitTemperature(p, this.val.labels, C)));
              return [m, T];
            }),
          )
        : undefined;
    return { probs: fuseProbs(probs, this.val.size, C, { fusion: kind, fusionWeights: weights, fusionTemperatures: temperatures }), weights, temperatures };
  }

  soloStage(m: string): Stage {
    const net = this.net;
    const frozen = { names: this.names.filter((x) => x !== m), probs: {} };
    return {
      name: `solo:${m}`,
      trainable: MultimodalNet.groups(m),
      modalities: [m],
      step: (n) => {
        const b = net.forward(m, n, true);
        const loss = net.headLoss(b, n);
        const dz = prefix(b.dlogits, n * net.classes);
        net.rt.kernels.fill(dz, 0);
        net.rt.kernels.softmaxCrossEntropyBackward(dz, prefix(b.probs, n * net.classes), net.batchLabels(n), n, net.classes);
        net.encoderBackward(b, n, net.headBackward(b, n, dz));
        return { loss };
      },
      validate: () => this.validation(m, 'none', frozen),
    };
  }

  history(): EpochLog[] {
    return this.stages.flatMap((s) => s.history);
  }

  cost(): Result['cost'] {
    return { updates: { ...this.updates }, stages: this.stages.map((s) => ({ name: s.name, steps: s.steps, epochs: s.epochs, wallMs: s.wallMs })), wallMs: this.elapsed() };
  }
}

// ---- fusion of own-head probabilities --------------------------------------------------------


/** Train the linear fusion head (group head:joint) on the frozen encoders' features. */
async function trainFusionHead(run: Run): Promise<void> {
  const net = run.net;
  const K = net.rt.kernels;
  const C = net.classes;
  await run.stage(
    {
      name: 'fusion-head',
      trainable: ['head:joint'],
      modalities: run.names,
      step: (n) => {
        for (const m of run.names) net.forward(m, n, false);
        const z = net.jointForward(n);
        const p = prefix(net.jointProbs, n * C);
        const loss = K.softmaxCrossEntropy(p, z, net.batchLabels(n), n, C);
        const dz = prefix(net.jointDlogits, n * C);
        K.fill(dz, 0);
        K.softmaxCrossEntropyBackward(dz, p, net.batchLabels(n), n, C);
        net.jointBackward(n, dz);
        return { loss };
      },
      validate: () => run.validation('fused', 'heads'),
    },
    run.cfg.fusionHead,
    [],
  );
}

async function finishLateFusion(run: Run, kind: FusionKind): Promise<{ fused: Scores; weights?: Record<string, number>; temperatures?: Record<string, number>; inModel: Record<string, number> }> {
  const C = run.net.classes;
  const { weights, temperatures } = kind === 'validation' || kind === 'calibrated' ? run.lateFuse(infer(run.net, run.val, run.names).probs, kind) : {};
  if (kind === 'head') await trainFusionHead(run);
  const out = infer(run.net, run.evalSet, run.names, { joint: kind === 'head' });
  const probs = kind === 'head' ? out.joint! : fuseProbs(out.probs, run.evalSet.size, C, { fusion: kind, fusionWeights: weights, fusionTemperatures: temperatures });
  const inModel = Object.fromEntries(run.names.map((m) => [m, scores(out.probs[m], run.evalSet.labels, C).acc]));
  return { fused: scores(probs, run.evalSet.labels, C), weights, temperatures, inModel };
}

/** Late fusion of own-head probabilities as a trained model does it (mean for 'head' when modalities are missing). */
function fuseProbs(probs: Record<string, Float32Array>, n: number, C: number, m: Pick<Model, 'fusion' | 'fusionWeights' | 'fusionTemperatures'>): Float32Array {
  if (m.fusion === 'entropy') return fuseEntropy(probs, n, C);
  if (m.fusion === 'calibrated') return fuseCalibrated(probs, n, C, m.fusionTemperatures ?? {});
  return fuseMean(probs, n, C, m.fusion === 'validation' ? m.fusionWeights : undefined);
}

// ---- UDI ---------------------------------------------------------------------------------------

/**
 * The two-task minimum-norm weight: the alpha in [0, 1] minimising ||alpha·a + (1 − alpha)·b||²,
 * from aa = a·a, bb = b·b, ab = a·b: clip((bb − ab) / ||a − b||², 0, 1).
 */
export function minNormWeight(aa: number, bb: number, ab: number): number {
  const d = aa + bb - 2 * ab;
  if (!(d > 0)) return 0.5; // a == b: every alpha gives the same vector
  return Math.min(1, Math.max(0, (bb - ab) / d));
}

/**
 * The gradient-alignment controller [ours]: from cc = g_con·g_con, mm = g_com·g_com,
 * cm = g_con·g_com. Agreeing gradients (cos >= 0) get 1/2 each; conflicting ones the min-norm weights.
 */
export function alignmentWeights(cc: number, mm: number, cm: number): { lambdaCon: number; lambdaCom: number; cos: number } {
  const cos = cc > 0 && mm > 0 ? cm / Math.sqrt(cc * mm) : 1;
  if (cos >= 0) return { lambdaCon: 0.5, lambdaCom: 0.5, cos };
  const alpha = minNormWeight(cc, mm, cm);
  return { lambdaCon: alpha, lambdaCom: 1 - alpha, cos };
}

function selectAnchor(run: Run, o: UdiOptions): NonNullable<Result['anchor']> {
  const net = run.net;
  const K = net.rt.kernels;
  const arena = net.rt.arena;
  const validation: Record<string, { acc: number; entropy: number }> = {};
  const out = infer(net, run.val, run.names);
  for (const m of run.names) {
    const mark = arena.mark();
    const p = arena.f32From(out.probs[m]);
    validation[m] = { acc: scores(out.probs[m], run.val.labels, net.classes).acc, entropy: K.entropy(p, run.val.size, net.classes, o.eps) };
    arena.release(mark);
  }
  if (o.anchor !== undefined) {
    if (!run.names.includes(o.anchor)) throw new TrainingError('BAD_ANCHOR', `udi.anchor: "${o.anchor}" is not a modality of this run (${run.names.join(', ')})`);
    return { name: o.anchor, reason: 'forced by the udi.anchor option', validation };
  }
  const ranked = [...run.names].sort((a, b) => validation[b].acc - validation[a].acc || run.names.indexOf(a) - run.names.indexOf(b));
  const [first, second] = ranked;
  const fmt = (m: string) => `${m} ${(100 * validation[m].acc).toFixed(2)}%`;
  if (validation[first].acc - validation[second].acc < o.epsilon) {
    const pick = validation[second].entropy < validation[first].entropy ? second : first;
    return { name: pick, reason: `validation accuracies within ${(100 * o.epsilon).toFixed(2)} points (${fmt(first)}, ${fmt(second)}); lower mean entropy wins (${validation[pick].entropy.toFixed(4)})`, validation };
  }
  return { name: first, reason: `best validation accuracy (${ranked.map(fmt).join(' > ')})`, validation };
}

/** The anchor's cached training-set targets: probabilities at temperature T and features. */
function cacheAnchor(run: Run, anchor: string, T: number): { probs: Float32Array; feats: Float32Array; dim: number } {
  const net = run.net;
  const K = net.rt.kernels;
  const arena = net.rt.arena;
  const C = net.classes;
  const b = net.branch(anchor);
  const probs = new Float32Array(run.train.size * C);
  const feats = new Float32Array(run.train.size * b.featureDim);
  const idx = new Int32Array(net.maxBatch);
  for (let start = 0; start < run.train.size; start += net.maxBatch) {
    const n = Math.min(net.maxBatch, run.train.size - start);
    for (let i = 0; i < n; i++) idx[i] = start + i;
    net.load(run.train, idx.subarray(0, n), [anchor]);
    net.forward(anchor, n, false);
    // softmax is not safe in place: scale the logits in a separate scratch buffer (dlogits is unused in inference).
    const z = prefix(b.dlogits, n * C),
      p = prefix(b.probs, n * C);
    K.copy(z, b.logits!);
    if (T !== 1) K.scale(z, 1 / T);
    K.softmax(p, z, n, C);
    probs.set(arena.viewF32(p), start * C);
    feats.set(arena.viewF32(b.feat!), start * b.featureDim);
  }
  return { probs, feats, dim: b.featureDim };
}

/** The guided stage of one follower, against the anchor's cached training-set probabilities and features. */
function guidedStage(run: Run, follower: string, cache: { probs: Float32Array; feats: Float32Array; dim: number }): Stage {
  const net = run.net;
  const K = net.rt.kernels;
  const arena = net.rt.arena;
  const o = run.cfg.udi;
  const C = net.classes;
  const b = net.branch(follower);
  const d = b.featureDim,
    da = cache.dim,
    B = net.maxBatch;
  const groups = MultimodalNet.groups(follower);
  const frozen = { names: run.names.filter((x) => x !== follower), probs: {} };
  // Working buffers for the whole stage.
  const pa = arena.f32(B * C),
    pm = arena.f32(B * C);
  const g = arena.f32(B * da),
    ghat = arena.f32(B * da),
    ginv = arena.f32(da);
  const xc = arena.f32(d * da),
    fhat = arena.f32(B * d),
    finv = arena.f32(d),
    work = arena.f32(B * d);
  const gradSpan = net.store.span(groups, 'grads');
  const gCon = arena.f32(gradSpan.length),
    gCom = arena.f32(gradSpan.length);
  const useCom = o.complementary === 'xcorr';
  let lambdaCon = o.controller === 'fixed' ? 1 : 0.5;
  let lambdaCom = o.controller === 'fixed' ? o.lambdaCom : 0.5;
  let lastCos = Number.NaN;
  const div = { temperature: o.temperature, eps: o.eps };

  /** One backward pass of CE·wCE + JS·wCon + xcorr·wCom into the follower's gradients. */
  const backward = (n: number, wCE: number, wCon: number, wCom: number) => {
    const dz = prefix(b.dlogits, n * C);
    K.fill(dz, 0);
    if (wCE) K.softmaxCrossEntropyBackward(dz, prefix(b.probs, n * C), net.batchLabels(n), n, C, wCE);
    if (wCon) K.jsDivergenceBackward(dz, prefix(pa, n * C), prefix(pm, n * C), n, C, { ...div, scale: wCon });
    let df: F32;
    if (wCE || wCon) df = net.headBackward(b, n, dz);
    else {
      df = prefix(b.dfeat, n * d);
      K.fill(df, 0);
    }
    if (wCom && useCom) K.crossCorrelationBackward(df, prefix(xc, d * da), prefix(fhat, n * d), finv, prefix(ghat, n * da), n, d, da, wCom, prefix(work, n * d));
    net.encoderBackward(b, n, df);
  };

  return {
    name: `guided:${follower}`,
    trainable: groups,
    modalities: [follower],
    saveState: () => ({ lambdaCon, lambdaCom, lastCos: Number.isNaN(lastCos) ? null : lastCos }),
    loadState: (x) => {
      const st = x as { lambdaCon: number; lambdaCom: number; lastCos: number | null };
      ({ lambdaCon, lambdaCom } = st);
      lastCos = st.lastCos ?? Number.NaN;
    },
    step: (n, idx, step) => {
      // Gather the anchor's cached targets for these rows.
      const paV = arena.viewF32(pa),
        gV = arena.viewF32(g);
      for (let i = 0; i < n; i++) {
        paV.set(cache.probs.subarray(idx[i] * C, (idx[i] + 1) * C), i * C);
        gV.set(cache.feats.subarray(idx[i] * da, (idx[i] + 1) * da), i * da);
      }
      net.forward(follower, n, true);
      const ce = net.headLoss(b, n);
      const con = K.jsDivergence(prefix(pm, n * C), prefix(pa, n * C), b.logits!, n, C, div);
      let com = 0;
      if (useCom) {
        K.standardize(prefix(ghat, n * da), ginv, prefix(g, n * da), n, da);
        com = K.crossCorrelation(prefix(xc, d * da), prefix(fhat, n * d), finv, b.feat!, prefix(ghat, n * da), n, d, da);
      }
      if (o.controller === 'gradient-alignment' && useCom && step % o.controllerEvery === 0) {
        net.store.zeroGrads(groups);
        backward(n, 0, 1, 0);
        K.copy(gCon, gradSpan);
        net.store.zeroGrads(groups);
        backward(n, 0, 0, 1);
        K.copy(gCom, gradSpan);
        const cc = K.dot(gCon, gCon),
          mm = K.dot(gCom, gCom),
          cm = K.dot(gCon, gCom);
        ({ lambdaCon, lambdaCom, cos: lastCos } = alignmentWeights(cc, mm, cm));
        net.store.zeroGrads(groups);
      }
      backward(n, o.keepCE ? 1 : 0, lambdaCon, useCom ? lambdaCom : 0);
      run.trace.push({ follower, step, lambdaCon, lambdaCom: useCom ? lambdaCom : 0, cos: o.controller === 'fixed' ? Number.NaN : lastCos });
      const loss = (o.keepCE ? ce : 0) + lambdaCon * con + (useCom ? lambdaCom * com : 0);
      return { loss, ce, con, com };
    },
    validate: () => run.validation(o.monitor === 'fused' ? 'fused' : follower, 'none', frozen, run.cfg.fusion === 'head' ? 'mean' : run.cfg.fusion),
  };
}

// ---- joint-family objectives -------------------------------------------------------------------

interface JointOptions {
  uni: boolean;
  pareto?: boolean;
  ogm?: number;
  teachers?: Record<string, Float32Array>;
}

function jointStage(run: Run, name: string, opt: JointOptions): Stage {
  const net = run.net;
  const K = net.rt.kernels;
  const arena = net.rt.arena;
  const C = net.classes;
  const B = net.maxBatch;
  const trainable = [...run.names.flatMap((m) => (opt.uni ? MultimodalNet.groups(m) : [`enc:${m}`])), 'head:joint'];
  const blk = arena.f32(B * C),
    blkP = arena.f32(B * C);
  const diff = Object.fromEntries(net.branches.map((b) => [b.name, arena.f32(B * b.featureDim)]));
  const gMM = Object.fromEntries(net.branches.map((b) => [b.name, arena.f32(net.store.group(`enc:${b.name}`).length)]));
  const noiseRng = K.rng(run.cfg.seed, 77);
  const noise = arena.f32(Math.max(...net.store.parameters.map((p) => p.length)));
  return {
    name,
    trainable,
    modalities: run.names,
    saveState: () => Array.from(arena.viewI32(noiseRng)),
    loadState: (x) => arena.viewI32(noiseRng).set(x as number[]),
    step: (n, idx) => {
      for (const m of run.names) net.forward(m, n, true);
      const z = net.jointForward(n);
      const p = prefix(net.jointProbs, n * C);
      const lab = net.batchLabels(n);
      const jointLoss = K.softmaxCrossEntropy(p, z, lab, n, C);
      const dz = prefix(net.jointDlogits, n * C);
      K.fill(dz, 0);
      K.softmaxCrossEntropyBackward(dz, p, lab, n, C);
      net.jointBackward(n, dz); // writes each branch's dfeat
      const parts: Record<string, number> = { joint: jointLoss };
      let loss = jointLoss;
      if (opt.pareto) {
        // MMPareto: keep each encoder's multimodal gradient, then compute its unimodal one alone.
        for (const b of net.branches) net.encoderBackward(b, n, prefix(b.dfeat, n * b.featureDim));
        for (const b of net.branches) K.copy(gMM[b.name], net.store.groupGrads(`enc:${b.name}`));
        net.store.zeroGrads(run.names.map((m) => `enc:${m}`));
        for (const b of net.branches) K.fill(prefix(b.dfeat, n * b.featureDim), 0);
      }
      for (const b of net.branches) {
        const df = prefix(b.dfeat, n * b.featureDim);
        if (opt.uni) {
          const l = net.headLoss(b, n);
          parts[`ce_${b.name}`] = l;
          loss += l;
          const dzu = prefix(b.dlogits, n * C);
          K.fill(dzu, 0);
          K.softmaxCrossEntropyBackward(dzu, prefix(b.probs, n * C), lab, n, C);
          K.axpy(df, net.headBackward(b, n, dzu), 1);
        }
        if (opt.teachers) {
          // Distillation: mean squared error to the teacher's features.
          const dv = prefix(diff[b.name], n * b.featureDim);
          const t = arena.viewF32(dv);
          const src = opt.teachers[b.name];
          for (let i = 0; i < n; i++) t.set(src.subarray(idx[i] * b.featureDim, (idx[i] + 1) * b.featureDim), i * b.featureDim);
          K.scale(dv, -1);
          K.axpy(dv, b.feat!, 1); // f − teacher
          const mse = K.sumsq(dv) / (n * b.featureDim);
          parts[`kd_${b.name}`] = mse;
          loss += run.cfg.umtWeight * mse;
          K.axpy(df, dv, (2 * run.cfg.umtWeight) / (n * b.featureDim));
        }
        net.encoderBackward(b, n, df);
      }
      if (opt.pareto) {
        // Per encoder: equal weights if the two gradients agree (cos > 0), else the two-task
        // minimum-norm weights; g = 2·k_mm·g_mm + 2·k_uni·g_uni, then per tensor rescaled to at least
        // the norm of g_mm + g_uni, times gamma = 1.5 (as the reference code).
        for (const b of net.branches) {
          const gu = net.store.groupGrads(`enc:${b.name}`),
            gm = gMM[b.name];
          const uu = K.dot(gu, gu),
            mm = K.dot(gm, gm),
            um = K.dot(gu, gm);
          const cos = uu > 0 && mm > 0 ? um / Math.sqrt(uu * mm) : 1;
          const kMM = cos > 0 ? 0.5 : minNormWeight(mm, uu, um),
            kUni = 1 - kMM;
          parts[`cos_${b.name}`] = cos;
          const base = net.store.group(`enc:${b.name}`).offset;
          for (const prm of net.store.parameters) {
            if (prm.group !== `enc:${b.name}`) continue;
            const tu = net.store.gradOf(prm),
              tm = slice(gm, prm.offset - base, prm.length);
            const total = Math.sqrt(Math.max(0, K.dot(tu, tu) + K.dot(tm, tm) + 2 * K.dot(tu, tm)));
            K.scale(tu, 2 * kUni);
            K.axpy(tu, tm, 2 * kMM);
            const norm = Math.sqrt(K.sumsq(tu));
            const diff = norm > 0 ? total / norm : 1;
            K.scale(tu, (diff > 1 ? diff : 1) * 1.5);
          }
        }
      }
      if (opt.ogm !== undefined) {
        // OGM-GE: score_m = Σ_i softmax(block logits of m)[y_i]; the dominant modality's encoder
        // gradient is scaled by 1 − tanh(alpha·rho) and gets Gaussian noise with the gradient's std.
        const score: number[] = net.branches.map((_, i) => {
          net.jointBlockLogits(i, n, prefix(blk, n * C));
          K.softmax(prefix(blkP, n * C), prefix(blk, n * C), n, C);
          const pv = arena.viewF32(blkP);
          const y = arena.viewI32(lab);
          let s = 0;
          for (let r = 0; r < n; r++) s += pv[r * C + y[r]];
          return s;
        });
        net.branches.forEach((b, i) => {
          const others = score.filter((_, j) => j !== i);
          const rho = score[i] / (others.reduce((a, c) => a + c, 0) / others.length);
          parts[`rho_${b.name}`] = rho;
          if (!(rho > 1)) return;
          const coeff = 1 - dtanh(opt.ogm! * rho);
          // Per parameter tensor, as the reference code: g <- coeff·g + N(0, std(g)).
          for (const prm of net.store.parameters) {
            if (prm.group !== `enc:${b.name}`) continue;
            const gr = net.store.gradOf(prm);
            const v = arena.viewF32(gr);
            let sum = 0;
            for (let k = 0; k < v.length; k++) sum += v[k];
            const mean = sum / v.length;
            let ss = 0;
            for (let k = 0; k < v.length; k++) ss += (v[k] - mean) * (v[k] - mean);
            const std = v.length > 1 ? Math.sqrt(ss / (v.length - 1)) : 0;
            K.scale(gr, coeff);
            const nz = prefix(noise, gr.length);
            K.normal(nz, noiseRng, 0, std + 1e-8);
            K.axpy(gr, nz, 1);
          }
        });
      }
      return { loss, ...parts };
    },
    validate: () => run.validation('fused', opt.uni ? 'heads' : 'blocks'),
  };
}

// ---- DI-MML (simplified) ---------------------------------------------------------------------------

function dimmlStage(run: Run): Stage {
  const net = run.net;
  const K = net.rt.kernels;
  const arena = net.rt.arena;
  const C = net.classes;
  const B = net.maxBatch;
  if (!net.shared) throw new TrainingError('SHARED_HEAD_DIMS', `di-mml shares one classifier, so every encoder must output the same feature dimension (${net.branches.map((b) => `${b.name}: ${b.featureDim}`).join(', ')})`);
  const d = net.branches[0].featureDim;
  const { contrastWeight, temperature } = run.cfg.dimml;
  const hat = Object.fromEntries(net.branches.map((b) => [b.name, arena.f32(B * d)]));
  const norms = Object.fromEntries(net.branches.map((b) => [b.name, new Float64Array(B)]));
  const S = arena.f32(B * B),
    P = arena.f32(B * B),
    dS = arena.f32(B * B),
    dHat = arena.f32(B * d);
  const diag = arena.i32From(Int32Array.from({ length: B }, (_, i) => i));
  const dfeat = Object.fromEntries(net.branches.map((b) => [b.name, arena.f32(B * d)]));

  /** Row-normalise a branch's features into hat[m], remembering the norms. */
  const normalise = (m: string, n: number) => {
    const f = arena.viewF32(net.branch(m).feat!),
      h = arena.viewF32(hat[m]);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += f[i * d + j] * f[i * d + j];
      const r = Math.sqrt(s) + 1e-12;
      norms[m][i] = r;
      for (let j = 0; j < d; j++) h[i * d + j] = f[i * d + j] / r;
    }
  };

  return {
    name: 'di-mml',
    trainable: [...run.names.map((m) => `enc:${m}`), 'head:shared'],
    modalities: run.names,
    step: (n) => {
      const lab = net.batchLabels(n);
      const ce: Record<string, number> = {};
      for (const m of run.names) {
        const b = net.forward(m, n, true, 'shared');
        ce[m] = K.softmaxCrossEntropy(prefix(b.probs, n * C), b.logits!, lab, n, C);
        const dz = prefix(b.dlogits, n * C);
        K.fill(dz, 0);
        K.softmaxCrossEntropyBackward(dz, prefix(b.probs, n * C), lab, n, C);
        K.copy(prefix(dfeat[m], n * d), net.shared!.backward(dz, n, true)!);
      }
      // One-way contrast: every other modality's features towards the strongest one's (no gradient to it).
      const strong = [...run.names].sort((a, b) => ce[a] - ce[b])[0];
      let con = 0;
      if (n > 1 && contrastWeight > 0) {
        normalise(strong, n);
        for (const m of run.names) {
          if (m === strong) continue;
          normalise(m, n);
          const s = prefix(S, n * n),
            p = prefix(P, n * n),
            ds = prefix(dS, n * n),
            dh = prefix(dHat, n * d);
          K.matmul(s, prefix(hat[m], n * d), prefix(hat[strong], n * d), { m: n, n, k: d, layout: 'nt' });
          K.scale(s, 1 / temperature);
          const l = K.softmaxCrossEntropy(p, s, { ...diag, length: n }, n, n);
          con += l;
          K.fill(ds, 0);
          K.softmaxCrossEntropyBackward(ds, p, { ...diag, length: n }, n, n, contrastWeight / temperature);
          K.matmul(dh, ds, prefix(hat[strong], n * d), { m: n, n: d, k: n });
          // Through the row normalisation: df = (dh − h (h·dh)) / |f|.
          const hv = arena.viewF32(hat[m]),
            gv = arena.viewF32(dh),
            dv = arena.viewF32(dfeat[m]);
          for (let i = 0; i < n; i++) {
            let dot = 0;
            for (let j = 0; j < d; j++) dot += hv[i * d + j] * gv[i * d + j];
            for (let j = 0; j < d; j++) dv[i * d + j] += (gv[i * d + j] - hv[i * d + j] * dot) / norms[m][i];
          }
        }
      }
      for (const m of run.names) net.encoderBackward(net.branch(m), n, prefix(dfeat[m], n * d));
      const total = Object.values(ce).reduce((a, b) => a + b, 0) + contrastWeight * con;
      return { loss: total, con, ...Object.fromEntries(Object.entries(ce).map(([m, v]) => [`ce_${m}`, v])) };
    },
    validate: () => {
      const out = infer(net, run.val, run.names, { head: 'shared' });
      const metrics: Record<string, number> = {};
      for (const m of run.names) metrics[`val_acc_${m}`] = scores(out.probs[m], run.val.labels, C).acc;
      const f = scores(fuseMean(out.probs, run.val.size, C), run.val.labels, C);
      metrics.val_acc_fused = f.acc;
      metrics.val_f1_fused = f.f1;
      return { monitor: f.acc, metrics };
    },
  };
}

// ---- entry points ------------------------------------------------------------------------------

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

/** Train `method` on the splits and report the result (and the trained model). */
export async function train(rt: Runtime, method: Method, data: Splits, cfg: MethodConfig, opts: TrainOptions = {}): Promise<{ result: Result; model: Model }> {
  if (!METHODS.includes(method)) throw new TrainingError('UNKNOWN_METHOD', `unknown method "${method}"; choose one of ${METHODS.join(', ')}`);
  if (method === 'udi-paper') cfg = paperForm(cfg);
  const prep = preprocessing(data, cfg, opts);
  const run = new Run(rt, method, prep.data, cfg, opts.callbacks ?? {}, opts.signal, opts.resume, opts.onState);
  const C = run.net.classes;
  opts.callbacks?.onTrainBegin?.(run.net, run.plan);
  const base = { method, modalities: run.names, evaluatedOn: run.evaluatedOn, lambdaTrace: run.trace } as const;
  let result: Result;
  let model: Model;

  const soloAll = async () => {
    for (const m of run.names) await run.stage(run.soloStage(m), cfg.solo, [m]);
    return run.memo('soloAcc', () => {
      const out = infer(run.net, run.evalSet, run.names);
      return Object.fromEntries(run.names.map((m) => [m, scores(out.probs[m], run.evalSet.labels, C).acc])) as Record<string, number>;
    });
  };

  if (method === 'unimodal' || method === 'ensemble' || method === 'udi' || method === 'udi-paper') {
    const soloAcc = await soloAll();
    let anchor: Result['anchor'];
    let guided: Result['guided'];
    if (method === 'udi' || method === 'udi-paper') {
      const o = cfg.udi;
      anchor = run.memo('anchor', () => selectAnchor(run, o));
      const cache = cacheAnchor(run, anchor.name, o.temperature);
      const followers = run.names.filter((m) => m !== anchor!.name).sort((a, b) => anchor!.validation[b].acc - anchor!.validation[a].acc);
      guided = [];
      for (const [i, f] of followers.entries()) {
        const isNew = run.nextStageIsNew();
        const stage = guidedStage(run, f, cache);
        // The gate's competitor: the follower's weights and monitor before the stage (before a scratch re-initialisation).
        const baseline = o.gate && isNew ? { monitor: stage.validate().monitor, snapshot: Object.fromEntries(stage.trainable.map((g) => [g, run.net.store.snapshot(g)])) } : undefined;
        if (o.followerInit === 'scratch' && isNew) for (const g of MultimodalNet.groups(f)) run.net.store.reinit(g, cfg.seed, 500 + i);
        const r = await run.stage({ ...stage, baseline }, cfg.guided, [f]);
        guided.push({ follower: f, kept: r.bestEpoch < 0 ? 'solo' : 'guided', bestEpoch: r.bestEpoch, monitor: r.bestMonitor });
      }
    }
    if (method === 'unimodal') {
      // The unimodal "fused" prediction is the best single modality, chosen on validation.
      const best = [...run.names].sort((a, b) => run.valAcc(b).acc - run.valAcc(a).acc)[0];
      const out = infer(run.net, run.evalSet, [best]);
      result = { ...base, fused: scores(out.probs[best], run.evalSet.labels, C), soloAcc, inModelAcc: soloAcc, cost: run.cost(), history: run.history() };
      model = { net: run.net, method, modalities: [best], fusion: 'mean' };
    } else {
      const f = await finishLateFusion(run, cfg.fusion);
      result = { ...base, fused: f.fused, soloAcc, inModelAcc: f.inModel, anchor, guided, fusionWeights: f.weights, fusionTemperatures: f.temperatures, cost: run.cost(), history: run.history() };
      model = { net: run.net, method, modalities: run.names, fusion: cfg.fusion, fusionWeights: f.weights, fusionTemperatures: f.temperatures };
    }
  } else if (method === 'di-mml') {
    await run.stage(dimmlStage(run), cfg.joint, run.names);
    await trainFusionHead(run);
    const out = infer(run.net, run.evalSet, run.names, { joint: true, head: 'shared' });
    const inModelAcc = Object.fromEntries(run.names.map((m) => [m, scores(out.probs[m], run.evalSet.labels, C).acc]));
    result = { ...base, fused: scores(out.joint!, run.evalSet.labels, C), soloAcc: {}, inModelAcc, cost: run.cost(), history: run.history() };
    model = { net: run.net, method, modalities: run.names, fusion: 'head' };
  } else {
    let teachers: Record<string, Float32Array> | undefined;
    let soloAcc: Record<string, number> = {};
    if (method === 'umt') {
      soloAcc = await soloAll();
      teachers = run.memo('teachers', () => infer(run.net, run.train, run.names, { feats: true }).feats);
      if (run.nextStageIsNew()) run.names.forEach((m, i) => MultimodalNet.groups(m).forEach((g) => run.net.store.reinit(g, cfg.seed, 600 + i)));
    }
    await run.stage(jointStage(run, method, { uni: method === 'joint+uni' || method === 'mmpareto', pareto: method === 'mmpareto', ogm: method === 'ogm-ge' ? cfg.ogmAlpha : undefined, teachers }), cfg.joint, run.names);
    const out = infer(run.net, run.evalSet, run.names, { joint: true });
    const inModelAcc = Object.fromEntries(run.names.map((m) => [m, scores(method === 'joint+uni' || method === 'mmpareto' ? out.probs[m] : out.jointBlocks![m], run.evalSet.labels, C).acc]));
    result = { ...base, fused: scores(out.joint!, run.evalSet.labels, C), soloAcc, inModelAcc, cost: run.cost(), history: run.history() };
    model = { net: run.net, method, modalities: run.names, fusion: 'joint' };
  }
  if (prep.preprocess) model.preprocess = prep.preprocess;
  opts.callbacks?.onTrainEnd?.();
  return { result, model };
}

/** UDI with the given config (see defaultConfig). */
export function trainUDI(rt: Runtime, data: Splits, cfg: MethodConfig, opts: TrainOptions = {}) {
  return train(rt, 'udi', data, cfg, opts);
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
