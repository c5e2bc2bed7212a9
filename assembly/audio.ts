// Audio features: the short-time Fourier transform as a power spectrogram, and log compression.
// Mel filtering is a matmul with a filterbank built on the TypeScript side.
//
// Aliasing: stft_power: out must not overlap signal (later frames are read after earlier rows of out
//   are stored) nor scratch.
//   log_eps: out may be x, the very same buffer (element-wise); no partial overlap.

import { cosd, logd } from './math';

const TWO_PI: f64 = 6.283185307179586;

/**
 * In-place radix-2 decimation-in-time FFT of n complex f64 points (n a power of two).
 * re, im: n f64 each; cs, sn: n/2 f64 twiddles cos(2πk/n), sin(2πk/n).
 */
// @ts-ignore: decorator
@inline function fft64(re: usize, im: usize, cs: usize, sn: usize, n: i32): void {
  // bit-reversal permutation
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const pi = <usize>i << 3, pj = <usize>j << 3;
      let t = load<f64>(re + pi); store<f64>(re + pi, load<f64>(re + pj)); store<f64>(re + pj, t);
      t = load<f64>(im + pi); store<f64>(im + pi, load<f64>(im + pj)); store<f64>(im + pj, t);
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const half = len >> 1;
    const step = n / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < half; k++) {
        const wr = load<f64>(cs + (<usize>(k * step) << 3));
        const wi = -load<f64>(sn + (<usize>(k * step) << 3)); // e^{-2πik/len}
        const a = <usize>(i + k) << 3, b = <usize>(i + k + half) << 3;
        const br = load<f64>(re + b), bi = load<f64>(im + b);
        const tr = br * wr - bi * wi, ti = br * wi + bi * wr;
        const ar = load<f64>(re + a), ai = load<f64>(im + a);
        store<f64>(re + a, ar + tr); store<f64>(im + a, ai + ti);
        store<f64>(re + b, ar - tr); store<f64>(im + b, ai - ti);
      }
    }
  }
}

/**
 * out (frames, nfft/2+1) = |FFT(hann · frame_t)|², frame_t = signal[t·hop, t·hop + nfft), zero past len.
 * signal is (len); nfft a power of two >= 2; scratch holds 8·nfft floats (f64 work space).
 * Periodic Hann window w[i] = 0.5 − 0.5·cos(2πi/nfft).
 */
export function stft_power(out: usize, signal: usize, len: i32, nfft: i32, hop: i32, frames: i32, scratch: usize): void {
  const re = scratch, im = scratch + (<usize>nfft << 3);
  const cs = im + (<usize>nfft << 3), sn = cs + (<usize>nfft << 2), win = sn + (<usize>nfft << 2);
  for (let k = 0; k < (nfft >> 1); k++) {
    const a = TWO_PI * <f64>k / <f64>nfft;
    store<f64>(cs + (<usize>k << 3), cosd(a));
    store<f64>(sn + (<usize>k << 3), cosd(a - TWO_PI / 4.0));
  }
  for (let i = 0; i < nfft; i++) store<f64>(win + (<usize>i << 3), 0.5 - 0.5 * cosd(TWO_PI * <f64>i / <f64>nfft));
  const bins = (nfft >> 1) + 1;
  for (let t = 0; t < frames; t++) {
    const start = t * hop;
    for (let i = 0; i < nfft; i++) {
      const s = start + i;
      const v = s < len ? <f64>load<f32>(signal + (<usize>s << 2)) : 0.0;
      store<f64>(re + (<usize>i << 3), v * load<f64>(win + (<usize>i << 3)));
      store<f64>(im + (<usize>i << 3), 0.0);
    }
    fft64(re, im, cs, sn, nfft);
    const row = out + (<usize>(t * bins) << 2);
    for (let k = 0; k < bins; k++) {
      const r = load<f64>(re + (<usize>k << 3)), m = load<f64>(im + (<usize>k << 3));
      store<f32>(row + (<usize>k << 2), <f32>(r * r + m * m));
    }
  }
}

/** out (n) = log(max(x, eps)). */
export function log_eps(out: usize, x: usize, n: i32, eps: f32): void {
  for (let i = 0; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    store<f32>(out + (<usize>i << 2), <f32>logd(<f64>(v > eps ? v : eps)));
  }
}
