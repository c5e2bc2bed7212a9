/**
 * One udi-wasm training step, built from the library's own pieces, for the end-to-end benchmark
 * (bench/e2e.ts) and the CPU-profile helper (bench/cpuprof.ts).
 *
 *   mlpStep      MLP 784-256-10 from ParamStore + Dense + Activation, softmax cross-entropy, SGD with
 *                momentum 0.9 (kernels.sgdStep) over the one flat parameter buffer.
 *   trainerStep  one modality's encoder + linear head in a MultimodalNet, exactly the per-batch body
 *                of runStage (src/train/trainer.ts) running the solo stage (src/train/methods.ts):
 *                net.load, zeroGrads, forward, cross-entropy, backward, global-norm clipping, AdamW.
 *
 * Both load their batch as the trainer does (net.load: row by row from the dataset's Float32Array
 * into WebAssembly memory), cycling over full batches of a seeded permutation of the training rows.
 */
import type { Runtime } from '../src/runtime/runtime.js';
import type { Dataset } from '../src/data/dataset.js';
import type { EncoderConfig } from '../src/nn/encoders.js';
import { Activation, Dense, prefix, Sequential } from '../src/nn/layers.js';
import { ParamStore } from '../src/nn/params.js';
import { MultimodalNet } from '../src/train/net.js';
import type { StageConfig } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';

/** Full batches of a seeded permutation of the rows (the last partial batch is dropped). */
export function batchOrder(size: number, batch: number, seed: number): Int32Array[] {
  const order = new Rng(seed, 1000).shuffle(Int32Array.from({ length: size }, (_, i) => i));
  const out: Int32Array[] = [];
  for (let s = 0; s + batch <= size; s += batch) out.push(order.subarray(s, s + batch));
  return out;
}

export interface UdiStep {
  readonly rt: Runtime;
  readonly store: ParamStore;
  /** Parameter groups updated by the step, in declaration order. */
  readonly groups: readonly string[];
  /** Copy the next batch into WebAssembly memory (what net.load does). */
  load(): void;
  /** Forward, backward and optimiser update on the loaded batch; returns the loss. */
  compute(): number;
  /** load() then compute(). */
  step(): number;
  /** The current values of the trained parameters, one array per tensor, in declaration order. */
  weights(): Float32Array[];
}

function weightsOf(rt: Runtime, store: ParamStore, groups: readonly string[]): Float32Array[] {
  return store.parameters.filter((p) => groups.includes(p.group)).map((p) => rt.arena.read(store.paramOf(p)));
}

/** MLP in → hidden → classes with ReLU, batch `batch`, SGD (lr, momentum 0.9), on modality `modality`. */
export function mlpStep(rt: Runtime, ds: Dataset, modality: string, o: { hidden: number; batch: number; lr: number; momentum: number; seed: number }): UdiStep {
  const K = rt.kernels;
  const arena = rt.arena;
  const m = ds.modalities[modality];
  const B = o.batch,
    C = ds.classes;
  const store = new ParamStore(rt);
  const net = new Sequential([new Dense(rt, store, 'mlp', 'fc1', m.dim, o.hidden, B), new Activation(rt, 'relu', o.hidden, B), new Dense(rt, store, 'mlp', 'fc2', o.hidden, C, B, 'xavier')]);
  store.allocate(o.seed);
  const x = arena.f32(B * m.dim),
    labels = arena.i32(B),
    rows = arena.i32(B),
    probs = arena.f32(B * C),
    dz = arena.f32(B * C);
  const resident = arena.f32From(m.data); // as MultimodalNet.load: the data lives in WebAssembly memory
  const batches = batchOrder(ds.size, B, o.seed);
  let k = 0;
  const sgd = { lr: o.lr, momentum: o.momentum };
  const self: UdiStep = {
    rt,
    store,
    groups: ['mlp'],
    load() {
      // As MultimodalNet.load: labels and row indices written, rows gathered in WebAssembly.
      const idx = batches[k++ % batches.length];
      const heap = arena.heapI32,
        lab = labels.ptr >> 2,
        iv = rows.ptr >> 2;
      for (let i = 0; i < B; i++) {
        heap[lab + i] = ds.labels[idx[i]];
        heap[iv + i] = idx[i];
      }
      K.gatherRows(x, resident, rows, B, m.dim);
    },
    compute() {
      store.zeroGrads();
      const z = net.forward(x, B, true);
      const loss = K.softmaxCrossEntropy(probs, z, labels, B, C);
      K.fill(dz, 0);
      K.softmaxCrossEntropyBackward(dz, probs, labels, B, C);
      net.backward(dz, B, false);
      K.sgdStep(store.params, store.grads, store.moments.m, sgd);
      return loss;
    },
    step() {
      self.load();
      return self.compute();
    },
    weights: () => weightsOf(rt, store, ['mlp']),
  };
  return self;
}

/**
 * One modality's encoder + head trained as the solo stage does, with the stage config's optimiser
 * (AdamW) and clipping. `net.maxBatch` = cfg.batchSize.
 */
export function trainerStep(rt: Runtime, ds: Dataset, modality: string, encoder: EncoderConfig, cfg: StageConfig, seed: number): UdiStep & { net: MultimodalNet } {
  const K = rt.kernels;
  const net = new MultimodalNet(rt, [{ name: modality, dim: ds.modalities[modality].dim, encoder }], ds.classes, cfg.batchSize, seed);
  const { store } = net;
  const C = net.classes;
  const trainable = MultimodalNet.groups(modality);
  const batches = batchOrder(ds.size, cfg.batchSize, seed);
  const o = cfg.optimizer;
  if (o.type !== 'adamw') throw new Error('trainerStep: the benchmark uses the default AdamW optimiser');
  let k = 0,
    steps = 0,
    n = 0;
  // As runStage: one options object for the stage, indexed loops (the step allocates nothing of its own).
  const adam = { lr: o.lr, step: 0, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay };
  const self = {
    rt,
    store,
    net,
    groups: trainable,
    load() {
      n = net.load(ds, batches[k++ % batches.length], [modality]);
    },
    compute() {
      // runStage's per-batch body with soloStage(m).step inlined.
      store.zeroGrads(trainable);
      const b = net.forward(modality, n, true);
      const loss = net.headLoss(b, n);
      const dz = prefix(b.dlogits, n * C);
      K.fill(dz, 0);
      K.softmaxCrossEntropyBackward(dz, prefix(b.probs, n * C), net.batchLabels(n), n, C);
      net.encoderBackward(b, n, net.headBackward(b, n, dz));
      if (!Number.isFinite(loss)) throw new Error(`trainerStep: loss ${loss} at step ${steps}`);
      if (cfg.clipNorm && cfg.clipNorm > 0) {
        let sq = 0;
        for (let i = 0; i < trainable.length; i++) sq += K.sumsq(store.groupGrads(trainable[i]));
        const norm = Math.sqrt(sq);
        if (norm > cfg.clipNorm) for (let i = 0; i < trainable.length; i++) K.scale(store.groupGrads(trainable[i]), cfg.clipNorm / norm);
      }
      adam.step = steps + 1;
      for (let i = 0; i < trainable.length; i++) {
        const g = trainable[i];
        const mv = store.groupMoments(g);
        K.adamwStep(store.groupParams(g), store.groupGrads(g), mv.m, mv.v, adam);
      }
      steps++;
      return loss;
    },
    step() {
      self.load();
      return self.compute();
    },
    weights: () => weightsOf(rt, store, trainable),
  };
  return self;
}
