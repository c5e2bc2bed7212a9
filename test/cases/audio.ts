// Kernel cases of audio features (assembly/audio.ts, src/kernels/reference/audio.ts); the table's conventions are in ./case.ts.
import * as R from '../../src/kernels/reference/index.js';
import { EPS32, Rand, TINY } from '../helpers.js';
import { put, read, f, kcase, type KernelCase } from './case.js';

export function audioCases(r: Rand): KernelCase[] {
  const out: KernelCase[] = [];
  for (const [len, nfft, hop] of [
    [1, 2, 1],
    [16, 16, 4],
    [100, 32, 10],
    [700, 256, 80],
    [37, 64, 80],
  ]) {
    const signal = r.f32(len, -1, 1);
    out.push(
      kcase({
        group: 'stftPower',
        kernels: ['stft_power'],
        label: `len=${len} nfft=${nfft} hop=${hop}`,
        run(rt) {
          const frames = len <= nfft ? 1 : 1 + Math.ceil((len - nfft) / hop);
          const o = rt.arena.f32(frames * (nfft / 2 + 1));
          rt.kernels.stftPower(o, put(rt, signal), nfft, hop);
          return { out: read(rt, o) };
        },
        expect() {
          const { out: ref } = R.stftPower(signal, nfft, hop);
          // f64 inside the kernel, one f32 rounding at the end; near-zero bins get an absolute floor
          // proportional to the frame's energy (the FFT's and the direct DFT's own rounding).
          let energy = 0;
          for (const v of signal) energy += v * v;
          return { out: { ref, tol: Float64Array.from(ref, (v) => 2 * EPS32 * v + 1e-12 * nfft * energy + TINY) } };
        },
      }),
    );
  }
  for (const n of [0, 1, 5, 64]) {
    const x = Float32Array.from(r.f32(n, -1, 3), (v, i) => (i % 5 === 0 ? 0 : Math.abs(v) ** 3));
    const eps = 1e-6;
    out.push(
      kcase({
        group: 'logEps',
        kernels: ['log_eps'],
        label: `n=${n}`,
        run(rt) {
          const o = rt.arena.f32(n);
          rt.kernels.logEps(o, put(rt, x), eps);
          return { out: read(rt, o) };
        },
        expect() {
          const ref = R.logEps(x, f(eps));
          return { out: { ref, tol: Float64Array.from(ref, (v) => EPS32 * Math.abs(v) + TINY) } };
        },
      }),
    );
  }
  return out;
}
