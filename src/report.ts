/**
 * Rendering a comparison: the Markdown table a person reads, and a self-contained HTML page with
 * inline SVG plots (no scripts, no network) that opens offline.
 */
import type { Report, Summary } from './compare.js';

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
    `Protocol: ${report.protocol}`,
    '',
    '"in-model": the modality inside the final model (its own head, or its block of a joint head); "alone": trained by itself (solo stage).',
    '',
  ].join('\n');
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** Grouped bars: for each method, one bar per series (values in [0, 1]). */
function barChart(title: string, groups: string[], series: string[], value: (g: string, s: string) => number | undefined): string {
  const W = 760,
    H = 260,
    L = 40,
    B = 60,
    T = 24;
  const gw = (W - L - 10) / Math.max(1, groups.length);
  const bw = (gw * 0.8) / Math.max(1, series.length);
  const y = (v: number) => T + (H - T - B) * (1 - v);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11"><text x="${L}" y="14" font-weight="bold">${esc(title)}</text>`;
  for (const t of [0, 0.25, 0.5, 0.75, 1]) svg += `<line x1="${L}" x2="${W - 10}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/><text x="4" y="${y(t) + 4}">${t * 100}%</text>`;
  groups.forEach((g, gi) => {
    series.forEach((s, si) => {
      const v = value(g, s);
      if (v === undefined) return;
      const x = L + gi * gw + gw * 0.1 + si * bw;
      svg += `<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${(y(0) - y(v)).toFixed(1)}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${g} ${s}: ${pct(v)}%`)}</title></rect>`;
    });
    svg += `<text x="${(L + gi * gw + gw / 2).toFixed(1)}" y="${H - B + 14}" text-anchor="middle">${esc(g)}</text>`;
  });
  series.forEach((s, si) => (svg += `<rect x="${L + si * 130}" y="${H - 22}" width="10" height="10" fill="${COLORS[si % COLORS.length]}"/><text x="${L + si * 130 + 14}" y="${H - 13}">${esc(s)}</text>`));
  return svg + '</svg>';
}

/** Lines: each series a list of [x, y]. */
function lineChart(title: string, series: { name: string; points: [number, number][] }[], yMin = 0, yMax = 1): string {
  const W = 760,
    H = 240,
    L = 40,
    B = 40,
    T = 24;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const xMax = Math.max(1, ...xs);
  const x = (v: number) => L + ((W - L - 10) * v) / xMax;
  const y = (v: number) => T + (H - T - B) * (1 - (v - yMin) / (yMax - yMin || 1));
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11"><text x="${L}" y="14" font-weight="bold">${esc(title)}</text>`;
  for (let k = 0; k <= 4; k++) {
    const v = yMin + ((yMax - yMin) * k) / 4;
    svg += `<line x1="${L}" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="2" y="${y(v) + 4}">${v.toFixed(2)}</text>`;
  }
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map((p, k) => `${k ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('');
    svg += `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5"/>`;
    svg += `<text x="${L + (i % 5) * 145}" y="${H - 8 - 12 * Math.floor(i / 5)}" fill="${COLORS[i % COLORS.length]}">${esc(s.name)}</text>`;
  });
  return svg + '</svg>';
}

export function renderHtml(report: Report): string {
  const mods = report.views;
  const methods = report.summary.map((s) => s.method);
  const sum = (m: string) => report.summary.find((s) => s.method === m)!;
  const perModality = barChart('Accuracy per modality inside each method (in-model) and fused', methods, [...mods.map((m) => `${m} in-model`), 'fused'], (g, s) => {
    const x = sum(g);
    if (s === 'fused') return x.fusedAcc.mean;
    return x.inModelAcc[s.replace(' in-model', '')]?.mean;
  });
  const first = report.runs.find((r) => r.method === 'udi') ?? report.runs[0];
  const curves = first
    ? lineChart(
        `Validation accuracy per epoch, each stage (${first.method}, fold ${first.fold}, seed ${first.seed})`,
        [...new Set(first.curves.map((c) => c.stage))].map((stage) => ({ name: stage, points: first.curves.filter((c) => c.stage === stage).map((c) => [c.epoch, c.monitor] as [number, number]) })),
      )
    : '';
  const udi = report.runs.filter((r) => (r.method === 'udi' || r.method === 'udi-paper') && r.lambda.length > 0);
  const lambda = udi.length
    ? lineChart(
        `λ_con per guided step (UDI; λ_com = 1 − λ_con under the gradient-alignment rule), fold ${udi[0].fold}, seed ${udi[0].seed}`,
        [...new Set(udi[0].lambda.map((l) => l.follower))].map((f) => ({ name: `λ_con ${f}`, points: udi[0].lambda.filter((l) => l.follower === f).map((l) => [l.step, l.lambdaCon] as [number, number]) })),
      )
    : '<p>No UDI run with a λ trace.</p>';
  const html = (md: string) =>
    `<table>${md
      .split('\n')
      .filter((_, i) => i !== 1)
      .map((line, i) => `<tr>${line.slice(2, -2).split(' | ').map((c) => (i === 0 ? `<th>${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`)
      .join('\n')}</table>`;
  const paired = (report.paired ?? []).length ? `${html(renderPairedTable(report))}<p>${esc(pairedNote(report))}</p>` : '<p>No paired differences: no reference method was run (by default ensemble and unimodal, when run; <code>--reference</code>).</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>udi-wasm: ${esc(report.dataset)}</title>
<style>body{font-family:sans-serif;max-width:820px;margin:2em auto;color:#222}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}</style>
</head><body>
<h1>${esc(report.dataset)}: ${esc(report.views.join(' + '))}</h1>
<p>${esc(report.protocol)}</p>
<p>Created ${esc(report.createdAt)}. Mean ± standard deviation over ${report.runs.length / Math.max(1, methods.length)} run(s) per method.</p>
${html(renderTable(report))}
<h2>Paired differences</h2>${paired}
<h2>Per fold</h2><p>Mean fused test accuracy (%) over the seeds of each fold.</p>${html(renderPerFoldTable(report))}
<h2>Per-modality accuracy</h2>${perModality}
<h2>Training curves</h2>${curves}
<h2>λ trace</h2>${lambda}
</body></html>
`;
}
