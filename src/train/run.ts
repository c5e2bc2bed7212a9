/**
 * A run of one method: the network, the splits it trains and validates on, the stages it has run
 * (with their cost), the λ trace, and what it computed between stages (memos). Stages go through
 * `stage()`, which runs them with the one loop (runStage), skips those a resumed run already did and
 * reports the state after every epoch. Methods (./methods/*.ts) build their stages on a Run.
 */
import type { Runtime } from '../runtime/runtime.js';
import { carveValidation, type Dataset, DataError } from '../data/dataset.js';
import { fitTemperature, fuseProbs, fitFusionWeights, type FusionKind } from './fusion.js';
import { scores, type Scores } from './metrics.js';
import { MultimodalNet } from './net.js';
import { planStages } from './plan.js';
import { RECIPES } from './methods/index.js';
import { infer } from './infer.js';
import { type Callbacks, type EpochLog, runStage, type Stage, type StageConfig, type StageResult, type StageState, TrainingError, type TrainPlan } from './trainer.js';
import type { LambdaStep, Method, MethodConfig, Result, Splits, TrainState } from './types.js';

/**
 * The rows that train and those that validate: the given validation set, or a stratified part
 * (validationFraction, the run's seed) carved from the training split.
 */
export function trainingParts(data: Splits, cfg: MethodConfig, names: readonly string[]): { train: Dataset; val: Dataset } {
  return data.val ? { train: data.train, val: data.val } : carveValidation(data.train, cfg.validationFraction, cfg.seed, names);
}

export class Run {
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
    if (this.names.length < RECIPES[method].minModalities) throw new TrainingError('NEED_TWO_MODALITIES', `method ${method} needs at least two modalities, got only ${this.names[0]}`);
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

  history(): EpochLog[] {
    return this.stages.flatMap((s) => s.history);
  }

  cost(): Result['cost'] {
    return { updates: { ...this.updates }, stages: this.stages.map((s) => ({ name: s.name, steps: s.steps, epochs: s.epochs, wallMs: s.wallMs })), wallMs: this.elapsed() };
  }
}
