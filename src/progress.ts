/**
 * Training progress for the command line, from the totals every callback carries (no config
 * lookups): on a terminal, one live line per stage (udi-wasm/vis's describeProgress: stage i/n,
 * epoch e/E, run step, % and the run's ETA, an upper bound since early stopping may end stages
 * sooner; then loss and validation accuracy);
 * otherwise, or with --json, one JSON line per epoch with the same totals.
 */
import type { Callbacks, EpochLog, StageResult, TrainProgress } from './train/trainer.js';
import { describeProgress, estimate } from './vis/progress.js';

export type ProgressMode = 'tty' | 'json' | 'quiet';

/** Callbacks that report progress through `write` (the callbacks carry every total they need). */
export function progressCallbacks(mode: ProgressMode, write: (s: string) => void): Callbacks {
  if (mode === 'quiet') return {};
  let t0 = NaN,
    stageStart = 0,
    epochStart = 0,
    lastDraw = 0,
    lastLoss = NaN,
    lastVal = NaN;
  let p: TrainProgress | null = null;
  const now = () => Date.now();
  const draw = (final = false) => {
    if (!p) return;
    const loss = `loss ${Number.isFinite(lastLoss) ? lastLoss.toFixed(4) : '-'}`;
    const val = `val acc ${Number.isFinite(lastVal) ? (100 * lastVal).toFixed(1) + '%' : '-'}`;
    const time = final ? ` · ${((now() - stageStart) / 1000).toFixed(1)} s in stage` : '';
    write(`\r${describeProgress(p, now() - t0, final)} · ${loss} · ${val}${time}\x1b[K${final ? '\n' : ''}`);
  };
  return {
    onStageBegin: (_s, progress) => {
      if (Number.isNaN(t0)) t0 = now();
      p = progress;
      stageStart = now();
      lastLoss = NaN;
      lastVal = NaN;
      if (mode === 'tty') draw();
    },
    onEpochBegin: (_e, _s, progress) => {
      p = progress;
      epochStart = now();
    },
    onBatchEnd: (_s, losses, _stage, progress) => {
      p = progress;
      lastLoss = losses.loss;
      if (mode === 'tty' && now() - lastDraw > 100) {
        lastDraw = now();
        draw();
      }
    },
    onEpochEnd: (_e, log: EpochLog, progress) => {
      p = progress;
      lastVal = log.monitor;
      if (mode === 'tty') draw();
      else {
        const { etaMs } = estimate(progress, now() - t0);
        const totals = { stageIndex: progress.stageIndex, stageCount: progress.stageCount, epochs: progress.epochs, stepsPerEpoch: progress.stepsPerEpoch, runStep: progress.runStep, runMaxSteps: progress.runMaxSteps };
        write(JSON.stringify({ ...log, steps: progress.step, epochMs: now() - epochStart, ...totals, etaMs: Math.round(etaMs) }) + '\n');
      }
    },
    onStageEnd: (_s, r: StageResult, progress) => {
      p = progress;
      if (mode === 'tty') {
        lastVal = r.bestMonitor;
        draw(true);
      }
    },
  };
}
