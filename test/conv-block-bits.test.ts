// The fused convolution block (convReluPool and its backward) gives the same bits as the unfused
// layers it replaces: conv2d (im2col + matmul with bias) → relu → maxPool, and their backwards into
// zeroed buffers (maxPoolBackward → reluBackward → conv2dBackward), in the scalar and SIMD builds and
// on 2 threads, for a first layer (c = 1) and a later one (c = 8), with ties and non-positive windows.
import { describe, expect, it } from 'vitest';
import { createRuntime, Rng, type Runtime } from '../src/index.js';
import type { ConvShape } from '../src/engine.js';
import { firstBitDifference, scoped } from './helpers.js';

function compare(rt: Runtime, s: ConvShape, seed: number): string[] {
  const K = rt.kernels,
    A = rt.arena;
  const rng = new Rng(seed);
  // Values from a small grid: exact ties in pooling windows and exact zeros after ReLU are common.
  const draw = (n: number, scale: number) => A.f32From(Float32Array.from({ length: n }, () => (rng.below(9) - 4) * scale));
  const { batch, h, w, c, outChannels: o, kh } = s;
  const hq = h >> 1,
    wq = w >> 1,
    kk = kh * kh * c,
    rows = batch * h * w;
  const x = draw(batch * h * w * c, 0.25),
    wt = draw(kk * o, 0.125),
    bias = draw(o, 0.0625),
    dout = draw(batch * hq * wq * o, 0.5);
  // Unfused.
  const col = A.f32(rows * kk),
    conv = A.f32(rows * o),
    act = A.f32(rows * o),
    pooled = A.f32(batch * hq * wq * o),
    arg = A.i32(batch * hq * wq * o);
  K.conv2d(conv, x, wt, bias, col, s);
  K.relu(act, conv);
  K.maxPool(pooled, arg, act, { batch, h, w, c: o, k: 2 });
  const dact = A.f32(rows * o),
    dconv = A.f32(rows * o),
    dw1 = A.f32(kk * o),
    db1 = A.f32(o),
    dx1 = A.f32(batch * h * w * c),
    dcol = A.f32(rows * kk);
  // Backward buffers accumulate: start from zero (the arena reuses released memory).
  for (const z of [dact, dconv, dw1, db1, dx1, dcol]) K.fill(z, 0);
  K.maxPoolBackward(dact, dout, arg);
  K.reluBackward(dconv, dact, conv);
  K.conv2dBackward(dx1, dw1, db1, dconv, col, wt, dcol, s);
  // Fused.
  const out = A.f32(batch * hq * wq * o),
    code = A.i32(batch * hq * wq * o),
    dw2 = A.f32(kk * o),
    db2 = A.f32(o),
    dx2 = A.f32(batch * h * w * c);
  for (const z of [dw2, db2, dx2]) K.fill(z, 0);
  K.convReluPool(out, code, x, wt, bias, s);
  K.convReluPoolBackward(dx2, dw2, db2, dout, code, x, wt, s);
  const diffs: string[] = [];
  for (const [name, a, b] of [['out', pooled, out], ['dw', dw1, dw2], ['dbias', db1, db2], ['dx', dx1, dx2]] as const) {
    const i = firstBitDifference(A.read(a), A.read(b));
    if (i >= 0) diffs.push(`${name}[${i}]: unfused ${A.read(a)[i]}, fused ${A.read(b)[i]}`);
  }
  return diffs;
}

describe('the fused convolution block equals the unfused layers bit for bit', () => {
  const shapes: ConvShape[] = [
    { batch: 3, h: 12, w: 10, c: 1, outChannels: 8, kh: 3, kw: 3, pad: 1 },
    { batch: 2, h: 8, w: 6, c: 8, outChannels: 16, kh: 3, kw: 3, pad: 1 },
    { batch: 2, h: 7, w: 9, c: 3, outChannels: 4, kh: 5, kw: 5, pad: 2 },
  ];
  for (const [build, threads] of [['scalar', 1], ['simd', 1], ['simd-threads', 2]] as const) {
    it(`${build}, ${threads} thread(s)`, async () => {
      const rt = await createRuntime({ build, threads, adaptiveThreads: false });
      try {
        const diffs = shapes.flatMap((s, i) => scoped(rt, () => compare(rt, s, 10 + i)).map((d) => `${JSON.stringify(s)} ${d}`));
        expect(diffs).toEqual([]);
      } finally {
        rt.dispose();
      }
    });
  }
});
