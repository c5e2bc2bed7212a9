// Max-pooling ties: the first maximum in (ky, kx) order wins, in the scalar loop and the
// four-channel SIMD loop alike (values drawn from a tiny set, so ties are everywhere).
import { describe, expect, it } from 'vitest';
import { createRuntime, Rng } from '../src/index.js';
import * as R from '../src/kernels/reference/index.js';

describe('maxpool ties', () => {
  it.each(['scalar', 'simd'] as const)('%s build: argmax is the first maximum for every channel count', async (build) => {
    const rt = await createRuntime({ threads: 1, build });
    try {
      const rng = new Rng(4);
      for (const c of [1, 3, 4, 5, 8, 13]) {
        const s = { batch: 2, h: 6, w: 6, c, k: 2 };
        const x = Float32Array.from({ length: 2 * 6 * 6 * c }, () => rng.below(3));
        const n = 2 * 3 * 3 * c;
        const out = rt.arena.f32(n),
          arg = rt.arena.i32(n);
        rt.kernels.maxPool(out, arg, rt.arena.f32From(x), s);
        const got = rt.arena.viewI32(arg);
        // First maximum by brute force.
        for (let b = 0; b < 2; b++)
          for (let oy = 0; oy < 3; oy++)
            for (let ox = 0; ox < 3; ox++)
              for (let ch = 0; ch < c; ch++) {
                let best = -1,
                  bi = -1;
                for (let ky = 0; ky < 2; ky++)
                  for (let kx = 0; kx < 2; kx++) {
                    const i = ((b * 6 + oy * 2 + ky) * 6 + ox * 2 + kx) * c + ch;
                    if (bi < 0 || x[i] > best) (best = x[i]), (bi = i);
                  }
                expect(got[((b * 3 + oy) * 3 + ox) * c + ch]).toBe(bi);
              }
        expect(Array.from(rt.arena.viewF32(out))).toEqual(Array.from(R.maxPool(x, s).out));
      }
    } finally {
      rt.dispose();
    }
  });
});
