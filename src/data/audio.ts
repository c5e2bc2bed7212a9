/**
 * Audio features computed in WebAssembly: log-mel spectrogram brought to a fixed frame count by
 * resampling the time axis, so the whole utterance is kept whatever its length.
 *   power spectrogram (STFT, periodic Hann) -> mel filterbank (matmul) -> log -> linear resampling
 * Everything is deterministic: the filterbank uses only IEEE-exact arithmetic (detmath).
 */
import type { Runtime } from '../runtime/runtime.js';
import { Kernels } from '../kernels/ops.js';
import { dexp, dlog } from '../util/detmath.js';

export interface AudioFeatureConfig {
  /** FFT size (a power of two). */
  nfft: number;
  /** Samples between frames. */
  hop: number;
  /** Mel bands. */
  mels: number;
  /** Frames after resampling the time axis (the feature is mels × frames values, time-major). */
  frames: number;
  /** Floor inside the log. */
  eps: number;
}

export const DEFAULT_AUDIO: AudioFeatureConfig = { nfft: 256, hop: 80, mels: 40, frames: 32, eps: 1e-10 };

const LN10 = 2.302585092994046;
const hzToMel = (f: number) => (2595 * dlog(1 + f / 700)) / LN10;
const melToHz = (m: number) => 700 * (dexp((m / 2595) * LN10) - 1);

/** HTK-style triangular mel filterbank, (nfft/2 + 1) × mels, row-major (bins × mels), 0 Hz to Nyquist. */
export function melFilterbank(sampleRate: number, nfft: number, mels: number): Float32Array {
  const bins = nfft / 2 + 1;
  const fb = new Float32Array(bins * mels);
  const top = hzToMel(sampleRate / 2);
  const edges = Array.from({ length: mels + 2 }, (_, i) => melToHz((top * i) / (mels + 1)));
  for (let m = 0; m < mels; m++) {
    const [lo, mid, hi] = [edges[m], edges[m + 1], edges[m + 2]];
    for (let k = 0; k < bins; k++) {
      const f = (k * sampleRate) / nfft;
      let w = 0;
      if (f > lo && f <= mid) w = (f - lo) / (mid - lo);
      else if (f > mid && f < hi) w = (hi - f) / (hi - mid);
      fb[k * mels + m] = w;
    }
  }
  return fb;
}

/** Linear resampling of a (frames × mels) map along time to `target` frames. */
export function resampleFrames(x: Float32Array, frames: number, mels: number, target: number): Float32Array {
  const out = new Float32Array(target * mels);
  for (let t = 0; t < target; t++) {
    const pos = target === 1 || frames === 1 ? 0 : (t * (frames - 1)) / (target - 1);
    const i0 = Math.floor(pos),
      i1 = Math.min(frames - 1, i0 + 1),
      w = pos - i0;
    for (let m = 0; m < mels; m++) out[t * mels + m] = (1 - w) * x[i0 * mels + m] + w * x[i1 * mels + m];
  }
  return out;
}

/** Log-mel features of one clip: frames × mels values (time-major). */
export function logMel(rt: Runtime, samples: Float32Array, sampleRate: number, cfg: AudioFeatureConfig = DEFAULT_AUDIO, filterbank?: Float32Array): Float32Array {
  const { arena, kernels: K } = rt;
  const bins = cfg.nfft / 2 + 1;
  const fbData = filterbank ?? melFilterbank(sampleRate, cfg.nfft, cfg.mels);
  const mark = arena.mark();
  try {
    const frames = Kernels.stftFrames(samples.length, cfg.nfft, cfg.hop);
    const sig = arena.f32From(samples);
    const spec = arena.f32(frames * bins);
    K.stftPower(spec, sig, cfg.nfft, cfg.hop);
    const fb = arena.f32From(fbData);
    const mel = arena.f32(frames * cfg.mels);
    K.matmul(mel, spec, fb, { m: frames, n: cfg.mels, k: bins });
    K.logEps(mel, mel, cfg.eps);
    return resampleFrames(arena.read(mel), frames, cfg.mels, cfg.frames);
  } finally {
    arena.release(mark);
  }
}
