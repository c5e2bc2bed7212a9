// Every backward, two ways:
//  (a) the float64 reference backward against central differences of the float64 reference forward
//      (relative 1e-6): for losses the loss itself, for everything else Σ G ⊙ forward with a random G;
//  (b) the WebAssembly backward, scalar and SIMD builds, against the reference backward (the backward
//      cases of test/cases/: each accumulates into a random initial gradient, as the kernels do).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import { type ConvShape, type MatmulLayout, type PoolShape } from '../src/engine.js';
import * as R from '../src/kernels/reference/index.js';
import { checkGroup, groupCases, kernelCases } from './cases/index.js';
import { fmt, maxAbs, numericalGradient, Rand, weightedSum } from './helpers.js';

const REL = 1e-6;

/** Assert the analytic gradient matches central differences of `loss` to REL × max|gradient|. */
function expectGradient(label: string, analytic: ArrayLike<number>, loss: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-5): void {
  const numeric = numericalGradient(loss, x, h);
  expect(analytic.length, `${label}: gradient length`).toBe(x.length);
  let err = 0;
  for (let i = 0; i < numeric.length; i++) err = Math.max(err, Math.abs(numeric[i] - analytic[i]));
  const scale = maxAbs(analytic);
  // A zero gradient (e.g. softmax over one column) must be matched by differences that are zero up to rounding.
  const tol = scale > 0 ? REL * scale : 1e-12;
  console.log(`FD ${label}: max |analytic − numeric| ${fmt(err)}, tol ${fmt(tol)} (${scale > 0 ? `${REL} × max|grad| ${fmt(scale)}` : 'the gradient is 0'})`);
  expect(err <= tol, `${label}: max |analytic − numeric| ${fmt(err)} > tol ${fmt(tol)}`).toBe(true);
}

describe('(a) reference backward = central differences of the reference forward', () => {
  const r = new Rand(99);

  it('matmul: dA, dB, dbias in every layout', () => {
    for (const layout of ['nn', 'nt', 'tn'] as MatmulLayout[]) {
      for (const [m, n, k] of [
        [1, 1, 1],
        [3, 4, 5],
        [6, 2, 7],
      ]) {
        const a = r.f32(m * k),
          b = r.f32(k * n),
          bias = r.f32(n),
          G = r.f32(m * n);
        const g = R.matmulBackward(G, a, b, m, n, k, layout);
        const tag = `matmul ${layout} m=${m} n=${n} k=${k}`;
        expectGradient(`${tag} dA`, g.da, (x) => weightedSum(G, R.matmul(x, b, m, n, k, layout, bias)), a);
        expectGradient(`${tag} dB`, g.db, (x) => weightedSum(G, R.matmul(a, x, m, n, k, layout, bias)), b);
        expectGradient(`${tag} dbias`, g.dbias, (x) => weightedSum(G, R.matmul(a, b, m, n, k, layout, x)), bias);
      }
    }
  });

  it('linear (dense layer): dx, dw, dbias', () => {
    const r = new Rand(7); // its own stream: the other checks keep their data
    for (const [rows, inF, outF] of [
      [1, 1, 1],
      [4, 3, 5],
    ]) {
      const x = r.f32(rows * inF),
        w = r.f32(inF * outF),
        bias = r.f32(outF),
        G = r.f32(rows * outF);
      const g = R.linearBackward(G, x, w, rows, inF, outF);
      const tag = `linear rows=${rows} in=${inF} out=${outF}`;
      expectGradient(`${tag} dx`, g.dx, (v) => weightedSum(G, R.matmul(v, w, rows, outF, inF, 'nn', bias)), x);
      expectGradient(`${tag} dw`, g.dw, (v) => weightedSum(G, R.matmul(x, v, rows, outF, inF, 'nn', bias)), w);
      expectGradient(`${tag} dbias`, g.dbias, (v) => weightedSum(G, R.matmul(x, w, rows, outF, inF, 'nn', v)), bias);
    }
  });

  it('row normalisation (DI-MML)', () => {
    const r = new Rand(8); // its own stream: the other checks keep their data
    // (d >= 2: with d = 1 the normalised value is ±1, its gradient 0 up to rounding.)
    for (const [n, d] of [
      [1, 2],
      [3, 6],
    ]) {
      const f = r.f32(n * d, 0.2, 2),
        G = r.f32(n * d);
      const g = R.rowNormalizeBackward(G, R.rowNormalize(f, n, d), f, n, d);
      expectGradient(`rowNormalize n=${n} d=${d} df`, g, (v) => weightedSum(G, R.rowNormalize(v, n, d)), f);
    }
  });

  it('bias add, relu, gelu, dropout', () => {
    const [rows, cols] = [5, 7];
    const x = r.f32(rows * cols, -3, 3),
      bias = r.f32(cols),
      G = r.f32(rows * cols);
    expectGradient('biasAdd dbias', R.biasAddBackward(G, rows, cols), (v) => weightedSum(G, R.biasAdd(x, v, rows, cols)), bias);
    const xr = x.map((v) => (Math.abs(v) < 0.01 ? v + 0.05 : v)); // away from relu's kink
    expectGradient('relu', R.reluBackward(G, xr), (v) => weightedSum(G, R.relu(v)), xr);
    const xg = Float32Array.from([...r.f32(40, -5, 5), -8, -3.5, 0, 1e-6, 2.5, 9]);
    const Gg = r.f32(xg.length);
    expectGradient('gelu', R.geluBackward(Gg, xg), (v) => weightedSum(Gg, R.gelu(v)), xg);
    const mask = R.dropoutMask(x.length, 0.3, R.rng(1, 2));
    expectGradient('dropout', R.dropoutBackward(G, mask), (v) => weightedSum(G, R.dropout(v, mask)), x);
  });

  it('softmax and log-softmax', () => {
    for (const [rows, cols] of [
      [1, 1],
      [4, 6],
      [2, 17],
    ]) {
      const x = r.f32(rows * cols, -4, 4),
        G = r.f32(rows * cols);
      expectGradient(`softmax ${rows}×${cols}`, R.softmaxBackward(G, R.softmax(x, rows, cols), rows, cols), (v) => weightedSum(G, R.softmax(v, rows, cols)), x);
      expectGradient(`logSoftmax ${rows}×${cols}`, R.logSoftmaxBackward(G, R.logSoftmax(x, rows, cols), rows, cols), (v) => weightedSum(G, R.logSoftmax(v, rows, cols)), x);
    }
  });

  it('softmax cross-entropy', () => {
    for (const [rows, cols, scale] of [
      [1, 1, 1],
      [5, 4, 1],
      [7, 9, 0.3],
    ]) {
      const logits = r.f32(rows * cols, -4, 4),
        labels = r.ints(rows, cols);
      const { probs } = R.softmaxCrossEntropy(logits, labels, rows, cols);
      expectGradient(`xent ${rows}×${cols} scale ${scale}`, R.softmaxCrossEntropyBackward(probs, labels, rows, cols, scale), (v) => scale * R.softmaxCrossEntropy(v, labels, rows, cols).loss, logits);
    }
  });

  it('JS and KL divergence (with respect to the follower logits, at several temperatures)', () => {
    for (const [rows, cols, T, scale] of [
      [1, 2, 1, 1],
      [4, 5, 1, 1],
      [3, 8, 2.5, 0.7],
      [5, 3, 0.6, 1.3],
    ]) {
      const pa = R.softmax(r.f32(rows * cols, -2, 2), rows, cols);
      const zm = r.f32(rows * cols, -2, 2);
      const invT = 1 / T,
        eps = 1e-7;
      const js = R.jsDivergence(pa, zm, rows, cols, invT, eps);
      expectGradient(`JS ${rows}×${cols} T=${T}`, R.jsDivergenceBackward(pa, js.pm, rows, cols, invT, eps, scale), (v) => scale * R.jsDivergence(pa, v, rows, cols, invT, eps).loss, zm);
      const kl = R.klDivergence(pa, zm, rows, cols, invT, eps);
      expectGradient(`KL ${rows}×${cols} T=${T}`, R.klDivergenceBackward(pa, kl.pm, rows, cols, invT, scale), (v) => scale * R.klDivergence(pa, v, rows, cols, invT, eps).loss, zm);
    }
  });

  it('standardize and cross-correlation', () => {
    for (const [rows, cols] of [
      [2, 1],
      [8, 3],
      [13, 5],
    ]) {
      const x = Float32Array.from(r.f32(rows * cols, -2, 2), (v) => 2 * v + 1),
        G = r.f32(rows * cols);
      const { xhat, invstd } = R.standardize(x, rows, cols);
      expectGradient(`standardize ${rows}×${cols}`, R.standardizeBackward(G, xhat, invstd, rows, cols), (v) => weightedSum(G, R.standardize(v, rows, cols).xhat), x);
    }
    for (const [rows, d1, d2, scale] of [
      [3, 1, 1, 1],
      [10, 3, 4, 1],
      [16, 5, 2, 0.5],
    ]) {
      const f = r.f32(rows * d1, -2, 2);
      const ghat = R.standardize(r.f32(rows * d2), rows, d2).xhat;
      for (let i = 0; i < rows * d1; i++) f[i] += 0.7 * ghat[Math.floor(i / d1) * d2]; // correlated, so the loss is not flat
      const fw = R.crossCorrelation(f, ghat, rows, d1, d2);
      expectGradient(`crossCorrelation rows=${rows} d1=${d1} d2=${d2}`, R.crossCorrelationBackward(fw.c, fw.fhat, fw.invstd, ghat, rows, d1, d2, scale), (v) => scale * R.crossCorrelation(v, ghat, rows, d1, d2).loss, f);
    }
  });

  it('conv2d: dx, dw, dbias', () => {
    const shapes: ConvShape[] = [
      { batch: 1, h: 1, w: 1, c: 1, outChannels: 1, kh: 1, kw: 1 },
      { batch: 2, h: 4, w: 5, c: 2, outChannels: 3, kh: 3, kw: 3, pad: 1 },
      { batch: 1, h: 6, w: 5, c: 3, outChannels: 2, kh: 2, kw: 3, stride: 2 },
    ];
    for (const s of shapes) {
      const { ho, wo } = { ho: Math.floor((s.h + 2 * (s.pad ?? 0) - s.kh) / (s.stride ?? 1)) + 1, wo: Math.floor((s.w + 2 * (s.pad ?? 0) - s.kw) / (s.stride ?? 1)) + 1 };
      const x = r.f32(s.batch * s.h * s.w * s.c),
        w = r.f32(s.kh * s.kw * s.c * s.outChannels),
        bias = r.f32(s.outChannels),
        G = r.f32(s.batch * ho * wo * s.outChannels);
      const g = R.conv2dBackward(G, x, w, s);
      const tag = `conv2d ${s.batch}×${s.h}×${s.w}×${s.c} k${s.kh}×${s.kw} s${s.stride ?? 1} p${s.pad ?? 0}`;
      expectGradient(`${tag} dx`, g.dx, (v) => weightedSum(G, R.conv2d(v, w, bias, s)), x);
      expectGradient(`${tag} dw`, g.dw, (v) => weightedSum(G, R.conv2d(x, v, bias, s)), w);
      expectGradient(`${tag} dbias`, g.dbias, (v) => weightedSum(G, R.conv2d(x, w, v, s)), bias);
    }
  });

  it('convReluPool: dx, dw, dbias (values apart, so no window maximum or ReLU sign changes under the differences)', () => {
    const shapes: ConvShape[] = [
      { batch: 2, h: 4, w: 5, c: 2, outChannels: 3, kh: 3, kw: 3, pad: 1 },
      { batch: 1, h: 5, w: 4, c: 1, outChannels: 2, kh: 1, kw: 1, pad: 0 },
    ];
    for (const s of shapes) {
      const kk = s.kh * s.kw * s.c;
      const x = r.f32(s.batch * s.h * s.w * s.c),
        w = r.f32(kk * s.outChannels),
        bias = r.f32(s.outChannels),
        G = r.f32(s.batch * (s.h >> 1) * (s.w >> 1) * s.outChannels);
      const g = R.convReluPoolBackward(G, x, w, bias, s);
      const tag = `convReluPool ${s.batch}×${s.h}×${s.w}×${s.c} k${s.kh}`;
      expectGradient(`${tag} dx`, g.dx, (v) => weightedSum(G, R.convReluPool(v, w, bias, s).out), x);
      expectGradient(`${tag} dw`, g.dw, (v) => weightedSum(G, R.convReluPool(x, v, bias, s).out), w);
      expectGradient(`${tag} dbias`, g.dbias, (v) => weightedSum(G, R.convReluPool(x, w, v, s).out), bias);
    }
  });

  it('max-pool (distinct values, so every window has one maximum)', () => {
    const shapes: PoolShape[] = [
      { batch: 1, h: 4, w: 4, c: 2, k: 2 },
      { batch: 2, h: 5, w: 5, c: 1, k: 2, stride: 1 },
      { batch: 1, h: 7, w: 6, c: 3, k: 3, stride: 2 },
    ];
    for (const s of shapes) {
      const n = s.batch * s.h * s.w * s.c;
      // a shuffled grid of values 0.01 apart: central differences with h = 1e-5 never change a window's maximum
      const perm = R.permutation(n, R.rng(n, 0));
      const x = Float64Array.from(perm, (v) => v / 100 - n / 200);
      const { out } = R.maxPool(x, s);
      const G = r.f32(out.length);
      expectGradient(`maxPool ${s.batch}×${s.h}×${s.w}×${s.c} k${s.k} s${s.stride ?? s.k}`, R.maxPoolBackward(G, x, s), (v) => weightedSum(G, R.maxPool(v, s).out), x);
    }
  });
});

const backwardCases = kernelCases().filter((c) => c.backward);

for (const build of ['scalar', 'simd'] as const) {
  describe(`(b) ${build} build backward = reference backward`, () => {
    let rt: Runtime;
    beforeAll(async () => {
      rt = await createRuntime({ threads: 1, build });
    });
    afterAll(() => rt?.dispose());
    for (const [group, list] of groupCases(backwardCases)) {
      it(`${group} (${list.length} cases)`, () => checkGroup(rt, group, list));
    }
  });
}
