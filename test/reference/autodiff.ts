/**
 * A tiny float64 reverse-mode autodiff over 2-D arrays (micrograd with matrices), for the method
 * references of ./methods.ts. Written for these tests only; it shares no code with the engine.
 *
 *   const W = leaf(3, 2, data);  const y = relu(matmul(x, W));  const L = mean(y);
 *   backward(L);  W.g  // dL/dW
 *
 * Every value is (r, c) row-major. Binary element-wise ops broadcast an operand of 1 row and/or 1
 * column. Each op records its parents and a closure that accumulates into their `g` from its own
 * `g`; `backward` runs the closures in reverse topological order. Constants are leaves whose
 * gradients nobody reads.
 */

export class V {
  readonly g: Float64Array;
  constructor(
    readonly r: number,
    readonly c: number,
    readonly v: Float64Array,
    readonly parents: readonly V[] = [],
    readonly back?: () => void,
  ) {
    if (v.length !== r * c) throw new Error(`V: ${v.length} values for shape (${r}, ${c})`);
    this.g = new Float64Array(r * c);
  }
  get item(): number {
    if (this.v.length !== 1) throw new Error(`V.item: shape (${this.r}, ${this.c}) is not a scalar`);
    return this.v[0];
  }
}

/** A leaf (parameter or constant) of shape (r, c), holding a float64 copy of `data`. */
export function leaf(r: number, c: number, data: ArrayLike<number>): V {
  return new V(r, c, Float64Array.from(data));
}
export const scalar = (x: number): V => leaf(1, 1, [x]);

/** Run the backward pass from a scalar: every ancestor's g receives d(root)/d(it). Zeroes nothing: use fresh graphs. */
export function backward(root: V): void {
  if (root.v.length !== 1) throw new Error('backward: the root must be a scalar');
  const order: V[] = [];
  const seen = new Set<V>();
  const visit = (x: V) => {
    if (seen.has(x)) return;
    seen.add(x);
    for (const p of x.parents) visit(p);
    order.push(x);
  };
  visit(root);
  root.g[0] += 1;
  for (let i = order.length - 1; i >= 0; i--) order[i].back?.();
}

// ---- element-wise ---------------------------------------------------------------------------------

function bshape(a: V, b: V): [number, number] {
  const r = Math.max(a.r, b.r),
    c = Math.max(a.c, b.c);
  for (const x of [a, b]) if ((x.r !== r && x.r !== 1) || (x.c !== c && x.c !== 1)) throw new Error(`broadcast: (${a.r}, ${a.c}) with (${b.r}, ${b.c})`);
  return [r, c];
}
const at = (x: V, i: number, j: number) => (x.r === 1 ? 0 : i) * x.c + (x.c === 1 ? 0 : j);

/** out = f(a, b) element-wise with broadcasting; da = ∂f/∂a, db = ∂f/∂b at (x, y). */
function binary(a: V, b: V, f: (x: number, y: number) => number, da: (x: number, y: number) => number, db: (x: number, y: number) => number): V {
  const [r, c] = bshape(a, b);
  const v = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) v[i * c + j] = f(a.v[at(a, i, j)], b.v[at(b, i, j)]);
  const out: V = new V(r, c, v, [a, b], () => {
    for (let i = 0; i < r; i++)
      for (let j = 0; j < c; j++) {
        const g = out.g[i * c + j];
        if (g === 0) continue;
        const ia = at(a, i, j),
          ib = at(b, i, j);
        a.g[ia] += g * da(a.v[ia], b.v[ib]);
        b.g[ib] += g * db(a.v[ia], b.v[ib]);
      }
  });
  return out;
}
export const add = (a: V, b: V) =>
  binary(
    a,
    b,
    (x, y) => x + y,
    () => 1,
    () => 1,
  );
export const sub = (a: V, b: V) =>
  binary(
    a,
    b,
    (x, y) => x - y,
    () => 1,
    () => -1,
  );
export const mul = (a: V, b: V) =>
  binary(
    a,
    b,
    (x, y) => x * y,
    (_, y) => y,
    (x) => x,
  );
export const div = (a: V, b: V) =>
  binary(
    a,
    b,
    (x, y) => x / y,
    (_, y) => 1 / y,
    (x, y) => -x / (y * y),
  );

function unary(a: V, f: (x: number) => number, df: (x: number, y: number) => number): V {
  const v = a.v.map(f);
  const out: V = new V(a.r, a.c, v, [a], () => {
    for (let k = 0; k < v.length; k++) if (out.g[k] !== 0) a.g[k] += out.g[k] * df(a.v[k], v[k]);
  });
  return out;
}
export const scale = (a: V, k: number) =>
  unary(
    a,
    (x) => k * x,
    () => k,
  );
/** max(x, 0); derivative 0 at x <= 0. */
export const relu = (a: V) =>
  unary(
    a,
    (x) => (x > 0 ? x : 0),
    (x) => (x > 0 ? 1 : 0),
  );
export const exp = (a: V) =>
  unary(
    a,
    Math.exp,
    (_, y) => y,
  );
export const sqrt = (a: V) =>
  unary(
    a,
    Math.sqrt,
    (_, y) => 0.5 / y,
  );
export const square = (a: V) =>
  unary(
    a,
    (x) => x * x,
    (x) => 2 * x,
  );
/** log(max(x, eps)): the clamped log; its derivative is 0 where the clamp is active (as torch.clamp). */
export const clog = (a: V, eps = 0) =>
  unary(
    a,
    (x) => Math.log(x > eps ? x : eps),
    (x) => (x > eps ? 1 / x : 0),
  );

// ---- reductions and shapes ------------------------------------------------------------------------

/** Sum over rows: (r, c) -> (1, c). */
export function sumRows(a: V): V {
  const v = new Float64Array(a.c);
  for (let i = 0; i < a.r; i++) for (let j = 0; j < a.c; j++) v[j] += a.v[i * a.c + j];
  const out: V = new V(1, a.c, v, [a], () => {
    for (let i = 0; i < a.r; i++) for (let j = 0; j < a.c; j++) a.g[i * a.c + j] += out.g[j];
  });
  return out;
}
/** Sum over columns: (r, c) -> (r, 1). */
export function sumCols(a: V): V {
  const v = new Float64Array(a.r);
  for (let i = 0; i < a.r; i++) for (let j = 0; j < a.c; j++) v[i] += a.v[i * a.c + j];
  const out: V = new V(a.r, 1, v, [a], () => {
    for (let i = 0; i < a.r; i++) for (let j = 0; j < a.c; j++) a.g[i * a.c + j] += out.g[i];
  });
  return out;
}
export const sum = (a: V): V => sumCols(sumRows(a));
export const mean = (a: V): V => scale(sum(a), 1 / a.v.length);

export function transpose(a: V): V {
  const v = new Float64Array(a.v.length);
  for (let i = 0; i < a.r; i++) for (let j = 0; j < a.c; j++) v[j * a.r + i] = a.v[i * a.c + j];
  const out: V = new V(a.c, a.r, v, [a], () => {
    for (let i = 0; i < a.r; i++) for (let j = 0; j < a.c; j++) a.g[i * a.c + j] += out.g[j * a.r + i];
  });
  return out;
}

/** (n, k) · (k, m) -> (n, m). */
export function matmul(a: V, b: V): V {
  if (a.c !== b.r) throw new Error(`matmul: (${a.r}, ${a.c}) · (${b.r}, ${b.c})`);
  const n = a.r,
    k = a.c,
    m = b.c;
  const v = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a.v[i * k + t] * b.v[t * m + j];
      v[i * m + j] = s;
    }
  const out: V = new V(n, m, v, [a, b], () => {
    for (let i = 0; i < n; i++)
      for (let j = 0; j < m; j++) {
        const g = out.g[i * m + j];
        if (g === 0) continue;
        for (let t = 0; t < k; t++) {
          a.g[i * k + t] += g * b.v[t * m + j];
          b.g[t * m + j] += g * a.v[i * k + t];
        }
      }
  });
  return out;
}

/** Columns side by side: [(r, c1), (r, c2), ...] -> (r, c1 + c2 + ...). */
export function concatCols(xs: readonly V[]): V {
  const r = xs[0].r;
  const c = xs.reduce((s, x) => s + x.c, 0);
  for (const x of xs) if (x.r !== r) throw new Error('concatCols: row counts differ');
  const v = new Float64Array(r * c);
  const offs: number[] = [];
  let o = 0;
  for (const x of xs) {
    offs.push(o);
    for (let i = 0; i < r; i++) for (let j = 0; j < x.c; j++) v[i * c + o + j] = x.v[i * x.c + j];
    o += x.c;
  }
  const out: V = new V(r, c, v, xs, () => {
    xs.forEach((x, q) => {
      for (let i = 0; i < r; i++) for (let j = 0; j < x.c; j++) x.g[i * x.c + j] += out.g[i * c + offs[q] + j];
    });
  });
  return out;
}

/** Columns [from, from + count) of a. */
export function cols(a: V, from: number, count: number): V {
  const v = new Float64Array(a.r * count);
  for (let i = 0; i < a.r; i++) for (let j = 0; j < count; j++) v[i * count + j] = a.v[i * a.c + from + j];
  const out: V = new V(a.r, count, v, [a], () => {
    for (let i = 0; i < a.r; i++) for (let j = 0; j < count; j++) a.g[i * a.c + from + j] += out.g[i * count + j];
  });
  return out;
}

/** Rows [from, from + count) of a. */
export function rows(a: V, from: number, count: number): V {
  return transpose(cols(transpose(a), from, count));
}

/** The same values with no path back (stop-gradient). */
export const detach = (a: V): V => new V(a.r, a.c, a.v.slice());

/** Per-row maximum, as a constant (r, 1): shifting logits by it leaves softmax unchanged. */
export function rowMaxConst(a: V): V {
  const v = new Float64Array(a.r);
  for (let i = 0; i < a.r; i++) {
    let m = -Infinity;
    for (let j = 0; j < a.c; j++) m = Math.max(m, a.v[i * a.c + j]);
    v[i] = m;
  }
  return new V(a.r, 1, v);
}

/** Row-wise softmax. */
export function softmax(z: V): V {
  const e = exp(sub(z, rowMaxConst(z)));
  return div(e, sumCols(e));
}
/** Row-wise log-softmax. */
export function logSoftmax(z: V): V {
  const s = sub(z, rowMaxConst(z));
  return sub(s, clog(sumCols(exp(s))));
}

/** One-hot (n, classes) constant for labels. */
export function oneHot(labels: ArrayLike<number>, classes: number): V {
  const v = new Float64Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) v[i * classes + labels[i]] = 1;
  return new V(labels.length, classes, v);
}
