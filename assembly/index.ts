// The udi-wasm compute core. Numbers-only ABI: pointers are byte offsets (usize), sizes are i32,
// scalars are f32. Kernels never allocate and hold no static data: TypeScript lays out memory.
// The list below must match src/kernels/spec.ts exactly (a test checks it).
//
// Names: the TypeScript wrapper's name (src/kernels/ops/) is the canonical name of a kernel; its
// export here is that name in snake_case, with _forward/_backward for a forward/backward pair
// (jsDivergence/jsDivergenceBackward: js_divergence_forward/js_divergence_backward) and plain for a
// single kernel (dot, fill, gather_rows); its float64 twin (src/kernels/reference/) and its case
// group (test/cases/) carry the wrapper's name. Internal variants and helpers (matmul_nn/nt/tn,
// im2col/col2im, matmul_scratch_floats) keep descriptive snake_case names. Each line is one family:
// assembly/<family>.ts, src/kernels/reference/<family>.ts, src/kernels/ops/<family>.ts, test/cases/<family>.ts.

export { matmul_scratch_floats, matmul_nn, matmul_nt, matmul_tn } from './matmul';
export { bias_add_forward, bias_add_backward, relu_forward, relu_backward, gelu_forward, gelu_backward, dropout_forward, dropout_backward } from './activations';
export { softmax_forward, softmax_backward, log_softmax_forward, log_softmax_backward, softmax_cross_entropy_forward, softmax_cross_entropy_backward } from './softmax';
export { js_divergence_forward, js_divergence_backward, kl_divergence_forward, kl_divergence_backward, entropy } from './divergence';
export { standardize_forward, standardize_backward, cross_correlation_forward, cross_correlation_backward } from './xcorr';
export { im2col, col2im, max_pool_forward, max_pool_backward } from './conv';
export { dot, sumsq, axpy, scale, fill, copy, gather_rows } from './vector';
export { sgd_step, adamw_step } from './optim';
export { rng, rng_next, uniform, normal, permutation } from './rng';
export { stft_power, log_eps } from './audio';
export { row_normalize_forward, row_normalize_backward, sample_std, label_prob_sum, bias_add_scaled } from './f64';
