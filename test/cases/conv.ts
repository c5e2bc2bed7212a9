// Kernel cases of convolution and pooling (assembly/conv.ts, src/kernels/reference/conv.ts); the table's conventions are in ./case.ts.
import type { ConvShape, PoolShape } from '../../src/engine.js';
import * as R from '../../src/kernels/reference/index.js';
import { abs, add, EPS32, Rand } from '../helpers.js';
import { put, read, kcase, exact, tolDot, type KernelCase } from './case.js';

const convShapes: ConvShape[] = [
  { batch: 2, h: 5, w: 6, c: 3, outChannels: 4, kh: 3, kw: 3, stride: 1, pad: 1 },
  { batch: 1, h: 7, w: 5, c: 2, outChannels: 5, kh: 2, kw: 3, stride: 2, pad: 0 },
  { batch: 3, h: 4, w: 4, c: 1, outChannels: 1, kh: 1, kw: 1 },
  { batch: 2, h: 9, w: 9, c: 5, outChannels: 9, kh: 5, kw: 5, stride: 3, pad: 2 },
  { batch: 1, h: 1, w: 1, c: 1, outChannels: 1, kh: 1, kw: 1 },
  { batch: 0, h: 4, w: 4, c: 2, outChannels: 3, kh: 3, kw: 3, pad: 1 },
  { batch: 2, h: 12, w: 10, c: 3, outChannels: 8, kh: 3, kw: 3, stride: 1, pad: 0 },
];

export function convGeometry(s: ConvShape): { ho: number; wo: number; rows: number; kk: number } {
  const stride = s.stride ?? 1,
    pad = s.pad ?? 0;
  const ho = Math.floor((s.h + 2 * pad - s.kh) / stride) + 1,
    wo = Math.floor((s.w + 2 * pad - s.kw) / stride) + 1;
  return { ho, wo, rows: s.batch * ho * wo, kk: s.kh * s.kw * s.c };
}

const shapeLabel = (s: object) =>
  Object.entries(s)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

export function convCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  convShapes.forEach((s, si) => {
    const { rows, kk } = convGeometry(s);
    const oc = s.outChannels;
    const x = r.f32(s.batch * s.h * s.w * s.c),
      w = r.f32(kk * oc),
      bias = si % 2 === 0 ? r.f32(oc) : null;
    const dout = r.f32(rows * oc),
      dx0 = r.f32(x.length),
      dw0 = r.f32(w.length),
      db0 = r.f32(oc);
    const withDx = si !== 2;
    out.push(
      kcase({
        group: 'conv2d (im2col, matmul nn)',
        kernels: ['im2col', 'matmul_nn'],
        label: `${shapeLabel(s)}${bias ? ' +bias' : ''}`,
        run(rt) {
          const o = rt.arena.f32(rows * oc),
            col = rt.arena.f32(rows * kk);
          rt.kernels.conv2d(o, put(rt, x), put(rt, w), bias ? put(rt, bias) : null, col, s);
          return { out: read(rt, o), col: read(rt, col) };
        },
        expect: () => ({
          out: { ref: R.conv2d(x, w, bias, s), tol: tolDot(R.conv2d(abs(x), abs(w), bias && abs(bias), s), kk) },
          col: exact(R.im2col(x, s)),
        }),
      }),
      kcase({
        group: 'conv2dBackward (matmul tn, matmul nt, col2im)',
        kernels: ['im2col', 'matmul_tn', 'matmul_nt', 'col2im', 'bias_add_backward'],
        label: `${shapeLabel(s)}${withDx ? '' : ' (no dx)'}`,
        backward: true,
        run(rt) {
          const K = rt.kernels;
          const xb = put(rt, x),
            wb = put(rt, w);
          const col = rt.arena.f32(rows * kk),
            dcol = rt.arena.f32(rows * kk);
          K.conv2d(rt.arena.f32(rows * oc), xb, wb, null, col, s); // fills col
          const dx = put(rt, dx0),
            dw = put(rt, dw0),
            db = put(rt, db0);
          K.conv2dBackward(withDx ? dx : null, dw, db, put(rt, dout), col, wb, dcol, s);
          return { dx: read(rt, dx), dw: read(rt, dw), dbias: read(rt, db) };
        },
        expect() {
          const g = R.conv2dBackward(dout, x, w, s);
          const mag = R.conv2dBackward(abs(dout), abs(x), abs(w), s);
          return {
            dx: withDx ? { ref: add(dx0, g.dx), tol: tolDot(add(abs(dx0), mag.dx), oc + s.kh * s.kw) } : exact(dx0),
            dw: { ref: add(dw0, g.dw), tol: tolDot(add(abs(dw0), mag.dw), rows) },
            dbias: { ref: add(db0, g.dbias), tol: tolDot(add(abs(db0), mag.dbias), rows) },
          };
        },
      }),
    );
  });

  const poolShapes: PoolShape[] = [
    { batch: 2, h: 6, w: 6, c: 3, k: 2 },
    { batch: 1, h: 7, w: 5, c: 2, k: 3, stride: 2 },
    { batch: 1, h: 5, w: 5, c: 4, k: 2, stride: 1 },
    { batch: 3, h: 9, w: 8, c: 5, k: 3 },
    { batch: 0, h: 4, w: 4, c: 2, k: 2 },
    { batch: 1, h: 1, w: 1, c: 1, k: 1 },
  ];
  for (const s of poolShapes) {
    const stride = s.stride ?? s.k;
    const ho = Math.floor((s.h - s.k) / stride) + 1,
      wo = Math.floor((s.w - s.k) / stride) + 1;
    const n = s.batch * ho * wo * s.c;
    // values on a grid of 1/4, so windows often hold ties: the first maximum in (ky, kx) order must win
    const x = Float32Array.from({ length: s.batch * s.h * s.w * s.c }, () => r.int(-4, 4) / 4);
    const dout = r.f32(n),
      dx0 = r.f32(x.length);
    out.push(
      kcase({
        group: 'maxPool',
        kernels: ['max_pool_forward'],
        label: shapeLabel(s),
        run(rt) {
          const o = rt.arena.f32(n),
            am = rt.arena.i32(n);
          rt.kernels.maxPool(o, am, put(rt, x), s);
          return { out: read(rt, o), argmax: rt.arena.viewI32(am).slice() };
        },
        expect() {
          const ref = R.maxPool(x, s);
          return { out: exact(ref.out), argmax: exact(ref.argmax) };
        },
      }),
      kcase({
        group: 'maxPoolBackward',
        kernels: ['max_pool_forward', 'max_pool_backward'],
        label: shapeLabel(s),
        backward: true,
        run(rt) {
          const am = rt.arena.i32(n),
            dx = put(rt, dx0);
          rt.kernels.maxPool(rt.arena.f32(n), am, put(rt, x), s);
          rt.kernels.maxPoolBackward(dx, put(rt, dout), am);
          return { dx: read(rt, dx) };
        },
        expect() {
          const ref = add(dx0, R.maxPoolBackward(dout, x, s));
          const mag = add(abs(dx0), R.maxPoolBackward(abs(dout), x, s));
          return { dx: { ref, tol: Float64Array.from(mag, (v) => 2 * (s.k * s.k + 1) * EPS32 * v) } };
        },
      }),
    );
  }
  return out;
}
