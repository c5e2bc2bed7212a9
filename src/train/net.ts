/**
 * The multimodal network every method trains: one encoder and one linear head per modality
 * (parameter groups `enc:<m>` and `head:<m>`), plus a joint linear head over the concatenated
 * features (group `head:joint`) for the joint-family baselines. All methods share this layout, so
 * their costs and results are comparable by construction.
 */
import type { MatmulOptions } from '../kernels/ops.js';
import type { F32, I32 } from '../runtime/arena.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Dataset } from '../data/dataset.js';
import { buildEncoder, type EncoderConfig } from '../nn/encoders.js';
import { Dense, Dropout, prefix, type Sequential } from '../nn/layers.js';
import { type Param, ParamStore, slice } from '../nn/params.js';
import { TrainingError } from './trainer.js';

/** Datasets up to this size (all modalities a network has loaded, together) are kept in WebAssembly memory. */
const RESIDENT_MAX_BYTES = 128 * 2 ** 20;

/** Rows of an inference batch of a network of MLP encoders, at most, and the bytes its forward buffers may take. */
const INFER_ROWS = 256;
const INFER_BYTES = 4 * 2 ** 20;

/**
 * Rows of the network's inference batches (infer: validation, predict): for MLP encoders up to
 * INFER_ROWS while the forward buffers stay within INFER_BYTES, else the training batch. Every row
 * is computed alone, so the bits do not depend on the batch; larger batches split better over
 * threads (README, Performance). Convolutional encoders keep the training batch: their forward
 * buffers take tens of KB a row.
 */
export function inferRows(specs: readonly ModalitySpec[], classes: number, maxBatch: number): number {
  if (!specs.every((s) => s.encoder.type === 'mlp')) return maxBatch;
  // Floats per row: the input, each hidden layer's two outputs (dense, activation), the head's
  // logits, probabilities and scratch; the joint head's three and the shared head's output; the
  // row's label and index.
  const hidden = (s: ModalitySpec) => (s.encoder.type === 'mlp' && Array.isArray(s.encoder.hidden) ? s.encoder.hidden.reduce((a, h) => a + h, 0) : 0);
  const perRow = specs.reduce((t, s) => t + s.dim + 2 * hidden(s) + 3 * classes, 0) + 4 * classes + 2;
  return Math.max(maxBatch, Math.min(INFER_ROWS, Math.floor(INFER_BYTES / (4 * perRow))));
}

export interface ModalitySpec {
  name: string;
  dim: number;
  encoder: EncoderConfig;
}

/** Per-modality working buffers for one batch. */
export interface Branch {
  readonly name: string;
  readonly encoder: Sequential;
  readonly head: Dense;
  readonly featureDim: number;
  readonly input: F32;
  readonly probs: F32;
  readonly dlogits: F32;
  readonly dfeat: F32;
  feat: F32 | null;
  logits: F32 | null;
}

/** See MultimodalNet.ceBackward. */
export interface CeBackwardOptions {
  /** Weight of the cross-entropy gradient; default 1, 0 leaves it out (then only `add`). */
  scale?: number;
  /** Add further gradients with respect to the logits (e.g. a divergence's) before the head's backward. */
  add?: (dlogits: F32) => void;
  /** Through the branch's own head (default) or the shared classifier. */
  head?: 'own' | 'shared';
}

export class MultimodalNet {
  readonly store: ParamStore;
  readonly branches: Branch[];
  readonly labels: I32;
  readonly classes: number;
  /** Rows of a training batch, at most. */
  readonly maxBatch: number;
  /** Rows of an inference batch (>= maxBatch): what the forward buffers hold (see inferRows). */
  readonly maxRows: number;
  readonly jointW: Param;
  readonly jointB: Param;
  readonly jointDim: number;
  /** Joint-head logits, probabilities and their gradient, (maxRows, classes). */
  readonly jointLogits: F32;
  readonly jointProbs: F32;
  readonly jointDlogits: F32;
  /** One classifier shared by every modality (DI-MML), present when all feature dimensions are equal. */
  readonly shared: Dense | null;
  /** Per branch: its rows of the joint head's W and of W's gradient, and the forward matmul's options (made once, so a step allocates none). */
  private readonly jointParts: { W: F32; gW: F32; mm: MatmulOptions }[];
  /** Batch row indices (maxRows i32) for the gather kernel: the rows of the dataset last loaded. */
  private readonly rows: I32;
  private readonly residents = new WeakMap<Float32Array, F32 | null>();
  private residentBytes = 0;

  constructor(
    readonly rt: Runtime,
    readonly specs: ModalitySpec[],
    classes: number,
    maxBatch: number,
    readonly seed: number,
    /** Rows of an inference batch (>= maxBatch); default: the inferRows rule. */
    maxRows = inferRows(specs, classes, maxBatch),
  ) {
    const names = new Set<string>();
    for (const s of specs) {
      if (names.has(s.name)) throw new TrainingError('DUPLICATE_MODALITY', `modality "${s.name}" is listed twice`);
      names.add(s.name);
    }
    this.classes = classes;
    this.maxBatch = maxBatch;
    if (!(Number.isInteger(maxRows) && maxRows >= maxBatch)) throw new RangeError(`MultimodalNet: maxRows must be a whole number >= maxBatch (${maxBatch}), got ${maxRows}`);
    const R = (this.maxRows = maxRows);
    const bufRows = { batch: maxBatch, forward: R };
    this.store = new ParamStore(rt);
    const a = rt.arena;
    let stream = 100;
    const ctx = { rt, store: this.store, rows: bufRows, seed, nextStream: () => stream++ };
    this.branches = specs.map((s) => {
      const encoder = buildEncoder(ctx, `enc:${s.name}`, s.dim, s.encoder);
      const head = new Dense(rt, this.store, `head:${s.name}`, 'fc', encoder.outFeatures, classes, bufRows, 'xavier');
      return {
        name: s.name,
        encoder,
        head,
        featureDim: encoder.outFeatures,
        input: a.f32(R * s.dim),
        probs: a.f32(R * classes),
        dlogits: a.f32(R * classes), // also inference's scratch (infer, temperature)
        dfeat: a.f32(maxBatch * encoder.outFeatures),
        feat: null,
        logits: null,
      };
    });
    this.jointDim = this.branches.reduce((s, b) => s + b.featureDim, 0);
    this.jointW = this.store.add('head:joint', 'fc.weight', [this.jointDim, classes], 'xavier', this.jointDim, classes);
    this.jointB = this.store.add('head:joint', 'fc.bias', [classes], 'zeros', this.jointDim, classes);
    const dims = new Set(this.branches.map((b) => b.featureDim));
    this.shared = dims.size === 1 ? new Dense(rt, this.store, 'head:shared', 'fc', this.branches[0].featureDim, classes, bufRows, 'xavier') : null;
    this.jointLogits = a.f32(R * classes);
    this.jointProbs = a.f32(R * classes);
    this.jointDlogits = a.f32(R * classes); // also inference's scratch (infer, block logits)
    this.labels = a.i32(R);
    this.rows = a.i32(R);
    this.store.allocate(seed);
    let row = 0; // the branch's first row of W
    this.jointParts = this.branches.map((b, i) => {
      const off = row * classes,
        len = b.featureDim * classes;
      row += b.featureDim;
      const bias = i === 0 ? this.store.paramOf(this.jointB) : undefined;
      return { W: slice(this.store.paramOf(this.jointW), off, len), gW: slice(this.store.gradOf(this.jointW), off, len), mm: { m: maxBatch, n: classes, k: b.featureDim, bias, accumulate: i > 0 } };
    });
  }

  /** Generator states owned by the network (its dropout layers), in a fixed order. */
  get rngStates(): I32[] {
    return this.branches.flatMap((b) => b.encoder.layers.filter((l): l is Dropout => l instanceof Dropout).map((l) => l.rng));
  }

  branch(name: string): Branch {
    for (let i = 0; i < this.branches.length; i++) if (this.branches[i].name === name) return this.branches[i];
    throw new TrainingError('UNKNOWN_MODALITY', `no modality "${name}" in the model (have ${this.branches.map((x) => x.name).join(', ')})`);
  }

  /** Parameter groups of a modality's encoder and head. */
  static groups(name: string): string[] {
    return [`enc:${name}`, `head:${name}`];
  }

  /**
   * Copy rows `idx` of the dataset into the batch buffers (only the modalities given). Training
   * gathers them from a resident copy of the data, made on first use; `resident: false` (inference,
   * which reads each row once) copies them straight from JavaScript unless a resident copy exists:
   * a copy costs a first touch of fresh WebAssembly memory, a page fault per 4 KiB (on a 2-core
   * AMD EPYC VM about 4 ms per MiB on 1 thread: more than the copy saves over one pass).
   */
  load(ds: Dataset, idx: ArrayLike<number>, modalities: readonly string[], resident = true): number {
    const n = idx.length;
    if (n > this.maxRows) throw new Error(`internal: batch of ${n} rows is larger than the model's ${this.maxRows}`);
    const arena = this.rt.arena;
    const heap = arena.heapI32,
      lab = this.labels.ptr >> 2,
      iv = this.rows.ptr >> 2;
    for (let i = 0; i < n; i++) {
      heap[lab + i] = ds.labels[idx[i]];
      heap[iv + i] = idx[i];
    }
    for (const name of modalities) {
      const m = ds.modalities[name];
      const b = this.branch(name);
      if (m.dim * this.maxRows !== b.input.length) throw new TrainingError('BAD_SHAPE', `modality "${name}" has ${m.dim} features but the model expects ${b.input.length / this.maxRows}`);
      const res = resident ? this.resident(m.data) : (this.residents.get(m.data) ?? null);
      if (res) this.rt.kernels.gatherRows(prefix(b.input, n * m.dim), res, this.batchRows(n), n, m.dim);
      else {
        // A run of consecutive rows (inference reads them in order) is one copy.
        const view = arena.viewF32(b.input);
        for (let i = 0, j = 1; i < n; i = j++) {
          while (j < n && idx[j] === idx[j - 1] + 1) j++;
          view.set(m.data.subarray(idx[i] * m.dim, (idx[j - 1] + 1) * m.dim), i * m.dim);
        }
      }
    }
    return n;
  }

  /**
   * A copy of a modality's data in WebAssembly memory, made once, so batches are gathered there with
   * no per-step JavaScript allocation; null for data above RESIDENT_MAX_BYTES (copied from JavaScript then, a run of consecutive rows at a time).
   */
  private resident(data: Float32Array): F32 | null {
    let r = this.residents.get(data);
    if (r === undefined) {
      r = data.byteLength <= RESIDENT_MAX_BYTES && this.residentBytes + data.byteLength <= RESIDENT_MAX_BYTES ? this.rt.arena.f32(data.length) : null;
      if (r) {
        // Zero-fill first, split over the threads: the first touch of fresh WebAssembly memory costs a
        // page fault per 4 KiB (33 ms per 10 MB on a 2-core AMD EPYC VM), taken on both cores at once
        // (20 ms). The copy itself then takes 0.6 ms.
        this.rt.kernels.fill(r, 0);
        this.rt.arena.viewF32(r).set(data);
        this.residentBytes += data.byteLength;
      }
      this.residents.set(data, r);
    }
    return r;
  }

  batchLabels(n: number): I32 {
    return prefix(this.labels, n);
  }

  /** The dataset rows of the batch last loaded (n i32), for gathering per-row targets with K.gatherRows. */
  batchRows(n: number): I32 {
    return prefix(this.rows, n);
  }

  /**
   * Encoder + head forward for one modality; returns the branch with its features and logits (views
   * of layer buffers). head 'shared' uses the shared classifier (valid until the next shared forward).
   */
  forward(name: string, n: number, train: boolean, head: 'own' | 'shared' = 'own'): Branch {
    const b = this.branch(name);
    b.feat = b.encoder.forward(prefix(b.input, n * b.encoder.inFeatures), n, train);
    b.logits = head === 'shared' ? this.sharedHead().forward(b.feat, n) : b.head.forward(b.feat, n);
    return b;
  }

  /** Cross-entropy of a branch's own head; fills probs. Returns the mean loss. */
  headLoss(b: Branch, n: number): number {
    return this.rt.kernels.softmaxCrossEntropy(prefix(b.probs, n * this.classes), b.logits!, this.batchLabels(n), n, this.classes);
  }

  /** Cross-entropy of the joint head over the branches' current features; fills jointProbs. Returns the mean loss. */
  jointLoss(n: number): number {
    const z = this.jointForward(n);
    return this.rt.kernels.softmaxCrossEntropy(prefix(this.jointProbs, n * this.classes), z, this.batchLabels(n), n, this.classes);
  }

  /**
   * The cross-entropy backward, from the probabilities headLoss (or jointLoss) left:
   *   dlogits = scale · (p − onehot(y)) / n  [+ add(dlogits)]      (n × C; scale 0 leaves CE out)
   * then back through the head, whose weight and bias gradients accumulate. On a branch it returns
   * ∂/∂f (n × featureDim: the head's input-gradient buffer, valid until that head's next backward),
   * through its own head or the shared classifier (head 'shared', after a shared forward). On
   * 'joint' it goes through the joint head and writes ∂/∂f_m into every branch's dfeat.
   */
  ceBackward(b: Branch, n: number, o?: CeBackwardOptions): F32;
  ceBackward(target: 'joint', n: number): void;
  ceBackward(target: Branch | 'joint', n: number, o: CeBackwardOptions = {}): F32 | void {
    const K = this.rt.kernels;
    const C = this.classes;
    if (target === 'joint') {
      const dz = prefix(this.jointDlogits, n * C);
      K.fill(dz, 0);
      K.softmaxCrossEntropyBackward(dz, prefix(this.jointProbs, n * C), this.batchLabels(n), n, C);
      return this.jointBackward(n, dz);
    }
    const dz = prefix(target.dlogits, n * C);
    K.fill(dz, 0);
    const scale = o.scale ?? 1;
    if (scale !== 0) K.softmaxCrossEntropyBackward(dz, prefix(target.probs, n * C), this.batchLabels(n), n, C, scale);
    o.add?.(dz);
    if (o.head === 'shared') return this.sharedHead().backward(dz, n, true)!;
    return this.headBackward(target, n, dz);
  }

  private sharedHead(): Dense {
    if (!this.shared) throw new TrainingError('SHARED_HEAD_DIMS', `a shared classifier needs every modality's feature dimension to be equal (${this.branches.map((x) => `${x.name}: ${x.featureDim}`).join(', ')})`);
    return this.shared;
  }

  /** Backward through a branch's head (dlogits -> dfeat, head grads). dfeat is overwritten. */
  headBackward(b: Branch, n: number, dlogits: F32): F32 {
    return b.head.backward(dlogits, n, true)!;
  }

  /** Backward through a branch's encoder from dfeat (encoder grads accumulate). */
  encoderBackward(b: Branch, n: number, dfeat: F32): void {
    b.encoder.backward(dfeat, n, false);
  }

  /** Joint logits z = b + Σ_m f_m W_m over the given branches' current features (rows of W per modality). */
  jointForward(n: number): F32 {
    const K = this.rt.kernels;
    const z = prefix(this.jointLogits, n * this.classes);
    for (let i = 0; i < this.branches.length; i++) {
      const p = this.jointParts[i];
      p.mm.m = n;
      K.matmul(z, this.branches[i].feat!, p.W, p.mm);
    }
    return z;
  }

  /** Backward of the joint head: grads of W, b, and df_m written into each branch's dfeat (overwritten). */
  jointBackward(n: number, dz: F32): void {
    const K = this.rt.kernels;
    K.biasAddBackward(this.store.gradOf(this.jointB), dz, n, this.classes);
    for (let i = 0; i < this.branches.length; i++) {
      const b = this.branches[i],
        p = this.jointParts[i];
      K.linearBackward(prefix(b.dfeat, n * b.featureDim), p.gW, null, dz, b.feat!, p.W, n, b.featureDim, this.classes);
    }
  }

  /** In-model logits of modality i under the joint head: f_i W_i + b / M, written into out (n, classes). */
  jointBlockLogits(i: number, n: number, out: F32): void {
    const b = this.branches[i];
    const K = this.rt.kernels;
    K.matmul(out, b.feat!, this.jointParts[i].W, { m: n, n: this.classes, k: b.featureDim });
    this.rt.kernels.biasAddScaled(out, this.store.paramOf(this.jointB), n, this.classes, this.branches.length);
  }
}
