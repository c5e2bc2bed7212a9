// report.html for a researcher: axes with ticks and labels, training curves for every method (mean
// and spread over runs, per stage), error bars, the per-fold table, plots that scale with the page,
// and the protocol explained in the report itself (no reference to notes the reader does not have).
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { Report, RunRecord } from '../src/compare.js';
import { perFold, pairedDifferences, summarise } from '../src/compare-stats.js';
import type { Method } from '../src/index.js';
import { METHOD_NOTES, methodCurves, renderHtml, renderMarkdown, selfContained } from '../src/report.js';

function run(method: Method, fold: number, seed: number, stages: [string, number[]][]): RunRecord {
  const acc = 0.8 + 0.01 * fold + 0.005 * seed;
  return {
    method,
    fold,
    seed,
    fusedAcc: acc,
    fusedF1: acc - 0.01,
    valFusedAcc: acc,
    soloAcc: method === 'joint' ? {} : { audio: 0.5, image: 0.9 },
    inModelAcc: { audio: 0.5 + 0.01 * seed, image: 0.9 },
    anchor: method === 'udi' ? 'image' : null,
    anchorReason: null,
    guided: null,
    updates: {},
    wallMs: 1000,
    stages: stages.map(([name, m]) => ({ name, steps: 10 * m.length, epochs: m.length, wallMs: 10 })),
    curves: stages.flatMap(([stage, m]) => m.map((monitor, epoch) => ({ stage, epoch, loss: 1 - monitor, monitor: monitor + 0.01 * seed }))),
    lambda: method === 'udi' ? [0, 1, 2].map((step) => ({ follower: 'audio', step, lambdaCon: 0.5, lambdaCom: 0.5, cos: 0.1 })) : [],
  };
}

function report(): Report {
  const methods: Method[] = ['udi', 'ensemble', 'joint'];
  const runs: RunRecord[] = [];
  for (const fold of [0, 1])
    for (const seed of [0, 1]) {
      runs.push(run('udi', fold, seed, [['solo:audio', [0.3, 0.5, 0.55]], ['solo:image', [0.8, 0.9]], ['guided:audio', seed ? [0.9] : [0.88, 0.91]]]));
      runs.push(run('ensemble', fold, seed, [['solo:audio', [0.3, 0.5]], ['solo:image', [0.8, 0.9, 0.92]]]));
      runs.push(run('joint', fold, seed, [['joint', [0.6, 0.8, 0.85, 0.86]]]));
    }
  return {
    dataset: 'AV-MNIST split B',
    views: ['audio', 'image'],
    protocol: 'AV-MNIST: FSDD v1.0.10 recordings paired with MNIST images by digit in file-name order (data-protocol.md). Test used only for the final figures.',
    createdAt: '2026-01-01T00:00:00.000Z',
    options: { dataset: 'avmnist', split: 'B', methods, seeds: 2, folds: [0, 1], epochs: 30 } as never,
    runs,
    summary: summarise(runs, methods),
    perFold: perFold(runs, methods),
    paired: pairedDifferences(runs, methods, ['ensemble']),
    pairedBootstrap: { resamples: 10000, seed: 0, confidence: 0.95, unit: 'pairs' },
  };
}

describe('report.html', () => {
  const r = report();
  const html = renderHtml(r);
  const svgs: string[] = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];

  it('scales every plot with the page: viewBox and width 100%, no fixed pixel width', async () => {
    if (process.env.UDI_WRITE_REPORT) await writeFile(process.env.UDI_WRITE_REPORT, html);
    expect(svgs.length).toBe(1 + 3 + 1); // per-modality bars, one curve chart per method, the λ trace
    for (const s of svgs) {
      expect(s).toMatch(/^<svg [^>]*viewBox="0 0 \d+ \d+"[^>]* width="100%"/);
      expect(s).not.toMatch(/^<svg [^>]*width="\d+"/);
    }
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toMatch(/\.scroll\{overflow-x:auto\}/);
  });

  it('labels the axes and puts ticks on them', () => {
    const [bars, ...rest] = svgs;
    expect(bars).toContain('>test accuracy</text>');
    expect(bars).toContain('>method</text>');
    for (const t of ['0%', '25%', '50%', '75%', '100%']) expect(bars).toContain(`>${t}</text>`);
    for (const s of rest.slice(0, 3)) {
      expect(s).toContain('>epoch within the stage</text>');
      expect(s).toContain('>validation accuracy</text>');
      expect(s).toMatch(/>1<\/text>[\s\S]*>2<\/text>/); // epoch ticks
    }
  });

  it('draws error bars on the summary chart: one per bar, ± one standard deviation', () => {
    const bars = svgs[0];
    const rects = (bars.match(/<rect [^>]*><title>/g) ?? []).length;
    expect(rects).toBe(3 * 3); // 3 methods × (audio in-model, image in-model, fused)
    expect((bars.match(/class="errorbar"/g) ?? []).length).toBe(rects);
    expect(bars).toMatch(/<title>udi, audio in-model: 50\.5 ± 0\.6%<\/title>/);
  });

  it('draws training curves for every method: per stage, the mean over runs and a ± std band', () => {
    for (const m of ['udi', 'ensemble', 'joint']) expect(html).toContain(`>${m}: validation per epoch, each stage (4 runs)</text>`);
    const udi = methodCurves(r, 'udi');
    expect(udi.map((b) => b.name)).toEqual(['solo:audio', 'solo:image', 'guided:audio']);
    // guided:audio: epoch 1 from all 4 runs (0.88 + 0.01·seed, and 0.9 + 0.01), epoch 2 only from the seed-0 runs.
    const g = udi[2].points;
    expect(g.map((p) => [p.x, p.n])).toEqual([
      [1, 4],
      [2, 2],
    ]);
    expect(g[0].mean).toBeCloseTo((0.88 + 0.88 + 0.91 + 0.91) / 4, 12);
    expect(g[0].spread).toBeGreaterThan(0);
    expect(g[1].spread).toBe(0);
    const udiSvg = svgs[1];
    expect((udiSvg.match(/class="mean"/g) ?? []).length).toBe(3);
    expect((udiSvg.match(/class="band"/g) ?? []).length).toBe(3);
  });

  it('has the per-fold table, and explains the protocol without citing notes', () => {
    expect(html).toContain('<h2>Per fold</h2>');
    expect(html).toContain('<th>fold 0</th><th>fold 1</th>');
    expect(html).toMatch(/<td>udi<\/td><td>80\.3<\/td><td>81\.3<\/td>/);
    expect(html).toContain('<h2>Protocol</h2>');
    expect(html).not.toMatch(/\.md\b/);
    expect(renderMarkdown(r)).not.toMatch(/\.md\)/);
    for (const m of ['udi', 'ensemble', 'joint']) expect(html).toContain(`<li><b>${m}</b>: ${METHOD_NOTES[m].replace(/'/g, "'").slice(0, 30)}`);
    expect(html).toMatch(/2 fold\(s\) \(0, 1\) × 2 seed\(s\) \(0, 1\)/);
    expect(html).toMatch(/<b>fused F1<\/b>: accuracy and macro-averaged F1/);
    expect(selfContained('pairs by digit (data-protocol.md). Test only (see ../shared/notes/udi-method.md).')).toBe('pairs by digit. Test only.');
  });

  it('has no script and loads nothing from the network', () => {
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });
});
