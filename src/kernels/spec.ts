/**
 * The kernel interface: every export of the WebAssembly module, with its parameters in ABI order.
 * `ptr` is a byte offset of f32 data, `iptr` of i32 data, `i32` a size or flag, `f32` a scalar; results are f32, i32 or f64 (the f64 family).
 * This list and assembly/index.ts must match exactly; test/exports.test.ts checks the compiled
 * module against it.
 *
 * Names: an export is its wrapper's name in snake_case, `_forward`/`_backward` for a pair
 * (`softmaxCrossEntropy` → softmax_cross_entropy_forward) and plain for a single kernel (`dot`);
 * internal variants (matmul_nn/nt/tn, im2col, col2im) keep descriptive snake_case names.
 */
export type ArgKind = 'ptr' | 'iptr' | 'i32' | 'f32';
export interface KernelSpec {
  readonly args: readonly string[]; // "name:kind"
  readonly returns?: 'f32' | 'i32' | 'f64';
  /** Kernels that compute a range of their output (rows r0 r1; samples b0 b1; matmul: rows and columns r0 r1 c0 c1) may run on several threads. */
  readonly rows?: true;
}

const k = (args: string, returns?: 'f32' | 'i32' | 'f64', rows?: true): KernelSpec => ({ args: args.split(' ').filter(Boolean), returns, rows });

export const KERNELS = {
  matmul_scratch_floats: k('', 'i32'),
  matmul_nn: k('c:ptr a:ptr b:ptr bias:ptr m:i32 n:i32 k:i32 accumulate:i32 scratch:ptr r0:i32 r1:i32 c0:i32 c1:i32', undefined, true),
  matmul_nt: k('c:ptr a:ptr b:ptr bias:ptr m:i32 n:i32 k:i32 accumulate:i32 scratch:ptr r0:i32 r1:i32 c0:i32 c1:i32', undefined, true),
  matmul_tn: k('c:ptr a:ptr b:ptr bias:ptr m:i32 n:i32 k:i32 accumulate:i32 scratch:ptr r0:i32 r1:i32 c0:i32 c1:i32', undefined, true),
  bias_add_forward: k('out:ptr x:ptr bias:ptr rows:i32 cols:i32'),
  bias_add_backward: k('dbias:ptr dout:ptr rows:i32 cols:i32'),
  relu_forward: k('out:ptr x:ptr n:i32'),
  relu_backward: k('dx:ptr dout:ptr x:ptr n:i32'),
  gelu_forward: k('out:ptr x:ptr n:i32'),
  gelu_backward: k('dx:ptr dout:ptr x:ptr n:i32'),
  dropout_forward: k('out:ptr mask:ptr x:ptr n:i32 p:f32 state:iptr'),
  dropout_backward: k('dx:ptr dout:ptr mask:ptr n:i32'),
  softmax_forward: k('out:ptr x:ptr rows:i32 cols:i32'),
  softmax_backward: k('dx:ptr dy:ptr y:ptr rows:i32 cols:i32'),
  log_softmax_forward: k('out:ptr x:ptr rows:i32 cols:i32'),
  log_softmax_backward: k('dx:ptr dy:ptr y:ptr rows:i32 cols:i32'),
  softmax_cross_entropy_forward: k('probs:ptr logits:ptr labels:iptr rows:i32 cols:i32', 'f32'),
  softmax_cross_entropy_backward: k('dlogits:ptr probs:ptr labels:iptr rows:i32 cols:i32 scale:f32'),
  js_divergence_forward: k('pm:ptr pa:ptr zm:ptr rows:i32 cols:i32 invT:f32 eps:f32', 'f32'),
  js_divergence_backward: k('dzm:ptr pa:ptr pm:ptr rows:i32 cols:i32 invT:f32 eps:f32 scale:f32'),
  kl_divergence_forward: k('pm:ptr pa:ptr zm:ptr rows:i32 cols:i32 invT:f32 eps:f32', 'f32'),
  kl_divergence_backward: k('dzm:ptr pa:ptr pm:ptr rows:i32 cols:i32 invT:f32 scale:f32'),
  entropy: k('p:ptr rows:i32 cols:i32 eps:f32', 'f32'),
  standardize_forward: k('xhat:ptr invstd:ptr x:ptr rows:i32 cols:i32 eps:f32'),
  standardize_backward: k('dx:ptr dxhat:ptr xhat:ptr invstd:ptr rows:i32 cols:i32'),
  cross_correlation_forward: k('c:ptr fhat:ptr invstd:ptr f:ptr ghat:ptr rows:i32 d1:i32 d2:i32 eps:f32', 'f32'),
  cross_correlation_backward: k('df:ptr c:ptr fhat:ptr invstd:ptr ghat:ptr rows:i32 d1:i32 d2:i32 scale:f32 work:ptr'),
  im2col: k('col:ptr x:ptr batch:i32 h:i32 w:i32 c:i32 kh:i32 kw:i32 stride:i32 pad:i32 ho:i32 wo:i32 r0:i32 r1:i32', undefined, true),
  col2im: k('dx:ptr dcol:ptr batch:i32 h:i32 w:i32 c:i32 kh:i32 kw:i32 stride:i32 pad:i32 ho:i32 wo:i32 b0:i32 b1:i32', undefined, true),
  max_pool_forward: k('out:ptr argmax:iptr x:ptr batch:i32 h:i32 w:i32 c:i32 k:i32 stride:i32 ho:i32 wo:i32 b0:i32 b1:i32', undefined, true),
  max_pool_backward: k('dx:ptr dout:ptr argmax:iptr n:i32'),
  dot: k('x:ptr y:ptr n:i32', 'f32'),
  sumsq: k('x:ptr n:i32', 'f32'),
  axpy: k('y:ptr x:ptr n:i32 a:f32'),
  scale: k('x:ptr n:i32 a:f32'),
  fill: k('x:ptr n:i32 v:f32'),
  copy: k('dst:ptr src:ptr n:i32'),
  gather_rows: k('out:ptr src:ptr idx:iptr n:i32 dim:i32 r0:i32 r1:i32', undefined, true),
  sgd_step: k('p:ptr g:ptr v:ptr n:i32 lr:f32 momentum:f32 wd:f32 nesterov:i32'),
  adamw_step: k('p:ptr g:ptr m:ptr v:ptr n:i32 lr:f32 beta1:f32 beta2:f32 eps:f32 wd:f32 t:i32'),
  stft_power: k('out:ptr signal:ptr len:i32 nfft:i32 hop:i32 frames:i32 scratch:ptr'),
  log_eps: k('out:ptr x:ptr n:i32 eps:f32'),
  row_normalize_forward: k('h:ptr f:ptr n:i32 d:i32'),
  row_normalize_backward: k('df:ptr dh:ptr h:ptr f:ptr n:i32 d:i32'),
  sample_std: k('x:ptr n:i32', 'f64'),
  label_prob_sum: k('p:ptr labels:iptr rows:i32 cols:i32', 'f64'),
  bias_add_scaled: k('out:ptr bias:ptr rows:i32 cols:i32 divisor:i32'),
  rng: k('state:iptr seed:i32 stream:i32'),
  rng_next: k('state:iptr', 'i32'),
  uniform: k('out:ptr n:i32 state:iptr lo:f32 hi:f32'),
  normal: k('out:ptr n:i32 state:iptr mean:f32 std:f32'),
  permutation: k('out:iptr n:i32 state:iptr'),
} as const satisfies Record<string, KernelSpec>;

export type KernelName = keyof typeof KERNELS;
export const KERNEL_NAMES = Object.keys(KERNELS) as KernelName[];

/** The raw exports of an instantiated module, typed by name. */
export type RawKernels = { [K in KernelName]: (...args: number[]) => number | undefined };
