/** Float64 twins of bias and activations (assembly/activations.ts); conventions in ./index.ts. */
import type { Vec } from './math.js';
import { uniform24 } from './rng.js';

/** out (rows,cols) = x (rows,cols) + bias (cols) on every row. */
export function biasAdd(x: Vec, bias: Vec, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + j] + bias[j];
  return out;
}

/** dbias (cols) = column sums of dout (rows,cols); (dx is dout itself). */
export function biasAddBackward(dout: Vec, rows: number, cols: number): Float64Array {
  const dbias = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) dbias[j] += dout[r * cols + j];
  return dbias;
}

/** out (n) = max(x, 0). */
export function relu(x: Vec): Float64Array {
  return Float64Array.from(x, (v) => (v > 0 ? v : 0));
}

/** dx (n) = dout where x > 0, else 0. */
export function reluBackward(dout: Vec, x: Vec): Float64Array {
  return Float64Array.from(x, (v, i) => (v > 0 ? dout[i] : 0));
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/** out (n) = 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), the tanh approximation of GELU. */
export function gelu(x: Vec): Float64Array {
  return Float64Array.from(x, (v) => 0.5 * v * (1 + Math.tanh(GELU_C * (v + GELU_A * v * v * v))));
}

/** dx (n) = dout · gelu'(x). */
export function geluBackward(dout: Vec, x: Vec): Float64Array {
  return Float64Array.from(x, (v, i) => {
    const t = Math.tanh(GELU_C * (v + GELU_A * v * v * v));
    return dout[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * v * v));
  });
}

/** mask (n) = 1/(1−p) where the generator's next uniform u >= p, else 0 (advances `state` n times). */
export function dropoutMask(n: number, p: number, state: Uint32Array): Float64Array {
  const keep = p < 1 ? 1 / (1 - p) : 0;
  const mask = new Float64Array(n);
  for (let i = 0; i < n; i++) mask[i] = uniform24(state) >= p ? keep : 0;
  return mask;
}

/** out (n) = x (n) ⊙ mask (n). */
export function dropout(x: Vec, mask: Vec): Float64Array {
  return Float64Array.from(x, (v, i) => v * mask[i]);
}

/** dx (n) = dout ⊙ mask. */
export function dropoutBackward(dout: Vec, mask: Vec): Float64Array {
  return Float64Array.from(dout, (v, i) => v * mask[i]);
}
