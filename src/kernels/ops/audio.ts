/**
 * Wrappers of audio features (assembly/audio.ts): shape checks, the aliasing contract, one export call each.
 * Composed into the one `Kernels` class by ../ops.ts; conventions there.
 */
import type { F32, I32 } from '../../runtime/arena.js';
import { ShapeError } from '../../errors.js';
import { KernelBase } from './base.js';

/** Frames of an STFT over `len` samples: the last frame is zero-padded so no sample is dropped. */
export function stftFrames(len: number, nfft: number, hop: number): number {
  return len <= nfft ? 1 : 1 + Math.ceil((len - nfft) / hop);
}

export class AudioOps extends KernelBase {

  /** out (frames, nfft/2+1) = power spectrogram of signal with a periodic Hann window. Aliasing: out must not overlap signal (later frames are read after earlier rows of out are stored). */
  stftPower(out: F32, signal: F32, nfft: number, hop: number): number {
    const op = 'stftPower';
    if (!(Number.isInteger(nfft) && nfft >= 2 && (nfft & (nfft - 1)) === 0 && nfft <= 65536)) throw new RangeError(`${op}: nfft must be a power of two from 2 to 65536, got ${nfft}`);
    if (!(Number.isInteger(hop) && hop >= 1)) throw new RangeError(`${op}: hop must be a whole number >= 1, got ${hop}`);
    if (signal.length < 1) throw new ShapeError(`${op}: the signal is empty`);
    const frames = stftFrames(signal.length, nfft, hop);
    const bins = nfft / 2 + 1;
    const o = this.buf(op, 'out', out, frames * bins, 'frames×(nfft/2+1)', frames, bins);
    const sp = this.buf(op, 'signal', signal, signal.length);
    this.apart(op, 'out', out, 'signal', signal);
    const mark = this.arena.mark();
    try {
      const scratch = this.arena.f32(8 * nfft);
      this.raw.stft_power(o, sp, signal.length, nfft, hop, frames, scratch.ptr);
    } finally {
      this.arena.release(mark);
    }
    return frames;
  }

  /** out = log(max(x, eps)). Aliasing: out may be x itself (element-wise). */
  logEps(out: F32, x: F32, eps = 1e-10): void {
    const n = this.same('logEps', 'out and x', out, x);
    if (!(eps > 0)) throw new RangeError(`logEps: eps must be > 0, got ${eps}`);
    const o = this.buf('logEps', 'out', out, n),
      i = this.buf('logEps', 'x', x, n);
    this.inPlace('logEps', 'out', out, 'x', x);
    this.raw.log_eps(o, i, n, eps);
  }
}
