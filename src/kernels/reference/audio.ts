/** Float64 twins of audio features (assembly/audio.ts); conventions in ./index.ts. */
import type { Vec } from './math.js';

/** out (frames, nfft/2+1) = |DFT(hann · frame_t)|² by the direct O(nfft²) DFT; frames zero-padded past the end. */
export function stftPower(signal: Vec, nfft: number, hop: number): { frames: number; out: Float64Array } {
  const len = signal.length;
  const frames = len <= nfft ? 1 : 1 + Math.ceil((len - nfft) / hop);
  const bins = nfft / 2 + 1;
  const out = new Float64Array(frames * bins);
  for (let t = 0; t < frames; t++) {
    const x = Array.from({ length: nfft }, (_, i) => {
      const s = t * hop + i;
      return (s < len ? signal[s] : 0) * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / nfft));
    });
    for (let k = 0; k < bins; k++) {
      let re = 0,
        im = 0;
      for (let i = 0; i < nfft; i++) {
        re += x[i] * Math.cos((2 * Math.PI * k * i) / nfft);
        im -= x[i] * Math.sin((2 * Math.PI * k * i) / nfft);
      }
      out[t * bins + k] = re * re + im * im;
    }
  }
  return { frames, out };
}

/** out = log(max(x, eps)). */
export function logEps(x: Vec, eps: number): Float64Array {
  return Float64Array.from(x, (v) => Math.log(v > eps ? v : eps));
}

/** out (n, dim) = rows idx[i] of src (rows, dim). */
