/**
 * What a live chart plots, gathered from the training callbacks (no DOM): per-step losses against
 * the run's step, per-epoch validation figures against the run's epoch, where each stage starts,
 * and the latest progress. `liveChart` draws it; anything else (a table, a test) can read it.
 */
import type { Callbacks, TrainPlan, TrainProgress } from '../train/trainer.js';
import { describeProgress, estimate, type ProgressEstimate } from './progress.js';

/** Aligned columns: x, and one column per series (null where a series has no value at that x). */
export interface Columns {
  x: number[];
  series: Map<string, (number | null)[]>;
  /** Where each stage starts, on this x axis (between its first point and the previous stage's last). */
  stages: { x: number; name: string }[];
}

export interface TrainingSeriesOptions {
  /**
   * What to keep, as names or patterns with `*`: the per-step losses of `onBatchEnd` (`loss`, `ce_audio`,
   * `js`, ...) go to `steps`; the validation figures of each epoch's log (`val_acc_audio`, `val_acc_fused`,
   * `val_f1_fused`, ..., and `monitor`) go to `epochs`. Default `['loss', 'val_acc_*']`.
   */
  metrics?: string[];
  /** The clock for elapsed time and the ETA (ms); default `performance.now()`. */
  now?: () => number;
}

export interface TrainingSeries extends Required<Callbacks> {
  readonly steps: Columns;
  readonly epochs: Columns;
  /** The run's plan, once onTrainBegin has been called. */
  plan: TrainPlan | null;
  /** The latest progress any callback carried. */
  progress: TrainProgress | null;
  /** Whether the latest callback was a stage's end, and whether training has ended. */
  stageEnded: boolean;
  ended: boolean;
  /** Milliseconds since the first stage began (0 before). */
  elapsedMs(): number;
  estimate(): ProgressEstimate;
  /** One line for a status bar: stage, epoch and step against their totals, and the ETA. */
  status(): string;
  /** Called after every change (set by whoever draws). */
  onChange: (() => void) | null;
}

const pattern = (p: string) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
const now0 = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

function columns(): Columns {
  return { x: [], series: new Map(), stages: [] };
}

/** Append one x with the values of the keys that pass `keep` (a key seen for the first time is null before). */
function push(c: Columns, x: number, values: Record<string, unknown>, keep: (k: string) => boolean): void {
  const i = c.x.length;
  c.x.push(x);
  for (const [k, v] of Object.entries(values)) {
    if (typeof v !== 'number' || !keep(k)) continue;
    let col = c.series.get(k);
    if (!col) c.series.set(k, (col = new Array<number | null>(i).fill(null)));
    col.push(Number.isFinite(v) ? v : null);
  }
  for (const col of c.series.values()) if (col.length === i) col.push(null);
}

/** Callbacks that gather everything a live chart plots. Pass them to `train()` (or to `replayCallback`). */
export function trainingSeries(opts: TrainingSeriesOptions = {}): TrainingSeries {
  const patterns = (opts.metrics ?? ['loss', 'val_acc_*']).map(pattern);
  const wanted = (k: string) => patterns.some((p) => p.test(k));
  const isValidation = (k: string) => k === 'monitor' || k.startsWith('val_');
  const now = opts.now ?? now0;
  let started = NaN;
  let epochCount = 0;
  const changed = () => s.onChange?.();
  const s: TrainingSeries = {
    steps: columns(),
    epochs: columns(),
    plan: null,
    progress: null,
    stageEnded: false,
    ended: false,
    onChange: null,
    elapsedMs: () => (Number.isNaN(started) ? 0 : now() - started),
    estimate: () => (s.progress ? estimate(s.progress, s.elapsedMs()) : { fraction: 0, etaMs: NaN }),
    status: () => {
      if (!s.progress) return s.plan ? `${s.plan.method}: ${s.plan.stages.length} stage(s), at most ${s.plan.maxSteps.toLocaleString('en-US')} steps` : 'waiting for training';
      const line = describeProgress(s.progress, s.elapsedMs(), s.stageEnded);
      return s.ended ? `done: ${line}` : line;
    },
    onTrainBegin: (_net, plan) => {
      s.plan = plan;
      changed();
    },
    onTrainEnd: () => {
      s.ended = true;
      changed();
    },
    onStageBegin: (stage, p) => {
      if (Number.isNaN(started)) started = now();
      s.progress = p;
      s.stageEnded = false;
      s.steps.stages.push({ x: p.runStep + 0.5, name: stage });
      s.epochs.stages.push({ x: epochCount + 0.5, name: stage });
      changed();
    },
    onStageEnd: (_stage, _result, p) => {
      s.progress = p;
      s.stageEnded = true;
      changed();
    },
    onEpochBegin: (_e, _stage, p) => {
      s.progress = p;
      changed();
    },
    onEpochEnd: (_e, log, p) => {
      s.progress = p;
      push(s.epochs, ++epochCount, log, (k) => isValidation(k) && wanted(k));
      changed();
    },
    onBatchEnd: (_step, losses, _stage, p) => {
      s.progress = p;
      push(s.steps, p.runStep, losses, wanted);
      changed();
    },
  };
  return s;
}
