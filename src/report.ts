/**
 * Rendering a comparison: the Markdown table a person reads, and a self-contained HTML page that
 * opens offline. Its plots are SVG written here, not a charting library: the page has no script, so
 * it prints, opens in any viewer or mail client, and stays a few hundred kilobytes; every plot has
 * axes with ticks and labels, scales with the page (viewBox, width 100%), and the page explains the
 * protocol itself.
 */
import type { Report } from './compare.js';
import type { Summary } from './compare-stats.js';

const pct = (x: number) => (100 * x).toFixed(1);
const pm = (s: { mean: number; std: number }) => `${pct(s.mean)} ± ${pct(s.std)}`;
const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
const mdTable = (head: string[], rows: (string | number)[][]) => [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
/** Points with a sign (a true minus sign for negatives). */
const pts = (x: number) => {
  const t = Math.abs(x).toFixed(2);
  return `${Number(t) === 0 ? '' : x > 0 ? '+' : '−'}${t}`;
};

/** Paired differences: method − reference fused accuracy in points, mean, 95% bootstrap interval and wins/ties/losses. */
export function renderPairedTable(report: Report): string {
  const rows = (report.paired ?? []).map((p) => [p.method, p.reference, p.n, pts(p.meanDiff), `[${pts(p.ci95[0])}, ${pts(p.ci95[1])}]`, `${p.wins}/${p.ties}/${p.losses}`]);
  return mdTable(['method', 'reference', 'n', 'mean diff (points)', '95% CI (points)', 'wins/ties/losses'], rows);
}

/** Method × fold: mean fused test accuracy (%) over the seeds of each fold. */
export function renderPerFoldTable(report: Report): string {
  const per = report.perFold ?? [];
  const folds = [...new Set(per.map((p) => p.fold))].sort((a, b) => a - b);
  const methods = report.summary.map((s) => s.method);
  const rows = methods.map((m) => [m, ...folds.map((f) => {
    const p = per.find((x) => x.method === m && x.fold === f);
    return p ? pct(p.fusedAcc) : '-';
  })]);
  return mdTable(['method', ...folds.map((f) => `fold ${f}`)], rows);
}

/** What the paired table means, in one paragraph. */
export function pairedNote(report: Report): string {
  const b = report.pairedBootstrap;
  return (
    `Fused test accuracy of the method minus the reference's, in points, over the runs paired by (fold, seed) (n pairs). ` +
    `95% CI: percentile bootstrap of the mean difference${b ? ` (${b.resamples.toLocaleString('en-US')} resamples of ${b.unit}; seed ${b.seed})` : ''}. ` +
    'Wins/ties/losses: pairs where the method is more accurate / equal (within 1e-9) / less accurate.'
  );
}

export function renderTable(report: Report): string {
  const mods = report.views;
  const head = ['method', 'fused acc %', 'fused F1 %', ...mods.map((m) => `${m} in-model %`), ...mods.map((m) => `${m} alone %`), 'anchor', 'guided kept', 'wall s'];
  const rows = report.summary.map((s: Summary) => [
    s.method,
    pm(s.fusedAcc),
    pm(s.fusedF1),
    ...mods.map((m) => (s.inModelAcc[m] ? pm(s.inModelAcc[m]) : '-')),
    ...mods.map((m) => (s.soloAcc[m] ? pm(s.soloAcc[m]) : '-')),
    Object.entries(s.anchors)
      .map(([m, k]) => `${m}×${k}`)
      .join(' ') || '-',
    s.guidedKept ? `${s.guidedKept.kept}/${s.guidedKept.of}` : '-',
    (s.wallMs.mean / 1000).toFixed(1),
  ]);
  return mdTable(head, rows);
}

export function renderMarkdown(report: Report): string {
  const folds = new Set(report.runs.map((r) => r.fold)).size;
  const seeds = new Set(report.runs.map((r) => r.seed)).size;
  return [
    `# ${report.dataset}: ${report.views.join(' + ')}`,
    '',
    `${folds} fold(s) × ${seeds} seed(s); mean ± standard deviation over runs; accuracies on the test split.`,
    '',
    renderTable(report),
    '',
    '## Paired differences',
    '',
    (report.paired ?? []).length ? renderPairedTable(report) : 'No paired differences: no reference method was run (by default ensemble and unimodal, when run; `--reference`).',
    '',
    pairedNote(report),
    '',
    '## Per fold',
    '',
    'Mean fused test accuracy (%) over the seeds of each fold.',
    '',
    renderPerFoldTable(report),
    '',
    `Protocol: ${selfContained(report.protocol)}`,
    '',
    '"in-model": the modality inside the final model (its own head, or its block of a joint head); "alone": trained by itself (solo stage).',
    '',
  ].join('\n');
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** The protocol without references to notes the reader of a report does not have ("(data-protocol.md)"). */
export function selfContained(protocol: string): string {
  return protocol.replace(/\s*\((?:see )?[\w./-]+\.md\)/g, '');
}

/** What each method is, in one sentence (the report explains itself). */
export const METHOD_NOTES: Record<string, string> = {
  udi: 'UDI (Unidirectional Dynamic Interaction): each modality trained alone, the best on validation becomes the frozen anchor, the others are trained guided by it (Jensen-Shannon consistency and a complementary term, weights set by gradient alignment), then late fusion; this version watches the fused validation accuracy and keeps a guided follower only if it beats its solo weights.',
  'udi-paper': 'UDI in the paper\'s form: as udi, but the guided stage watches the follower alone, no do-no-harm gate, mean of probabilities for fusion.',
  unimodal: 'The best single modality, trained alone and chosen on validation.',
  ensemble: 'Every modality trained alone, then late fusion of their probabilities (UDI without its guided stage).',
  joint: 'One network over all modalities (concatenated features, one head), one cross-entropy: the plain baseline that shows the imbalance.',
  'joint+uni': 'As joint, plus a classifier head per modality with its own cross-entropy.',
  'ogm-ge': 'OGM-GE: joint training with on-the-fly gradient modulation of the dominant modality, plus Gaussian noise.',
  mmpareto: 'MMPareto: joint and per-modality losses combined with Pareto (minimum-norm) weights where their gradients conflict.',
  umt: 'UMT: each modality trained alone, then a joint model distilled from those solo teachers.',
  'di-mml': 'DI-MML (simplified): per-modality heads with a shared classifier and a contrastive term (plain InfoNCE), then a fusion head.',
};

/** Round ticks between lo and hi (about n of them). */
function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((k) => k >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step) out.push(+v.toPrecision(12));
  return out;
}
const fmtTick = (v: number) => (Math.abs(v) >= 1000 ? v.toLocaleString('en-US') : String(+v.toPrecision(6)));

interface Frame {
  W: number;
  H: number;
  L: number;
  R: number;
  T: number;
  B: number;
}

/** An SVG that scales with its container (viewBox, width 100%), with a title. */
function svgOpen(f: Frame, title: string, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.W} ${f.H}" width="100%" role="img" aria-label="${esc(label)}" style="max-width:${f.W}px;height:auto" font-family="sans-serif" font-size="11"><title>${esc(label)}</title><text x="${f.L}" y="14" font-weight="bold">${esc(title)}</text>`;
}

/** The y axis: gridlines, ticks, tick labels and the axis label (rotated). */
function yAxis(f: Frame, y: (v: number) => number, yTicks: number[], label: string, fmt: (v: number) => string): string {
  let s = `<line x1="${f.L}" x2="${f.L}" y1="${f.T}" y2="${f.H - f.B}" stroke="#333"/>`;
  for (const t of yTicks) s += `<line x1="${f.L}" x2="${f.W - f.R}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e5e5e5"/><line x1="${f.L - 4}" x2="${f.L}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#333"/><text x="${f.L - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${esc(fmt(t))}</text>`;
  const cy = (f.T + f.H - f.B) / 2;
  return s + `<text transform="translate(12 ${cy.toFixed(1)}) rotate(-90)" text-anchor="middle">${esc(label)}</text>`;
}

/** Legend entries in rows under the plot. */
function legend(f: Frame, names: string[], y0: number, swatch: (i: number) => string): string {
  let s = '';
  const per = Math.max(1, Math.floor((f.W - f.L) / 150));
  names.forEach((n, i) => {
    const x = f.L + (i % per) * 150,
      y = y0 + 14 * Math.floor(i / per);
    s += `${swatch(i).replace('X', String(x)).replace('Y', String(y - 9))}<text x="${x + 14}" y="${y}">${esc(n)}</text>`;
  });
  return s;
}

/** Grouped bars with error bars (mean ± std over runs), values in [0, 1] shown in %. */
function barChart(title: string, groups: string[], series: string[], value: (g: string, s: string) => { mean: number; std: number } | undefined, yLabel: string): string {
  const rows = Math.ceil(series.length / 4);
  const f: Frame = { W: 760, H: 290 + 14 * rows, L: 56, R: 10, T: 28, B: 76 + 14 * rows };
  const gw = (f.W - f.L - f.R) / Math.max(1, groups.length);
  const bw = (gw * 0.8) / Math.max(1, series.length);
  const y = (v: number) => f.T + (f.H - f.T - f.B) * (1 - Math.max(0, Math.min(1, v)));
  let svg = svgOpen(f, title, `${title}: bars are the mean over runs, whiskers ± one standard deviation`);
  svg += yAxis(f, y, ticks(0, 1, 4), yLabel, (t) => `${Math.round(100 * t)}%`);
  svg += `<line x1="${f.L}" x2="${f.W - f.R}" y1="${y(0)}" y2="${y(0)}" stroke="#333"/>`;
  groups.forEach((g, gi) => {
    series.forEach((s, si) => {
      const v = value(g, s);
      if (v === undefined) return;
      const x = f.L + gi * gw + gw * 0.1 + si * bw;
      const c = COLORS[si % COLORS.length];
      svg += `<rect x="${x.toFixed(1)}" y="${y(v.mean).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${(y(0) - y(v.mean)).toFixed(1)}" fill="${c}"><title>${esc(`${g}, ${s}: ${pct(v.mean)} ± ${pct(v.std)}%`)}</title></rect>`;
      const cx = (x + (bw - 1) / 2).toFixed(1);
      const lo = y(v.mean - v.std).toFixed(1),
        hi = y(v.mean + v.std).toFixed(1);
      svg += `<path class="errorbar" d="M${cx},${lo}V${hi}M${(+cx - 3).toFixed(1)},${lo}h6M${(+cx - 3).toFixed(1)},${hi}h6" stroke="#222" fill="none"/>`;
    });
    svg += `<line x1="${(f.L + gi * gw + gw / 2).toFixed(1)}" x2="${(f.L + gi * gw + gw / 2).toFixed(1)}" y1="${y(0)}" y2="${y(0) + 4}" stroke="#333"/><text x="${(f.L + gi * gw + gw / 2).toFixed(1)}" y="${y(0) + 16}" text-anchor="middle">${esc(g)}</text>`;
  });
  svg += `<text x="${((f.L + f.W - f.R) / 2).toFixed(1)}" y="${y(0) + 34}" text-anchor="middle">method</text>`;
  svg += legend(f, series, y(0) + 56, (i) => `<rect x="X" y="Y" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>`);
  return svg + '</svg>';
}

interface Band {
  name: string;
  /** x, mean, spread (± around the mean), runs behind the point. */
  points: { x: number; mean: number; spread: number; n: number }[];
}

/** Lines with a shaded band (mean ± spread) per series, x and y axes with ticks and labels. */
function bandChart(title: string, series: Band[], axes: { x: string; y: string; yMin?: number; yMax?: number; percent?: boolean }, caption: string): string {
  const rows = Math.ceil(series.length / 4);
  const f: Frame = { W: 760, H: 270 + 14 * rows, L: 56, R: 12, T: 28, B: 62 + 14 * rows };
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p.x);
  const xMin = xs.length ? Math.min(...xs) : 0,
    xMax = Math.max(1, ...xs);
  const yMin = axes.yMin ?? Math.min(...all.map((p) => p.mean - p.spread)),
    yMax = axes.yMax ?? Math.max(...all.map((p) => p.mean + p.spread));
  const yLo = yMax > yMin ? yMin : yMin - 0.5,
    yHi = yMax > yMin ? yMax : yMax + 0.5;
  const x = (v: number) => f.L + ((f.W - f.L - f.R) * (v - xMin)) / (xMax - xMin || 1);
  const y = (v: number) => f.T + (f.H - f.T - f.B) * (1 - (Math.max(yLo, Math.min(yHi, v)) - yLo) / (yHi - yLo));
  let svg = svgOpen(f, title, `${title}. ${caption}`);
  svg += yAxis(f, y, ticks(yLo, yHi, 4), axes.y, axes.percent ? (t) => `${Math.round(100 * t)}%` : fmtTick);
  svg += `<line x1="${f.L}" x2="${f.W - f.R}" y1="${f.H - f.B}" y2="${f.H - f.B}" stroke="#333"/>`;
  for (const t of ticks(xMin, xMax, 6).filter((t) => Number.isInteger(t))) svg += `<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${f.H - f.B}" y2="${f.H - f.B + 4}" stroke="#333"/><text x="${x(t).toFixed(1)}" y="${f.H - f.B + 16}" text-anchor="middle">${fmtTick(t)}</text>`;
  svg += `<text x="${((f.L + f.W - f.R) / 2).toFixed(1)}" y="${f.H - f.B + 32}" text-anchor="middle">${esc(axes.x)}</text>`;
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const c = COLORS[i % COLORS.length];
    const up = s.points.map((p) => `${x(p.x).toFixed(1)},${y(p.mean + p.spread).toFixed(1)}`);
    const down = s.points.map((p) => `${x(p.x).toFixed(1)},${y(p.mean - p.spread).toFixed(1)}`).reverse();
    if (s.points.some((p) => p.spread > 0)) svg += `<path class="band" d="M${[...up, ...down].join('L')}Z" fill="${c}" fill-opacity="0.15" stroke="none"/>`;
    svg += `<path class="mean" d="${s.points.map((p, k) => `${k ? 'L' : 'M'}${x(p.x).toFixed(1)},${y(p.mean).toFixed(1)}`).join('')}" fill="none" stroke="${c}" stroke-width="1.6"><title>${esc(s.name)}</title></path>`;
  });
  svg += legend(f, series.map((s) => s.name), f.H - f.B + 50, (i) => `<rect x="X" y="Y" width="10" height="10" fill="${COLORS[i % COLORS.length]}" fill-opacity="0.6"/>`);
  return svg + '</svg>';
}

const meanSd = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd };
};

/**
 * One method's validation curves: for every stage (by name: solo:audio, guided:audio, joint,
 * fusion-head, ...), the mean over the runs that reached each epoch, with a ± 1 standard deviation
 * band. Epochs are numbered 1.. within the stage; early stopping makes later epochs rest on fewer runs.
 */
export function methodCurves(report: Report, method: string): Band[] {
  const runs = report.runs.filter((r) => r.method === method);
  const stages = [...new Set(runs.flatMap((r) => r.curves.map((c) => c.stage)))];
  return stages.map((stage) => {
    const byEpoch = new Map<number, number[]>();
    for (const r of runs) for (const c of r.curves) if (c.stage === stage) byEpoch.set(c.epoch, [...(byEpoch.get(c.epoch) ?? []), c.monitor]);
    const points = [...byEpoch.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([e, v]) => {
        const { mean, sd } = meanSd(v);
        return { x: e + 1, mean, spread: sd, n: v.length };
      });
    return { name: stage, points };
  });
}

function protocolSection(report: Report, methods: string[]): string {
  const folds = [...new Set(report.runs.map((r) => r.fold))].sort((a, b) => a - b);
  const seeds = [...new Set(report.runs.map((r) => r.seed))].sort((a, b) => a - b);
  const o = report.options as Partial<Report['options']>;
  const methodList = methods.map((m) => `<li><b>${esc(m)}</b>: ${esc(METHOD_NOTES[m] ?? '')}</li>`).join('');
  return `<h2>Protocol</h2>
<p>${esc(selfContained(report.protocol))}</p>
<p>Runs: ${folds.length} fold(s) (${folds.join(', ')}) × ${seeds.length} seed(s) (${seeds.join(', ')}) for every method, ${report.runs.length} runs in all; a seed fixes every random draw of a run (initialisation, shuffling, the validation split where it is carved). Every stage trains with AdamW and early stopping on validation (its best epoch's weights are restored)${o.epochs ? `, at most ${o.epochs} epochs per stage` : ''}; the test split is used only for the figures below, never to choose anything.</p>
<p>Figures: <b>fused acc</b>, <b>fused F1</b>: accuracy and macro-averaged F1 of the model's prediction from all modalities on the test split; <b>in-model</b>: a modality's accuracy inside the final model (its own head, or its block of a joint head); <b>alone</b>: the modality trained by itself (the solo stage); mean ± standard deviation over runs (sample standard deviation). <b>Paired differences</b> compare two methods on the runs they share (the same fold and seed).</p>
<p>Methods:</p><ul>${methodList}</ul>`;
}

export function renderHtml(report: Report): string {
  const mods = report.views;
  const methods = report.summary.map((s) => s.method);
  const sum = (m: string) => report.summary.find((s) => s.method === m)!;
  const perModality = barChart('Test accuracy per modality inside each method (in-model) and fused', methods, [...mods.map((m) => `${m} in-model`), 'fused'], (g, s) => {
    const x = sum(g);
    if (s === 'fused') return x.fusedAcc;
    return x.inModelAcc[s.replace(/ in-model$/, '')];
  }, 'test accuracy');
  const curveCaption = 'Lines: mean validation figure (what early stopping watches) over the runs that reached each epoch; bands: ± one standard deviation; later epochs may rest on fewer runs (early stopping).';
  const curves = methods
    .map((m) => {
      const bands = methodCurves(report, m);
      if (bands.every((b) => b.points.length === 0)) return '';
      const n = report.runs.filter((r) => r.method === m).length;
      return bandChart(`${m}: validation per epoch, each stage (${n} run${n === 1 ? '' : 's'})`, bands, { x: 'epoch within the stage', y: 'validation accuracy', yMin: 0, yMax: 1, percent: true }, curveCaption);
    })
    .join('\n');
  const udi = report.runs.filter((r) => (r.method === 'udi' || r.method === 'udi-paper') && r.lambda.length > 0);
  const lambda = udi.length
    ? bandChart(
        `λ_con per guided step (UDI, fold ${udi[0].fold}, seed ${udi[0].seed}; λ_com = 1 − λ_con under the gradient-alignment rule)`,
        [...new Set(udi[0].lambda.map((l) => l.follower))].map((f) => ({ name: `λ_con ${f}`, points: udi[0].lambda.filter((l) => l.follower === f).map((l) => ({ x: l.step, mean: l.lambdaCon, spread: 0, n: 1 })) })),
        { x: 'guided step', y: 'λ_con', yMin: 0, yMax: 1 },
        'One run; subsampled to at most 400 points.',
      )
    : '<p>No UDI run with a λ trace.</p>';
  const html = (md: string) =>
    `<div class="scroll"><table>${md
      .split('\n')
      .filter((_, i) => i !== 1)
      .map((line, i) => `<tr>${line.slice(2, -2).split(' | ').map((c) => (i === 0 ? `<th>${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`)
      .join('\n')}</table></div>`;
  const paired = (report.paired ?? []).length ? `${html(renderPairedTable(report))}<p>${esc(pairedNote(report))}</p>` : '<p>No paired differences: no reference method was run (by default ensemble and unimodal, when run; <code>--reference</code>).</p>';
  const perRun = Math.round(report.runs.length / Math.max(1, methods.length));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>udi-wasm: ${esc(report.dataset)}</title>
<style>body{font-family:sans-serif;max-width:820px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}.scroll{overflow-x:auto}svg{display:block;margin:.5em 0 1em}figcaption{font-size:12px;color:#555}</style>
</head><body>
<h1>${esc(report.dataset)}: ${esc(report.views.join(' + '))}</h1>
<p>Created ${esc(report.createdAt)}. Mean ± standard deviation over ${perRun} run(s) per method; accuracies on the test split.</p>
${html(renderTable(report))}
<h2>Paired differences</h2>${paired}
<h2>Per fold</h2><p>Mean fused test accuracy (%) over the seeds of each fold.</p>${html(renderPerFoldTable(report))}
<h2>Per-modality accuracy</h2><figure>${perModality}<figcaption>Bars: mean test accuracy over runs; whiskers: ± one standard deviation.</figcaption></figure>
<h2>Training curves</h2><p>${esc(curveCaption)}</p>${curves}
<h2>λ trace</h2>${lambda}
${protocolSection(report, methods)}
</body></html>
`;
}
