// The kernels' own exp/log (assembly/math.ts) at the edges: softmax and friends at huge and tiny
// logits give no NaN, log-softmax is correctly rounded (within 1 ulp, almost always exactly), the
// entropy of a one-hot is 0, JS and KL of identical distributions are 0, and the cross-correlation of
// features that are uncorrelated by construction (Hadamard columns) is exactly 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import * as R from '../src/kernels/reference/index.js';
import { EPS32, expectClose, fmt, fround, Rand, scoped, tolRel } from './helpers.js';

/** Sylvester's Hadamard matrix of order n (a power of 2): ±1 entries, orthogonal columns, every column but the first sums to 0. */
function hadamard(n: number): number[][] {
  let h = [[1]];
  while (h.length < n) h = [...h.map((r) => [...r, ...r]), ...h.map((r) => [...r, ...r.map((v) => -v)])];
  return h;
}

/** Distance in units in the last place between two f32 values of the same sign. */
const ulps = (a: number, b: number) => (a === b ? 0 : Math.abs(new Int32Array(Float32Array.of(a).buffer)[0] - new Int32Array(Float32Array.of(b).buffer)[0]));

for (const build of ['scalar', 'simd'] as const) {
  describe(`${build} build: deterministic exp and log at the edges`, () => {
    let rt: Runtime;
    beforeAll(async () => {
      rt = await createRuntime({ threads: 1, build });
    });
    afterAll(() => rt?.dispose());

    const rowsOf = (rows: number[][]) => ({ data: Float32Array.from(rows.flat()), rows: rows.length, cols: rows[0].length });

    it('softmax, log-softmax and cross-entropy of huge and tiny logits: no NaN, softmax rows sum to 1', () => {
      const { data, rows, cols } = rowsOf([
        [1e4, -1e4, 0, 3e38],
        [3e38, 3e38, -3e38, -3e38],
        [-3e38, -3e38, -3e38, -3e38],
        [-80, -90, -100, -110],
        [1e-30, 0, -1e-30, 1e-45],
        [88, 89, 90, 104],
        [-1e30, -1e30, -1e30, -1e30 * 0.999],
      ]);
      scoped(rt, () => {
        const x = rt.arena.f32From(data),
          p = rt.arena.f32(data.length),
          lp = rt.arena.f32(data.length),
          probs = rt.arena.f32(data.length);
        rt.kernels.softmax(p, x, rows, cols);
        rt.kernels.logSoftmax(lp, x, rows, cols);
        const loss = rt.kernels.softmaxCrossEntropy(probs, x, rt.arena.i32From([3, 0, 2, 0, 1, 3, 3]), rows, cols);
        const pv = rt.arena.read(p);
        expect(pv.filter(Number.isNaN).length, 'NaN in softmax').toBe(0);
        expect(rt.arena.read(lp).filter(Number.isNaN).length, 'NaN in log-softmax').toBe(0);
        expect(rt.arena.read(probs).filter(Number.isNaN).length, 'NaN in the cross-entropy probabilities').toBe(0);
        expect(Number.isNaN(loss), `cross-entropy ${loss}`).toBe(false);
        for (let r = 0; r < rows; r++) {
          const s = pv.slice(r * cols, (r + 1) * cols).reduce((a, b) => a + b, 0);
          expect(Math.abs(s - 1), `softmax row ${r} sums to ${s}`).toBeLessThan(4 * EPS32);
        }
        const ref = R.softmax(data, rows, cols);
        expectClose(`[${build}] softmax of extreme logits`, pv, ref, tolRel(ref, 2));
      });
    });

    it('log-softmax and cross-entropy stay accurate at huge logits (log Σexp is not absorbed by the max)', () => {
      const failures: string[] = [];
      for (const c of [1e4, 1e8, 1e10, 1e12, 1e16, 3e38]) {
        scoped(rt, () => {
          const row = Float32Array.from([c, c, c / 2]); // log-softmax ≈ [−log 2, −log 2, −c/2], probabilities [½, ½, 0]
          const x = rt.arena.f32From(row),
            y = rt.arena.f32(3),
            probs = rt.arena.f32(3);
          rt.kernels.logSoftmax(y, x, 1, 3);
          const loss = rt.kernels.softmaxCrossEntropy(probs, x, rt.arena.i32From([0]), 1, 3);
          const want = fround(R.logSoftmax(row, 1, 3)),
            wantLoss = Math.fround(R.softmaxCrossEntropy(row, [0], 1, 3).loss);
          const got = rt.arena.read(y),
            p = rt.arena.read(probs);
          const sum = p[0] + p[1] + p[2];
          const bad = [0, 1, 2].some((j) => ulps(got[j], want[j]) > 1) || ulps(loss, wantLoss) > 1 || Math.abs(sum - 1) > 4 * EPS32;
          if (bad) failures.push(`logits [${c}, ${c}, ${c / 2}]: log-softmax [${[...got]}], expected [${[...want]}]; cross-entropy (label 0) ${loss}, expected ${wantLoss}; its probabilities [${[...p]}] sum to ${sum}`);
        });
      }
      expect(failures, `[${build}]\n${failures.join('\n')}`).toEqual([]);
    });

    it('JS and KL at large logits and temperatures: no NaN', () => {
      scoped(rt, () => {
        const { data, rows, cols } = rowsOf([
          [1e4, -1e4, 0],
          [3e38, -3e38, 0],
          [-50, 50, 0],
        ]);
        const pa = rt.arena.f32From(fround(R.softmax([1, 2, 3, 3, 2, 1, 0, 0, 9], rows, cols)));
        for (const temperature of [0.01, 1, 100]) {
          const pm = rt.arena.f32(data.length),
            d = rt.arena.f32(data.length);
          const js = rt.kernels.jsDivergence(pm, pa, rt.arena.f32From(data), rows, cols, { temperature });
          rt.kernels.jsDivergenceBackward(d, pa, pm, rows, cols, { temperature });
          const kl = rt.kernels.klDivergence(pm, pa, rt.arena.f32From(data), rows, cols, { temperature });
          rt.kernels.klDivergenceBackward(d, pa, pm, rows, cols, { temperature });
          expect(Number.isFinite(js) && Number.isFinite(kl), `T=${temperature}: JS ${js}, KL ${kl}`).toBe(true);
          expect(js).toBeGreaterThanOrEqual(0);
          expect(js).toBeLessThanOrEqual(Math.LN2 + 1e-6);
          expect(rt.arena.read(d).every(Number.isFinite), `T=${temperature}: gradients`).toBe(true);
        }
      });
    });

    it('log-softmax is correctly rounded where it is well-conditioned, and accurate to 1e-14 absolute elsewhere', () => {
      scoped(rt, () => {
        const r = new Rand(3);
        const n = 20000;
        // rows [x, 0]: log-softmax is [−log1p(e^−|x|), −|x| − log1p(e^−|x|)] in some order, computed here in float64 with log1p
        const data = new Float32Array(2 * n);
        for (let i = 0; i < n; i++) data[2 * i] = r.uniform(-30, 30);
        const out = rt.arena.f32(2 * n);
        rt.kernels.logSoftmax(out, rt.arena.f32From(data), n, 2);
        const got = rt.arena.read(out);
        const stats = { large: { n: 0, exact: 0, worst: 0 }, small: { n: 0, worst: 0 }, tiny: { n: 0, worstAbs: 0 } };
        for (let i = 0; i < n; i++) {
          const x = data[2 * i],
            l = Math.log1p(Math.exp(-Math.abs(x)));
          const truth = x >= 0 ? [-l, -x - l] : [x - l, -l];
          for (let j = 0; j < 2; j++) {
            const t = truth[j],
              g = got[2 * i + j],
              u = ulps(g, Math.fround(t));
            if (Math.abs(t) >= 1e-3) {
              stats.large.n++;
              if (u === 0) stats.large.exact++;
              stats.large.worst = Math.max(stats.large.worst, u);
            } else if (Math.abs(t) >= 1e-7) {
              stats.small.n++;
              stats.small.worst = Math.max(stats.small.worst, u);
            } else {
              stats.tiny.n++;
              stats.tiny.worstAbs = Math.max(stats.tiny.worstAbs, Math.abs(g - t));
            }
          }
        }
        console.log(
          `[${build}] log-softmax of ${2 * n} values: |y| >= 1e-3: ${stats.large.exact}/${stats.large.n} correctly rounded, worst ${stats.large.worst} ulp; ` +
            `1e-7 <= |y| < 1e-3: worst ${stats.small.worst} ulp (${stats.small.n} values); |y| < 1e-7: worst absolute error ${fmt(stats.tiny.worstAbs)} (${stats.tiny.n} values)`,
        );
        expect(stats.large.worst).toBeLessThanOrEqual(1);
        expect(stats.large.exact / stats.large.n).toBeGreaterThan(0.999);
        expect(stats.small.worst).toBeLessThanOrEqual(1);
        expect(stats.tiny.worstAbs).toBeLessThan(1e-14);

        // n equal logits: log-softmax is −log n, softmax 1/n
        for (let cols = 1; cols <= 64; cols++) {
          const y = rt.arena.f32(cols),
            p = rt.arena.f32(cols);
          rt.kernels.logSoftmax(y, rt.arena.f32From(new Float32Array(cols).fill(2.5)), 1, cols);
          rt.kernels.softmax(p, rt.arena.f32From(new Float32Array(cols).fill(-7)), 1, cols);
          expect(ulps(rt.arena.read(y)[0], Math.fround(-Math.log(cols))), `log-softmax over ${cols} equal logits`).toBeLessThanOrEqual(1);
          expect(rt.arena.read(p)[0], `softmax over ${cols} equal logits`).toBe(Math.fround(1 / cols));
        }
      });
    });

    it('gelu and its gradient at extreme inputs: no NaN, the right limits', () => {
      scoped(rt, () => {
        const xs = Float32Array.from([3e38, -3e38, 1e4, -1e4, 30, -30, 1e-30, -1e-30, 0, -0, 1e-40]);
        const out = rt.arena.f32(xs.length),
          dx = rt.arena.f32(xs.length);
        rt.kernels.fill(dx, 0);
        rt.kernels.gelu(out, rt.arena.f32From(xs));
        rt.kernels.geluBackward(dx, rt.arena.f32From(new Float32Array(xs.length).fill(1)), rt.arena.f32From(xs));
        const o = rt.arena.read(out),
          d = rt.arena.read(dx);
        expect([...o, ...d].filter((v) => !Number.isFinite(v))).toEqual([]);
        expect(o[0]).toBe(xs[0]);
        expect(o[2]).toBe(1e4);
        expect(Math.abs(o[1])).toBe(0);
        expect(Math.abs(o[3])).toBe(0);
        expect([d[0], d[2], d[4]]).toEqual([1, 1, 1]);
        expect([Math.abs(d[1]), Math.abs(d[3])]).toEqual([0, 0]);
        expect(d[8]).toBe(0.5);
      });
    });

    it('the entropy of one-hot rows is 0; of uniform rows log(cols)', () => {
      scoped(rt, () => {
        const cols = 10;
        const onehot = new Float32Array(3 * cols);
        for (let r = 0; r < 3; r++) onehot[r * cols + ((3 * r) % cols)] = 1;
        const h = rt.kernels.entropy(rt.arena.f32From(onehot), 3, cols);
        console.log(`[${build}] entropy of one-hot rows: ${h}`);
        expect(Math.abs(h)).toBeLessThan(1e-7);
        const hu = rt.kernels.entropy(rt.arena.f32From(new Float32Array(4 * cols).fill(0.1)), 4, cols);
        expect(Math.abs(hu - Math.log(cols)), `uniform entropy ${hu}`).toBeLessThan(2 * EPS32 * Math.log(cols));
        // probabilities below eps are clamped inside the log, and still finite
        const tiny = Float32Array.from([1 - 2e-30, 1e-30, 1e-30, 0]);
        expect(rt.kernels.entropy(rt.arena.f32From(tiny), 1, 4)).toBeLessThan(1e-20);
      });
    });

    it('JS and KL of identical distributions are 0, and so is the JS gradient', () => {
      scoped(rt, () => {
        const r = new Rand(8);
        const [rows, cols] = [6, 9];
        for (const temperature of [1, 2]) {
          const zm = rt.arena.f32From(r.f32(rows * cols, -4, 4));
          // pa from the kernel's own softmax: pm equals pa bit for bit
          const pa = rt.arena.f32(rows * cols);
          rt.kernels.jsDivergence(pa, rt.arena.f32(rows * cols), zm, rows, cols, { temperature });
          const pm = rt.arena.f32(rows * cols);
          const js = rt.kernels.jsDivergence(pm, pa, zm, rows, cols, { temperature });
          const kl = rt.kernels.klDivergence(pm, pa, zm, rows, cols, { temperature });
          const d = rt.arena.f32From(new Float32Array(rows * cols).fill(0.25));
          rt.kernels.jsDivergenceBackward(d, pa, pm, rows, cols, { temperature });
          // pa from the float64 reference, rounded: may differ from pm by an ulp
          const pa64 = rt.arena.f32From(fround(R.softmax(rt.arena.read(zm), rows, cols, Math.fround(1 / temperature))));
          const js64 = rt.kernels.jsDivergence(pm, pa64, zm, rows, cols, { temperature });
          const kl64 = rt.kernels.klDivergence(pm, pa64, zm, rows, cols, { temperature });
          console.log(`[${build}] T=${temperature}: JS(p||p) = ${js}, KL(p||p) = ${kl}; against the reference's p: JS ${fmt(js64)}, KL ${fmt(kl64)}`);
          expect(Math.abs(js)).toBeLessThan(1e-7);
          expect(Math.abs(kl)).toBeLessThan(1e-7);
          expect(Math.abs(js64)).toBeLessThan(1e-7);
          expect(Math.abs(kl64)).toBeLessThan(1e-7);
          expect(rt.arena.read(d)).toEqual(new Float32Array(rows * cols).fill(0.25));
        }
      });
    });

    it('cross-correlation of features uncorrelated by construction (Hadamard columns) is 0, of equal features 1/d', () => {
      scoped(rt, () => {
        const r = new Rand(4);
        for (const [rows, d1, d2] of [
          [8, 3, 4],
          [16, 5, 7],
          [64, 20, 31],
        ]) {
          const H = hadamard(rows);
          // column j of F is an affine map of Hadamard column 1 + j, column j of G of column 1 + d1 + j
          const affine = (col: number) => {
            const [a, b] = [r.uniform(0.5, 3), r.uniform(-5, 5)];
            return H.map((row) => a * row[col] + b);
          };
          const fcols = Array.from({ length: d1 }, (_, j) => affine(1 + j));
          const gcols = Array.from({ length: d2 }, (_, j) => affine(1 + d1 + j));
          const toRows = (cols: number[][]) => Float32Array.from({ length: rows * cols.length }, (_, i) => cols[i % cols.length][Math.floor(i / cols.length)]);
          const F = rt.arena.f32From(toRows(fcols)),
            G = rt.arena.f32From(toRows(gcols));
          const ghat = rt.arena.f32(rows * d2);
          rt.kernels.standardize(ghat, rt.arena.f32(d2), G, rows, d2);
          const c = rt.arena.f32(d1 * d2),
            fhat = rt.arena.f32(rows * d1),
            invstd = rt.arena.f32(d1);
          const loss = rt.kernels.crossCorrelation(c, fhat, invstd, F, ghat, rows, d1, d2);
          const df = rt.arena.f32From(new Float32Array(rows * d1).fill(1));
          rt.kernels.crossCorrelationBackward(df, c, fhat, invstd, ghat, rows, d1, d2, 1, rt.arena.f32(rows * d1));
          const maxC = Math.max(...rt.arena.read(c).map(Math.abs));
          console.log(`[${build}] Hadamard rows=${rows} d1=${d1} d2=${d2}: loss ${loss}, max |C| ${maxC}`);
          expect(Math.abs(loss)).toBeLessThan(1e-10);
          expect(maxC).toBeLessThan(1e-10);
          expect(rt.arena.read(df).every((v) => Math.abs(v - 1) < 1e-10), 'the gradient of a zero loss').toBe(true);

          // the same construction with G = F: C is (nearly) the identity, the loss ≈ 1/d1
          const fhat2 = rt.arena.f32(rows * d1);
          rt.kernels.standardize(fhat2, rt.arena.f32(d1), F, rows, d1);
          const same = rt.kernels.crossCorrelation(rt.arena.f32(d1 * d1), rt.arena.f32(rows * d1), rt.arena.f32(d1), F, fhat2, rows, d1, d1);
          expect(Math.abs(same - 1 / d1), `loss of F against itself ${same}`).toBeLessThan(1e-3);
        }
      });
    });
  });
}
