/**
 * The end-to-end benchmark's report: the ratios between rows, the table and its legend, and the JSON
 * file (rows, profile, memory findings and the machine's metadata).
 */
import { writeFileSync } from 'node:fs';
import { fmt, machine } from '../harness.js';
import { OTHER_CPU_MAX } from '../meter.js';
import { notes, type Row } from './context.js';
import { torchRatios } from './torch.js';

/** ratioVsTfjs on each udi-wasm row against the tfjs row of the same name; udi/torch ratios. */
export function addRatios(rows: Row[]): void {
  for (const r of rows) {
    if (r.impl !== 'udi-wasm' || r.status !== 'ok') continue;
    // tfjs has no UDI: the UDI run is compared with the tfjs-wasm joint run (same data and encoders), as the issue asks.
    const peerName = r.name.startsWith('run:joint') || r.name === 'run:udi' ? 'run:joint' : r.name;
    const peer = rows.find((x) => x.name === peerName && x.impl === 'tfjs-wasm' && x.status === 'ok') ?? rows.find((x) => x.name === peerName && x.impl === 'tfjs-cpu' && x.status === 'ok');
    if (!peer) continue;
    r.ratioPeer = peer.impl;
    r.ratioVsTfjs = r.samplesPerSec && peer.samplesPerSec ? r.samplesPerSec / peer.samplesPerSec : null;
  }
  torchRatios(rows);
}

/** Rows grouped by name in the order each name first appeared (peers measured later join their group). */
export function grouped(rs: Row[]): Row[] {
  const first = new Map<string, number>();
  rs.forEach((r, i) => first.has(r.name) || first.set(r.name, i));
  return rs.map((r, i) => ({ r, i })).sort((a, b) => first.get(a.r.name)! - first.get(b.r.name)! || a.i - b.i).map((x) => x.r);
}

export function printTable(rs: Row[]): void {
  const head = ['name', 'impl', 'thr', 'ms/step', 'samples/s', 'range ms', 'vs tfjs', 'udi/torch', 'vs floor', 'vs 1 thr', 'rounds', 'others', 'check'];
  const lines: string[][] = [head];
  let last = '';
  for (const r of grouped(rs)) {
    const group = r.name.split('/')[0];
    if (group !== last && lines.length > 1) lines.push([]);
    last = group;
    const bad = r.status !== 'ok' ? (r.status === 'skipped' ? `skipped${r.error ? `: ${r.error}` : ''}` : `✗ ${r.error ?? r.status}`) : null;
    lines.push([
      r.name,
      r.impl,
      String(r.threads),
      bad ?? fmt(r.msPerStep, 2),
      bad ? '' : fmt(r.samplesPerSec, 0),
      bad || r.minMs === undefined ? '' : `${fmt(r.minMs, 2)}-${fmt(r.maxMs, 2)}`,
      bad || r.ratioVsTfjs == null ? '' : `${r.ratioVsTfjs.toFixed(2)}x${r.ratioPeer === 'tfjs-cpu' ? ' (cpu)' : ''}`,
      bad || r.udiOverTorchBest == null ? '' : `${fmt(r.udiOverTorch, 2)}x (best ${r.udiOverTorchBest.toFixed(2)}x)`,
      bad || r.ofFloor == null ? '' : `${r.ofFloor.toFixed(2)}x`,
      bad || r.speedupVs1Thread == null ? '' : `${r.speedupVs1Thread.toFixed(2)}x`,
      bad || r.runs === undefined ? '' : `${r.runs}${r.roundsDiscarded ? ` (+${r.roundsDiscarded})` : ''}`,
      bad || r.otherCpu == null ? '' : `${r.otherCpu.toFixed(2)}${r.otherCpu > OTHER_CPU_MAX ? ' !' : ''}`,
      r.guidedOverSolo != null ? `guided/solo ${r.guidedOverSolo.toFixed(2)}x` : r.gflops != null ? `${r.gflops.toFixed(1)} GFLOP/s` : r.validation ? (r.validation.ok ? `ok (Δw ${r.validation.maxAbsWeightDiff.toExponential(0)})` : `MISMATCH Δloss ${Math.abs(r.validation.lossUdi - r.validation.lossPeer).toExponential(1)} Δw ${r.validation.maxAbsWeightDiff.toExponential(1)}`) : r.testAcc !== undefined ? `acc ${r.testAcc.toFixed(3)}` : '',
    ]);
  }
  const failed = (l: string[]) => (l[3] ?? '').startsWith('✗') || (l[3] ?? '').startsWith('skipped');
  const widths = head.map((_, i) => Math.max(...lines.filter((l) => l.length && !failed(l)).map((l) => (l[i] ?? '').length)));
  for (const l of lines) {
    if (l.length === 0) console.log('');
    else if (failed(l)) console.log([l[0].padEnd(widths[0]), l[1].padEnd(widths[1]), l[2].padStart(widths[2]), l[3].length > 110 && !l[3].startsWith('skipped') ? l[3].slice(0, 107) + '...' : l[3]].join('  '));
    else console.log(l.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  }
}

export function printLegend(rows: Row[], totalSeconds: number): void {
  console.log('ms/step: median over rounds (steps) or wall / steps (runs, per-epoch validation included); samples/s = steps x 64 / wall time.');
  console.log('vs tfjs: udi-wasm speed / tfjs speed for the same name (> 1: udi-wasm faster); "(cpu)": against the tfjs cpu backend (tfjs-wasm cannot train a convolution).');
  console.log('udi/torch: udi-wasm ms/step / PyTorch ms/step on the same thread count (and on its best thread count), same batches (< 1: udi-wasm faster).');
  console.log("vs floor: ms/step / (the step's FLOPs at threads x the ceiling row's GFLOP/s, timed in the same rounds); vs 1 thr: 1-thread ms/step / this row's.");
  console.log('check: first step from the same weights on the same batch, udi-wasm vs the tfjs peer (Δw = max |weight difference|), test accuracy of a run, or guided/solo step cost.');
  const contended = rows.filter((r) => r.otherCpu != null && r.otherCpu > OTHER_CPU_MAX);
  if (contended.length) console.log('WARNING: rows marked "!" did not get enough quiet rounds (other processes busy); their 2-thread figures are not trustworthy.');
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`total ${totalSeconds.toFixed(1)} s`);
}

/** The JSON result: machine metadata (bench/harness.ts) + the run's own, rows in table order, and the rest. */
export function writeJson(file: string, metadata: Record<string, unknown>, rows: Row[], rest: Record<string, unknown>): void {
  writeFileSync(file, JSON.stringify({ metadata: { ...machine('npm run bench --'), ...metadata, notes }, rows: grouped(rows), ...rest }, null, 2) + '\n');
  console.log(`wrote ${file}`);
}
