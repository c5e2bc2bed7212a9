/**
 * `liveChart(element, options)`: a progress bar with the ETA and two live uPlot charts (per-step
 * losses, per-epoch validation figures, stage boundaries marked) in `element`, fed by the training
 * callbacks it returns. Browser only (it draws on canvases). uPlot (MIT, Leon Sorokin) is a
 * dependency of the package; its stylesheet is injected once.
 */
import uPlot from 'uplot';
import { trainingSeries, type Columns, type TrainingSeries, type TrainingSeriesOptions } from './series.js';

export interface LiveChartOptions extends TrainingSeriesOptions {
  /** Height of each chart in CSS pixels; the width follows the element. Default 220. */
  height?: number;
  /** Redraw at most this often (ms). Default 100. */
  throttleMs?: number;
}

/** The callbacks to pass to `train()` (or to `replayCallback`), the data plotted, and the controls. */
export interface LiveChart extends TrainingSeries {
  /** The chart's root element (inside the element given). */
  readonly root: HTMLElement;
  /** Draw now (normally drawn at most every throttleMs after a change). */
  redraw(): void;
  /** Remove the charts and stop observing the element's size. */
  destroy(): void;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

// uPlot's own stylesheet (uplot/dist/uPlot.min.css, v1.6.32, MIT), so that no CSS import is needed.
const UPLOT_CSS =
  '.uplot, .uplot *, .uplot *::before, .uplot *::after {box-sizing: border-box;}.uplot {font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;line-height: 1.5;width: min-content;}.u-title {text-align: center;font-size: 18px;font-weight: bold;}.u-wrap {position: relative;user-select: none;}.u-over, .u-under {position: absolute;}.u-under {overflow: hidden;}.uplot canvas {display: block;position: relative;width: 100%;height: 100%;}.u-axis {position: absolute;}.u-legend {font-size: 14px;margin: auto;text-align: center;}.u-inline {display: block;}.u-inline * {display: inline-block;}.u-inline tr {margin-right: 16px;}.u-legend th {font-weight: 600;}.u-legend th > * {vertical-align: middle;display: inline-block;}.u-legend .u-marker {width: 1em;height: 1em;margin-right: 4px;background-clip: padding-box !important;}.u-inline.u-live th::after {content: ":";vertical-align: middle;}.u-inline:not(.u-live) .u-value {display: none;}.u-series > * {padding: 4px;}.u-series th {cursor: pointer;}.u-legend .u-off > * {opacity: 0.3;}.u-select {background: rgba(0,0,0,0.07);position: absolute;pointer-events: none;}.u-cursor-x, .u-cursor-y {position: absolute;left: 0;top: 0;pointer-events: none;will-change: transform;}.u-hz .u-cursor-x, .u-vt .u-cursor-y {height: 100%;border-right: 1px dashed #607D8B;}.u-hz .u-cursor-y, .u-vt .u-cursor-x {width: 100%;border-bottom: 1px dashed #607D8B;}.u-cursor-pt {position: absolute;top: 0;left: 0;border-radius: 50%;border: 0 solid;pointer-events: none;will-change: transform;background-clip: padding-box !important;}.u-axis.u-off, .u-select.u-off, .u-cursor-x.u-off, .u-cursor-y.u-off, .u-cursor-pt.u-off {display: none;}' +
  '.udi-live-status{font:12px/1.4 ui-monospace,monospace;margin:.3em 0;display:flex;gap:.6em;align-items:center;flex-wrap:wrap}.udi-live-status progress{width:12em}.udi-live h4{font:600 13px system-ui,sans-serif;margin:.6em 0 .2em}';

function injectCss(doc: Document): void {
  if (doc.getElementById('udi-wasm-live-css')) return;
  const style = doc.createElement('style');
  style.id = 'udi-wasm-live-css';
  style.textContent = UPLOT_CSS;
  doc.head.append(style);
}

/** Dashed vertical lines with the stage's name where each stage starts. */
function stageMarks(stages: () => { x: number; name: string }[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (u: uPlot) => {
        const ctx = u.ctx;
        const r = uPlot.pxRatio;
        ctx.save();
        ctx.strokeStyle = '#999';
        ctx.fillStyle = '#666';
        ctx.setLineDash([4 * r, 4 * r]);
        ctx.font = `${10 * r}px system-ui, sans-serif`;
        for (const m of stages()) {
          let x = u.valToPos(m.x, 'x', true);
          if (!(x <= u.bbox.left + u.bbox.width)) continue;
          if (!(x >= u.bbox.left)) {
            // A stage starting before the first point (the first stage): its name at the left edge.
            ctx.fillText(m.name, u.bbox.left + 3 * r, u.bbox.top + 11 * r);
            continue;
          }
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.fillText(m.name, x + 3 * r, u.bbox.top + 11 * r);
        }
        ctx.restore();
      },
    },
  };
}

interface Panel {
  el: HTMLElement;
  plot: uPlot | null;
  keys: string;
  data: () => Columns;
  xLabel: string;
  yLabel: string;
  unitRange: boolean;
}

/**
 * Live charts of a training run in `element`: a status line (stage, epoch and step against their
 * totals, a progress bar, the ETA), the per-step losses and the per-epoch validation figures, with
 * each stage's start marked. Returns the callbacks to give `train()`:
 *
 *   const chart = liveChart(document.getElementById('plots')!, { metrics: ['loss', 'val_acc_*'] });
 *   await train(rt, 'udi', data, cfg, { callbacks: chart });
 */
export function liveChart(element: HTMLElement, opts: LiveChartOptions = {}): LiveChart {
  const doc = element.ownerDocument;
  injectCss(doc);
  const height = opts.height ?? 220;
  const throttleMs = opts.throttleMs ?? 100;
  const series = trainingSeries(opts);
  const root = doc.createElement('div');
  root.className = 'udi-live';
  const statusBar = doc.createElement('div');
  statusBar.className = 'udi-live-status';
  const bar = doc.createElement('progress');
  bar.max = 1;
  bar.value = 0;
  const text = doc.createElement('span');
  text.textContent = series.status();
  statusBar.append(bar, text);
  const panel = (title: string, cls: string, data: () => Columns, xLabel: string, yLabel: string, unitRange: boolean): Panel => {
    const h = doc.createElement('h4');
    h.textContent = title;
    const el = doc.createElement('div');
    el.className = cls;
    root.append(h, el);
    return { el, plot: null, keys: '', data, xLabel, yLabel, unitRange };
  };
  root.append(statusBar);
  const panels = [
    panel('Training loss per step', 'udi-live-steps', () => series.steps, 'step (whole run)', 'loss', false),
    panel('Validation per epoch', 'udi-live-epochs', () => series.epochs, 'epoch (whole run)', 'validation', true),
  ];
  element.append(root);
  // The root's content width: the element's, less its padding.
  const width = () => Math.max(200, Math.floor(root.clientWidth || element.clientWidth || 600));

  const draw = (p: Panel) => {
    const c = p.data();
    if (c.x.length === 0) return;
    const keys = [...c.series.keys()];
    const data = [c.x, ...keys.map((k) => c.series.get(k)!)] as uPlot.AlignedData;
    if (p.plot && p.keys === keys.join('\n')) {
      p.plot.setData(data);
      return;
    }
    // New series appeared (a stage with other loss parts): build the chart again.
    p.plot?.destroy();
    p.keys = keys.join('\n');
    const onlyUnit = p.unitRange && keys.every((k) => /^(val_(acc|f1)_|monitor$)/.test(k));
    p.plot = new uPlot(
      {
        width: width(),
        height,
        scales: { x: { time: false }, y: onlyUnit ? { range: [0, 1] } : {} },
        axes: [{ label: p.xLabel }, { label: p.yLabel }],
        series: [{ label: p.xLabel }, ...keys.map((k, i) => ({ label: k, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false, points: { show: p.unitRange } }))],
        plugins: [stageMarks(() => c.stages)],
        legend: { live: true },
      },
      data,
      p.el,
    );
  };

  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const redraw = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    last = Date.now();
    const { fraction } = series.estimate();
    bar.value = fraction;
    text.textContent = series.status();
    for (const p of panels) draw(p);
  };
  series.onChange = () => {
    if (series.ended) return redraw();
    if (timer !== null) return;
    timer = setTimeout(redraw, Math.max(0, throttleMs - (Date.now() - last)));
  };
  const resize = typeof ResizeObserver !== 'undefined' ? new ResizeObserver(() => panels.forEach((p) => p.plot?.setSize({ width: width(), height }))) : null;
  resize?.observe(root);
  const chart = series as LiveChart;
  Object.assign(chart, {
    root,
    redraw,
    destroy: () => {
      if (timer !== null) clearTimeout(timer);
      resize?.disconnect();
      for (const p of panels) p.plot?.destroy();
      root.remove();
    },
  });
  return chart;
}
