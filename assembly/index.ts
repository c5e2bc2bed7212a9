// The udi-wasm compute core. Numbers-only ABI: pointers are byte offsets (usize), sizes are i32,
// scalars are f32. Kernels never allocate and hold no static data: TypeScript lays out memory.
// The list below must match src/kernels/spec.ts exactly (a test checks it).

export { matmul_scratch_floats, matmul_nn, matmul_nt, matmul_tn } from './matmul';
export { bias_add_forward, bias_add_backward, relu_forward, relu_backward, gelu_forward, gelu_backward, dropout_forward, dropout_backward } from './activations';
export { softmax_forward, softmax_backward, log_softmax_forward, log_softmax_backward, softmax_xent_forward, softmax_xent_backward } from './softmax';
export { js_forward, js_backward, kl_forward, kl_backward, entropy } from './divergence';
export { standardize_forward, standardize_backward, xcorr_forward, xcorr_backward } from './xcorr';
export { im2col, col2im, maxpool_forward, maxpool_backward } from './conv';
export { dot, sumsq, axpy, scale, fill, copy, gather_rows } from './vector';
export { sgd_step, adamw_step } from './optim';
export { rng_seed, rng_next, rng_uniform, rng_normal, rng_permutation } from './rng';
export { stft_power, log_eps } from './audio';
