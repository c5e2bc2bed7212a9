// Kernel cases of bias and activations (assembly/activations.ts, src/kernels/reference/activations.ts); the table's conventions are in ./case.ts.
import * as R from '../../src/kernels/reference/index.js';
import { abs, add, Rand, tolAcc, tolRel } from '../helpers.js';
import { put, read, f, kcase, exact, tolDot, type KernelCase } from './case.js';

export function activationCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  for (const [rows, cols] of [
    [1, 1],
    [0, 5],
    [5, 0],
    [7, 13],
    [33, 129],
    [3, 1024],
  ]) {
    const x = r.f32(rows * cols, -3, 3),
      bias = r.f32(cols),
      dout = r.f32(rows * cols),
      db0 = r.f32(cols);
    out.push(
      kcase({
        group: 'biasAdd',
        kernels: ['bias_add_forward'],
        label: `rows=${rows} cols=${cols}`,
        run(rt) {
          const o = rt.arena.f32(rows * cols);
          rt.kernels.biasAdd(o, put(rt, x), put(rt, bias), rows, cols);
          return { out: read(rt, o) };
        },
        expect: () => ({ out: { ref: R.biasAdd(x, bias, rows, cols), tol: tolRel(R.biasAdd(abs(x), abs(bias), rows, cols), 1) } }),
      }),
      kcase({
        group: 'biasAddBackward',
        kernels: ['bias_add_backward'],
        label: `rows=${rows} cols=${cols}`,
        backward: true,
        run(rt) {
          const d = put(rt, db0);
          rt.kernels.biasAddBackward(d, put(rt, dout), rows, cols);
          return { dbias: read(rt, d) };
        },
        expect: () => ({ dbias: { ref: add(db0, R.biasAddBackward(dout, rows, cols)), tol: tolDot(add(abs(db0), R.biasAddBackward(abs(dout), rows, cols)), rows) } }),
      }),
    );
  }

  for (const n of [0, 1, 3, 4, 7, 8, 13, 1001]) {
    const x = r.f32(n, -4, 4);
    // exact zeros of both signs, and a few large values
    for (let i = 0; i < n; i += 5) x[i] = i % 2 ? -0 : 0;
    for (let i = 3; i < n; i += 97) x[i] = r.pick([-30, 25, -1e4, 3e4]);
    const dout = r.f32(n),
      dx0 = r.f32(n);
    const unary = (name: 'relu' | 'gelu', ref: (x: Float32Array) => Float64Array, refB: (d: Float32Array, x: Float32Array) => Float64Array, fTol: number): KernelCase[] => [
      kcase({
        group: name,
        kernels: [`${name}_forward`],
        label: `n=${n}`,
        run(rt) {
          const o = rt.arena.f32(n);
          rt.kernels[name](o, put(rt, x));
          return { out: read(rt, o) };
        },
        expect: () => ({ out: { ref: ref(x), tol: name === 'relu' ? 0 : tolRel(ref(x), fTol) } }),
      }),
      kcase({
        group: `${name}Backward`,
        kernels: [`${name}_backward`],
        label: `n=${n}`,
        backward: true,
        run(rt) {
          const d = put(rt, dx0);
          (name === 'relu' ? rt.kernels.reluBackward : rt.kernels.geluBackward).call(rt.kernels, d, put(rt, dout), put(rt, x));
          return { dx: read(rt, d) };
        },
        expect: () => {
          const ref = add(dx0, refB(dout, x));
          return { dx: { ref, tol: tolAcc(ref, dx0, 2) } };
        },
      }),
    ];
    out.push(...unary('relu', R.relu, R.reluBackward, 0), ...unary('gelu', R.gelu, R.geluBackward, 2));
  }

  let stream = 0;
  for (const n of [0, 1, 5, 1000]) {
    for (const p of [0, 0.25, 0.5, 0.9]) {
      const x = r.f32(n, -2, 2),
        seed = r.int(0, 1e6),
        s = stream++;
      out.push(
        kcase({
          group: 'dropout',
          kernels: ['dropout_forward', 'rng'],
          label: `n=${n} p=${p}`,
          run(rt) {
            const o = rt.arena.f32(n),
              mask = rt.arena.f32(n),
              state = rt.kernels.rng(seed, s);
            rt.kernels.dropout(o, mask, put(rt, x), p, state);
            return { out: read(rt, o), mask: read(rt, mask), state: rt.arena.viewI32(state).slice() };
          },
          expect() {
            const state = R.rng(seed, s);
            const mask = R.dropoutMask(n, f(p), state);
            const o = R.dropout(x, mask);
            return { out: { ref: o, tol: tolRel(o, 4) }, mask: { ref: mask, tol: tolRel(mask, 2) }, state: exact(new Int32Array(state.buffer)) };
          },
        }),
      );
    }
  }
  for (const n of [0, 1, 7, 1000]) {
    const dout = r.f32(n),
      dx0 = r.f32(n),
      mask = Float32Array.from({ length: n }, () => (r.next() < 0.3 ? 0 : f(1 / f(1 - f(0.3)))));
    out.push(
      kcase({
        group: 'dropoutBackward',
        kernels: ['dropout_backward'],
        label: `n=${n}`,
        backward: true,
        run(rt) {
          const d = put(rt, dx0);
          rt.kernels.dropoutBackward(d, put(rt, dout), put(rt, mask));
          return { dx: read(rt, d) };
        },
        expect() {
          const ref = add(dx0, R.dropoutBackward(dout, mask));
          return { dx: { ref, tol: tolAcc(ref, dx0, 2) } };
        },
      }),
    );
  }
  return out;
}
