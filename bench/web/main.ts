/**
 * The demo page: picks the data, starts the trainer Worker, draws live curves (udi-wasm/vis: one
 * liveChart per method, fed by the worker's relayed callbacks, with epoch totals and an ETA), shows
 * the anchor, the λ trace (inline SVG) and the results, offers the checkpoints for download and
 * predicts on a test sample.
 */
import type { Method } from '../../src/web.js';
import { type LiveChart, liveChart, replayCallback } from '../../src/vis/index.js';
import { decodeDemo, type DemoData, fromCsvFiles, encodeDemo } from './data.js';
import type { FromWorker, Summary, ToWorker } from './worker.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const COLORS = ['#4a7fd4', '#e07b39', '#3a9e5c', '#b0489b', '#8a6d3b', '#d43f3f', '#2aa1b3', '#666'];
const fmtPct = (x: number) => `${(100 * x).toFixed(1)}%`;
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

// ---- a small SVG line chart ------------------------------------------------------------------------

interface Series {
  label: string;
  points: [number, number][];
}

function lineChart(series: Series[], opts: { yMin?: number; yMax?: number; marks?: { x: number; label: string }[] } = {}): string {
  const W = 520,
    H = 220,
    L = 44,
    R = 10,
    T = 10,
    B = 36;
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return `<svg viewBox="0 0 ${W} ${H}"><text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#999">waiting for data</text></svg>`;
  const xMin = Math.min(...all.map((p) => p[0])),
    xMax = Math.max(xMin + 1, ...all.map((p) => p[0]));
  let yMin = opts.yMin ?? Math.min(...all.map((p) => p[1])),
    yMax = opts.yMax ?? Math.max(...all.map((p) => p[1]));
  if (yMax - yMin < 1e-9) (yMin -= 0.5), (yMax += 0.5);
  const sx = (x: number) => L + ((x - xMin) / (xMax - xMin)) * (W - L - R);
  const sy = (y: number) => T + (1 - (y - yMin) / (yMax - yMin)) * (H - T - B);
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const y = yMin + ((yMax - yMin) * i) / 4;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${sy(y)}" y2="${sy(y)}" stroke="#e4e4e4"/><text x="${L - 4}" y="${sy(y) + 4}" font-size="10" text-anchor="end" fill="#555">${Math.abs(y) < 10 ? y.toFixed(2) : y.toFixed(0)}</text>`);
  }
  for (const m of opts.marks ?? []) parts.push(`<line x1="${sx(m.x)}" x2="${sx(m.x)}" y1="${T}" y2="${H - B}" stroke="#bbb" stroke-dasharray="3 3"/><text x="${sx(m.x) + 3}" y="${T + 10}" font-size="9" fill="#777">${esc(m.label)}</text>`);
  series.forEach((s, i) => {
    const step = Math.max(1, Math.ceil(s.points.length / 600));
    const pts = s.points.filter((_, j) => j % step === 0 || j === s.points.length - 1);
    const color = COLORS[i % COLORS.length];
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ')}"/>`);
    parts.push(`<rect x="${L + 4 + i * 96}" y="${H - 14}" width="10" height="3" fill="${color}"/><text x="${L + 18 + i * 96}" y="${H - 10}" font-size="10" fill="#333">${esc(s.label)}</text>`);
  });
  parts.push(`<text x="${W - R}" y="${H - 22}" font-size="9" text-anchor="end" fill="#777">${xMin}–${xMax}</text>`);
  return `<svg viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

// ---- state ---------------------------------------------------------------------------------------

let worker: Worker | undefined;
let data: DemoData | undefined;
const views = new Map<Method, LiveChart>();
const summaries: Summary[] = [];
const checkpoints = new Map<Method, string>();
let running: Method | undefined;
let statusQueued = false;

function status(text: string, error = false) {
  const s = $('status');
  s.textContent = text;
  s.className = error ? 'error' : '';
}

/** The live chart of a method: a card with its progress (stage, epoch and step totals, ETA), losses and validation accuracy. */
function view(method: Method): LiveChart {
  let v = views.get(method);
  if (!v) {
    const el = document.createElement('div');
    el.className = 'card';
    el.dataset.method = method;
    el.innerHTML = `<h3>${esc(method)}</h3>`;
    $('cards').append(el);
    v = liveChart(el, { metrics: ['loss', 'val_acc_*'], height: 200 });
    views.set(method, v);
  }
  return v;
}

/** The status line follows the running method's chart: stage i/n, epoch e/E, steps, ETA (once per frame). */
function showProgress() {
  if (statusQueued) return;
  statusQueued = true;
  requestAnimationFrame(() => {
    statusQueued = false;
    const v = running && views.get(running);
    if (v && !v.ended) status(`${running}: ${v.status()}`);
  });
}

function showResults() {
  const mods = Object.keys(data?.train.modalities ?? {});
  const rows = summaries.map(
    (s) =>
      `<tr><td>${esc(s.method)}</td><td>${fmtPct(s.fusedAcc)}</td><td>${fmtPct(s.fusedF1)}</td>${mods.map((m) => `<td>${s.inModelAcc[m] === undefined ? '-' : fmtPct(s.inModelAcc[m])}</td>`).join('')}${mods
        .map((m) => `<td>${s.soloAcc[m] === undefined ? '-' : fmtPct(s.soloAcc[m])}</td>`)
        .join('')}<td>${(s.wallMs / 1000).toFixed(1)} s</td><td><a href="${checkpoints.get(s.method)}" download="udi-wasm-${s.method}.safetensors">checkpoint</a></td></tr>`,
  );
  $('results').innerHTML = `<table><tr><th>method</th><th>fused acc</th><th>fused F1</th>${mods.map((m) => `<th>${esc(m)} in-model</th>`).join('')}${mods.map((m) => `<th>${esc(m)} alone</th>`).join('')}<th>wall</th><th></th></tr>${rows.join('')}</table>`;
  const udi = summaries.find((s) => s.method === 'udi');
  if (udi?.anchor) {
    const v = Object.entries(udi.anchor.validation).map(([m, x]) => `${esc(m)}: validation accuracy ${fmtPct(x.acc)}, mean entropy ${x.entropy.toFixed(3)}`);
    $('anchor').innerHTML = `anchor <b>${esc(udi.anchor.name)}</b>: ${esc(udi.anchor.reason)}<br>${v.join('<br>')}`;
    const followers = [...new Set(udi.lambdaTrace.map((t) => t.follower))];
    const series: Series[] = followers.flatMap((f) => {
      const tr = udi.lambdaTrace.filter((t) => t.follower === f);
      const tag = followers.length > 1 ? ` (${f})` : '';
      return [
        { label: `λcon${tag}`, points: tr.map((t, i) => [i, t.lambdaCon] as [number, number]) },
        { label: `λcom${tag}`, points: tr.map((t, i) => [i, t.lambdaCom] as [number, number]) },
      ];
    });
    $('lambda').innerHTML = lineChart(series, { yMin: 0, yMax: 1 });
  }
}

// ---- worker messages ------------------------------------------------------------------------------

function onMessage(m: FromWorker) {
  switch (m.type) {
    case 'runtime': {
      const i = m.info;
      $('runtime').textContent = `runtime: ${i.runtime}, build ${i.build}, ${i.threads} thread(s) of ${i.hardwareThreads}, cross-origin isolated: ${i.crossOriginIsolated}${i.threadsNote ? ` — ${i.threadsNote}` : ''}`;
      break;
    }
    case 'data':
      status(`data: ${m.description}; rows ${JSON.stringify(m.sizes)}; dims ${JSON.stringify(m.modalities)}; ${m.classes} classes`);
      break;
    case 'callback':
      running = m.method;
      replayCallback(m.message, view(m.method));
      showProgress();
      break;
    case 'result':
      summaries.push(m.summary);
      checkpoints.set(m.summary.method, URL.createObjectURL(new Blob([m.checkpoint], { type: 'application/octet-stream' })));
      showResults();
      break;
    case 'done':
      status(`done: ${summaries.map((s) => `${s.method} ${fmtPct(s.fusedAcc)}`).join(', ')} (fused accuracy on the ${summaries[0]?.evaluatedOn ?? 'test'} split)`);
      ($('train') as HTMLButtonElement).disabled = false;
      break;
    case 'prediction':
      showPrediction(m);
      break;
    case 'error':
      status(`error: ${m.message}`, true);
      ($('train') as HTMLButtonElement).disabled = false;
      break;
  }
}

function showPrediction(m: Extract<FromWorker, { type: 'prediction' }>) {
  const out = $('prediction');
  out.innerHTML = '';
  const img = data?.images?.find((name) => data!.test.modalities[name]?.dim === 784);
  if (img && data) {
    const c = document.createElement('canvas');
    c.width = c.height = 28;
    c.style.width = c.style.height = '84px';
    const px = data.test.modalities[img].data.subarray(m.index * 784, (m.index + 1) * 784);
    const id = c.getContext('2d')!.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const g = Math.max(0, Math.min(255, Math.round(255 * (1 - px[i]))));
      id.data.set([g, g, g, 255], 4 * i);
    }
    c.getContext('2d')!.putImageData(id, 0, 0);
    out.append(c, ` ${img} of test sample ${m.index}`);
  }
  const rows = Object.entries(m.probs).map(([method, p]) => {
    const best = p.indexOf(Math.max(...p));
    return `<tr><td>${esc(method)}</td><td>${best}</td><td>${best === m.label ? '✓' : '✗'}</td><td style="text-align:left">${p.map((x, k) => `${k}<span class="bar" style="width:${Math.round(60 * x)}px"></span>`).join(' ')}</td></tr>`;
  });
  const t = document.createElement('div');
  t.innerHTML = `<p>true class <b>${m.label}</b></p><table><tr><th>method</th><th>predicted</th><th></th><th>probabilities</th></tr>${rows.join('')}</table>`;
  out.append(t);
}

// ---- controls -------------------------------------------------------------------------------------

async function loadBytes(): Promise<Uint8Array> {
  const source = (document.querySelector('input[name=source]:checked') as HTMLInputElement).value;
  if (source === 'prepared') {
    const res = await fetch('./data.bin');
    if (!res.ok) throw new Error(`data.bin: HTTP ${res.status}; write it with \`npx tsx bench/web/prepare.ts\`, or pick files`);
    return new Uint8Array(await res.arrayBuffer());
  }
  const files = [...($('files') as HTMLInputElement).files!];
  if (files.length === 0) throw new Error('pick a data file, or labels.csv and one CSV per modality');
  if (files.length === 1 && !files[0].name.toLowerCase().endsWith('.csv')) return new Uint8Array(await files[0].arrayBuffer());
  return encodeDemo(fromCsvFiles(await Promise.all(files.map(async (f) => ({ name: f.name, text: await f.text() })))));
}

$('train').addEventListener('click', async () => {
  const button = $('train') as HTMLButtonElement;
  button.disabled = true;
  try {
    status('loading the data…');
    const bytes = await loadBytes();
    data = decodeDemo(bytes);
    ($('sample') as HTMLInputElement).max = String(data.test.size - 1);
    for (const v of views.values()) v.destroy();
    views.clear();
    running = undefined;
    $('cards').innerHTML = '';
    summaries.length = 0;
    for (const url of checkpoints.values()) URL.revokeObjectURL(url);
    checkpoints.clear();
    $('results').textContent = '—';
    $('anchor').textContent = '—';
    $('lambda').innerHTML = '';
    worker ??= new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
    worker.onerror = (e) => {
      status(`worker error: ${e.message}`, true);
      button.disabled = false;
    };
    const baseline = ($('baseline') as HTMLSelectElement).value as Method | '';
    const methods: Method[] = baseline ? ['udi', baseline] : ['udi'];
    const epochs = Math.max(1, Math.min(200, Number(($('epochs') as HTMLInputElement).value) || 20));
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const msg: ToWorker = { type: 'train', data: buf, methods, epochs };
    worker.postMessage(msg, [buf]);
  } catch (e) {
    status(`error: ${(e as Error).message}`, true);
    button.disabled = false;
  }
});

$('random').addEventListener('click', () => {
  if (!data) return;
  ($('sample') as HTMLInputElement).value = String(Math.floor(Math.random() * data.test.size));
  $('predict').click();
});

$('predict').addEventListener('click', () => {
  if (!worker || summaries.length === 0) return status('train first', true);
  const msg: ToWorker = { type: 'predict', index: Number(($('sample') as HTMLInputElement).value) };
  worker.postMessage(msg);
});

// For scripted checks (the Chromium test drives the page through these).
Object.assign(window, { udiDemo: { summaries, views, status: () => $('status').textContent } });
