// Kernel cases of divergences and entropy (assembly/divergence.ts, src/kernels/reference/divergence.ts); the table's conventions are in ./case.ts.
import * as R from '../../src/kernels/reference/index.js';
import { add, EPS32, fround, Rand, TINY, tolAcc, tolRel } from '../helpers.js';
import { put, read, f, kcase, type KernelCase } from './case.js';

function anchorProbs(r: Rand, rows: number, cols: number, oneHot: boolean): Float32Array {
  const pa = fround(R.softmax(r.f32(rows * cols, -3, 3), rows, cols));
  if (oneHot) for (let row = 0; row < rows; row += 3) for (let j = 0; j < cols; j++) pa[row * cols + j] = j === row % cols ? 1 : 0;
  return pa;
}

export function divergenceCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  const eps = 1e-7,
    feps = f(eps);
  const shapes: [number, number, number, boolean][] = [
    [1, 1, 1, false],
    [0, 4, 1, false],
    [6, 10, 1, false],
    [9, 7, 2, true],
    [5, 33, 0.7, false],
    [3, 1001, 3, true],
  ];
  for (const [rows, cols, T, oneHot] of shapes) {
    const invT = f(1 / T);
    const pa = anchorProbs(r, rows, cols, oneHot),
      zm = r.f32(rows * cols, -3, 3),
      d0 = r.f32(rows * cols),
      scale = f(r.uniform(0.2, 2));
    const pm = fround(R.softmax(zm, rows, cols, invT));
    const label = `rows=${rows} cols=${cols} T=${T}${oneHot ? ' one-hot anchor rows' : ''}`;
    const clog = (p: number) => Math.abs(Math.log(Math.max(p, feps)));
    out.push(
      kcase({
        group: 'jsDivergence',
        kernels: ['js_divergence_forward'],
        label,
        run(rt) {
          const p = rt.arena.f32(rows * cols);
          const loss = rt.kernels.jsDivergence(p, put(rt, pa), put(rt, zm), rows, cols, { temperature: T, eps });
          return { loss, pm: read(rt, p) };
        },
        expect() {
          const ref = R.jsDivergence(pa, zm, rows, cols, invT, feps);
          // The kernel evaluates the loss on pm rounded to f32; bound that by the sizes of its terms.
          let mag = 0;
          for (let i = 0; i < rows * cols; i++) mag += pa[i] * clog(pa[i]) + ref.pm[i] * clog(ref.pm[i]) + (pa[i] + ref.pm[i]) * clog(0.5 * (pa[i] + ref.pm[i]));
          return { loss: { ref: ref.loss, tol: 4 * EPS32 * (Math.abs(ref.loss) + mag / Math.max(rows, 1)) + TINY }, pm: { ref: ref.pm, tol: tolRel(ref.pm, 2) } };
        },
      }),
      kcase({
        group: 'jsDivergenceBackward',
        kernels: ['js_divergence_backward'],
        label: `${label} scale=${scale.toFixed(3)}`,
        backward: true,
        run(rt) {
          const d = put(rt, d0);
          rt.kernels.jsDivergenceBackward(d, put(rt, pa), put(rt, pm), rows, cols, { temperature: T, eps, scale });
          return { dzm: read(rt, d) };
        },
        expect() {
          const ref = add(d0, R.jsDivergenceBackward(pa, pm, rows, cols, invT, feps, scale));
          return { dzm: { ref, tol: tolAcc(ref, d0, 2, 1e-6) } };
        },
      }),
      kcase({
        group: 'klDivergence',
        kernels: ['kl_divergence_forward'],
        label,
        run(rt) {
          const p = rt.arena.f32(rows * cols);
          const loss = rt.kernels.klDivergence(p, put(rt, pa), put(rt, zm), rows, cols, { temperature: T, eps });
          return { loss, pm: read(rt, p) };
        },
        expect() {
          const ref = R.klDivergence(pa, zm, rows, cols, invT, feps);
          let mag = 0;
          for (let i = 0; i < rows * cols; i++) mag += pa[i] * (clog(pa[i]) + clog(ref.pm[i]));
          return { loss: { ref: ref.loss, tol: 4 * EPS32 * (Math.abs(ref.loss) + mag / Math.max(rows, 1)) + TINY }, pm: { ref: ref.pm, tol: tolRel(ref.pm, 2) } };
        },
      }),
      kcase({
        group: 'klDivergenceBackward',
        kernels: ['kl_divergence_backward'],
        label: `${label} scale=${scale.toFixed(3)}`,
        backward: true,
        run(rt) {
          const d = put(rt, d0);
          rt.kernels.klDivergenceBackward(d, put(rt, pa), put(rt, pm), rows, cols, { temperature: T, scale });
          return { dzm: read(rt, d) };
        },
        expect() {
          const ref = add(d0, R.klDivergenceBackward(pa, pm, rows, cols, invT, scale));
          return { dzm: { ref, tol: tolAcc(ref, d0, 2, 1e-6) } };
        },
      }),
      kcase({
        group: 'entropy',
        kernels: ['entropy'],
        label,
        run: (rt) => ({ entropy: rt.kernels.entropy(put(rt, pa), rows, cols, eps) }),
        expect() {
          const ref = R.entropy(pa, rows, cols, feps);
          let mag = 0;
          for (let i = 0; i < rows * cols; i++) mag += pa[i] * clog(pa[i]);
          return { entropy: { ref, tol: 2 * EPS32 * (Math.abs(ref) + mag / Math.max(rows, 1)) + TINY } };
        },
      }),
    );
  }
  return out;
}
