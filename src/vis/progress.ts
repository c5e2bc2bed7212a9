/**
 * Progress and ETA from the totals every training callback carries (`TrainProgress`): no config
 * lookups, no DOM, no dependencies, so the command line and the live charts share it.
 *
 * The ETA is an upper bound: it assumes every remaining stage runs its whole epoch budget at the
 * speed seen so far, and early stopping usually ends stages sooner.
 */
import type { TrainProgress } from '../train/trainer.js';

export interface ProgressEstimate {
  /** Steps done over the run's budget so far, in [0, 1]. */
  fraction: number;
  /** Milliseconds left at most, at the speed seen so far (NaN before the first step). */
  etaMs: number;
}

/** Fraction of the run done and the time left, from a callback's progress and the time since training started. */
export function estimate(p: Pick<TrainProgress, 'runStep' | 'runMaxSteps'>, elapsedMs: number): ProgressEstimate {
  const fraction = p.runMaxSteps > 0 ? Math.min(1, p.runStep / p.runMaxSteps) : 0;
  const etaMs = p.runStep > 0 ? Math.max(0, (elapsedMs / p.runStep) * (p.runMaxSteps - p.runStep)) : NaN;
  return { fraction, etaMs };
}

/** `42 s`, `3 min 05 s`, `1 h 02 min`; `?` when unknown. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * One line: `stage 2/3 guided:audio · epoch 4/30 · step 1,234/9,000 · 14% · ETA ≤ 1 min 20 s`
 * (the epoch running; with `stageEnded`, as onStageEnd gives it, the epochs the stage ran).
 */
export function describeProgress(p: TrainProgress, elapsedMs: number, stageEnded = false): string {
  const { fraction, etaMs } = estimate(p, elapsedMs);
  const n = (x: number) => x.toLocaleString('en-US');
  return [
    `stage ${p.stageIndex + 1}/${p.stageCount} ${p.stage}`,
    `epoch ${stageEnded ? p.epoch : Math.min(p.epoch + 1, p.epochs)}/${p.epochs}`,
    `step ${n(p.runStep)}/${n(p.runMaxSteps)}`,
    `${Math.floor(100 * fraction)}%`,
    p.runStep >= p.runMaxSteps ? `${formatDuration(elapsedMs)}` : `ETA ≤ ${formatDuration(etaMs)}`,
  ].join(' · ');
}
