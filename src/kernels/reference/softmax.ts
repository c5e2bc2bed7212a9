/** Float64 twins of softmax and cross-entropy (assembly/softmax.ts); conventions in ./index.ts. */
import { logSumExpShifted, rowMax, type Vec } from './math.js';

/** out (rows,cols) = softmax along cols of x·invT (x is (rows,cols)). */
export function softmax(x: Vec, rows: number, cols: number, invT = 1): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity;
    for (let j = 0; j < cols; j++) mx = Math.max(mx, x[r * cols + j] * invT);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[r * cols + j] * invT - mx);
    for (let j = 0; j < cols; j++) out[r * cols + j] = Math.exp(x[r * cols + j] * invT - mx) / s;
  }
  return out;
}

/** dx (rows,cols) = y ⊙ (dy − Σ_j dy·y) per row; y = softmax(x) (invT 1). */
export function softmaxBackward(dy: Vec, y: Vec, rows: number, cols: number): Float64Array {
  const dx = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += dy[r * cols + j] * y[r * cols + j];
    for (let j = 0; j < cols; j++) dx[r * cols + j] = y[r * cols + j] * (dy[r * cols + j] - s);
  }
  return dx;
}

/** out (rows,cols) = x − log Σ_j exp(x) per row, computed as (x − max) − log Σ_j exp(x − max). */
export function logSoftmax(x: Vec, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const mx = rowMax(x, r * cols, cols),
      ls = logSumExpShifted(x, r * cols, cols, mx);
    for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + j] - mx - ls;
  }
  return out;
}

/** dx (rows,cols) = dy − exp(y)·Σ_j dy per row; y = logSoftmax(x). */
export function logSoftmaxBackward(dy: Vec, y: Vec, rows: number, cols: number): Float64Array {
  const dx = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += dy[r * cols + j];
    for (let j = 0; j < cols; j++) dx[r * cols + j] = dy[r * cols + j] - Math.exp(y[r * cols + j]) * s;
  }
  return dx;
}

/** probs (rows,cols) = softmax(logits); loss = mean over rows of −log probs[label]; labels (rows) in [0, cols). */
export function softmaxCrossEntropy(logits: Vec, labels: Vec, rows: number, cols: number): { loss: number; probs: Float64Array } {
  const probs = softmax(logits, rows, cols);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const mx = rowMax(logits, r * cols, cols);
    total += logSumExpShifted(logits, r * cols, cols, mx) - (logits[r * cols + labels[r]] - mx);
  }
  return { loss: rows > 0 ? total / rows : 0, probs };
}

/** dlogits (rows,cols) = scale · (probs − onehot(labels)) / rows. */
export function softmaxCrossEntropyBackward(probs: Vec, labels: Vec, rows: number, cols: number, scale = 1): Float64Array {
  const d = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) d[r * cols + j] = (scale * (probs[r * cols + j] - (j === labels[r] ? 1 : 0))) / rows;
  return d;
}
