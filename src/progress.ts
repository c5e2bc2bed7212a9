/**
 * Training progress for the command line: on a terminal, one live line per stage (stage, epoch,
 * step, loss, validation accuracy, ETA); otherwise, or with --json, one JSON line per epoch.
 */
import type { Callbacks, EpochLog, StageResult } from './train/trainer.js';

export type ProgressMode = 'tty' | 'json' | 'quiet';

export function progressCallbacks(mode: ProgressMode, write: (s: string) => void, maxEpochs: (stage: string) => number): Callbacks {
  if (mode === 'quiet') return {};
  let stageStart = 0,
    epochStart = 0,
    step = 0,
    lastDraw = 0,
    lastLoss = NaN,
    lastVal = NaN,
    epoch = 0,
    stage = '';
  const now = () => Date.now();
  const draw = (final = false) => {
    const elapsed = (now() - stageStart) / 1000;
    const perEpoch = epoch > 0 ? elapsed / epoch : NaN;
    const eta = Number.isFinite(perEpoch) ? Math.max(0, (maxEpochs(stage) - epoch) * perEpoch) : NaN;
    const parts = [
      stage.padEnd(14),
      `epoch ${String(epoch).padStart(3)}/${maxEpochs(stage)}`,
      `step ${String(step).padStart(6)}`,
      `loss ${Number.isFinite(lastLoss) ? lastLoss.toFixed(4) : '  -   '}`,
      `val acc ${Number.isFinite(lastVal) ? (100 * lastVal).toFixed(1) + '%' : '  -  '}`,
      final ? `${elapsed.toFixed(1)} s` : `ETA ≤ ${Number.isFinite(eta) ? eta.toFixed(0) + ' s' : '?'}`,
    ];
    write(`\r${parts.join('  ')}\x1b[K${final ? '\n' : ''}`);
  };
  return {
    onStageBegin: (s) => {
      stage = s;
      stageStart = now();
      step = 0;
      epoch = 0;
      lastLoss = NaN;
      lastVal = NaN;
      if (mode === 'tty') draw();
    },
    onEpochBegin: () => {
      epochStart = now();
    },
    onBatchEnd: (_s, losses) => {
      step++;
      lastLoss = losses.loss;
      if (mode === 'tty' && now() - lastDraw > 100) {
        lastDraw = now();
        draw();
      }
    },
    onEpochEnd: (e, log: EpochLog) => {
      epoch = e + 1;
      lastVal = log.monitor;
      if (mode === 'tty') draw();
      else write(JSON.stringify({ ...log, steps: step, epochMs: now() - epochStart }) + '\n');
    },
    onStageEnd: (_s, r: StageResult) => {
      if (mode === 'tty') {
        epoch = r.epochs;
        lastVal = r.bestMonitor;
        draw(true);
      }
    },
  };
}
