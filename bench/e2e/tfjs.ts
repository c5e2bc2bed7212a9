/**
 * The tfjs peer of the end-to-end benchmark: @tensorflow/tfjs layers models with the same layers as
 * udi-wasm's, on tfjs-backend-wasm (SIMD binary only) or the tfjs cpu backend; one step with
 * optimizer.minimize (autograd) on the same batches; the validation of udi-wasm's first step against
 * it; the CNN peers; and the joint model trained with model.fit.
 */
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import type { Dataset } from '../../src/data/dataset.js';
import type { EncoderConfig } from '../../src/nn/encoders.js';
import { batchOrder, type UdiStep } from '../steps.js';
import { median, now } from '../harness.js';
import { BATCH, CPU_CNN_STEPS, type Ctx, harness, MiB, opts, type Row, rows, RUN_ENCODERS, SEED, type Validation } from './context.js';
import type { Group } from './groups.js';

/** What initTfjsWasm started (versions, backend, SIMD, threads), for the metadata. */
export let tfjsMeta: Record<string, unknown> = {};
export async function initTfjsWasm(): Promise<void> {
  // Only the SIMD binary gets a real path, so a silent fall-back to another binary fails to load.
  const dist = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
  const missing = join(dist, 'not-the-simd-build.wasm');
  tfwasm.setWasmPaths({ 'tfjs-backend-wasm.wasm': missing, 'tfjs-backend-wasm-simd.wasm': join(dist, 'tfjs-backend-wasm-simd.wasm'), 'tfjs-backend-wasm-threaded-simd.wasm': missing });
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
  await tf.ready();
  tfjsMeta = { version: tf.version.tfjs, wasmVersion: tfwasm.version_wasm, backend: tf.getBackend(), simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'), multithread: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'), threads: tfwasm.getThreadsCount() };
}

export async function useBackend(name: 'wasm' | 'cpu'): Promise<void> {
  if (tf.getBackend() === name) return;
  // The cpu backend prints an advert for tfjs-node on first use; keep the output readable.
  const warn = console.warn;
  console.warn = () => {};
  try {
    if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend("${name}") returned false`);
    await tf.ready();
    tf.tensor([0]).dispose(); // the first write prints it
  } finally {
    console.warn = warn;
  }
}

/** tfjs model with the same layers as a udi-wasm encoder + head (or the plain MLP). */
export function tfModel(dim: number, enc: EncoderConfig | { type: 'plain-mlp'; hidden: number }, classes: number): tf.Sequential {
  const L = tf.layers;
  const layers: tf.layers.Layer[] = [];
  if (enc.type === 'plain-mlp') {
    layers.push(L.dense({ inputShape: [dim], units: enc.hidden, activation: 'relu' }));
  } else if (enc.type === 'mlp') {
    enc.hidden.forEach((h, i) => layers.push(L.dense({ ...(i === 0 ? { inputShape: [dim] } : {}), units: h, activation: 'relu' })));
  } else {
    enc.channels.forEach((ch, i) => {
      layers.push(L.conv2d({ ...(i === 0 ? { inputShape: enc.input } : {}), filters: ch, kernelSize: enc.kernel ?? 3, padding: 'same', activation: 'relu' }));
      layers.push(L.maxPooling2d({ poolSize: 2 }));
    });
    layers.push(L.flatten(), L.dense({ units: enc.dense, activation: 'relu' }));
  }
  layers.push(L.dense({ units: classes }));
  return tf.sequential({ layers });
}

/** Give a tfjs model udi-wasm's weights (the same tensors in the same order and layout). */
export function setTfWeights(model: tf.LayersModel, ws: Float32Array[]): void {
  const cur = model.getWeights();
  if (cur.length !== ws.length) throw new Error(`tfjs model has ${cur.length} weight tensors, udi-wasm ${ws.length}`);
  const next = cur.map((w, i) => {
    if (w.size !== ws[i].length) throw new Error(`weight ${i}: tfjs ${w.shape.join('x')} vs udi-wasm ${ws[i].length} values`);
    return tf.tensor(ws[i], w.shape);
  });
  model.setWeights(next);
  next.forEach((t) => t.dispose());
}
const tfWeights = (model: tf.LayersModel) => model.getWeights().map((w) => w.dataSync() as Float32Array);

interface TfBatches {
  x: Float32Array[];
  y: Float32Array[];
}
/** The same batches as udi-wasm's (batchOrder with the same seed), gathered once into contiguous arrays. */
export function tfBatches(ds: Dataset, modality: string, seed: number): TfBatches {
  const m = ds.modalities[modality];
  const out: TfBatches = { x: [], y: [] };
  for (const idx of batchOrder(ds.size, BATCH, seed)) {
    const x = new Float32Array(BATCH * m.dim);
    const y = new Float32Array(BATCH * ds.classes);
    idx.forEach((r, i) => {
      x.set(m.data.subarray(r * m.dim, (r + 1) * m.dim), i * m.dim);
      y[i * ds.classes + ds.labels[r]] = 1;
    });
    out.x.push(x);
    out.y.push(y);
  }
  return out;
}

/** One tfjs step: input tensors from the next batch, optimizer.minimize with autograd, loss read back. */
export function tfStep(model: tf.LayersModel, opt: tf.Optimizer, b: TfBatches, inShape: number[], classes: number): { step: () => number; dispose: () => void } {
  let k = 0;
  return {
    step() {
      const i = k++ % b.x.length;
      const loss = tf.tidy(() => {
        const x = tf.tensor(b.x[i], [BATCH, ...inShape]);
        const y = tf.tensor2d(b.y[i], [BATCH, classes]);
        return opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
      });
      const v = loss.dataSync()[0];
      loss.dispose();
      return v;
    },
    dispose() {
      opt.dispose();
      model.dispose();
    },
  };
}

export function validate(udi: UdiStep, peer: { step: () => number }, model: tf.LayersModel, tolerance: number): Validation {
  setTfWeights(model, udi.weights());
  const lossPeer = peer.step();
  const lossUdi = udi.step();
  const a = udi.weights(),
    b = tfWeights(model);
  let diff = 0,
    mx = 0;
  a.forEach((w, i) => {
    for (let j = 0; j < w.length; j++) {
      diff = Math.max(diff, Math.abs(w[j] - b[i][j]));
      mx = Math.max(mx, Math.abs(w[j]));
    }
  });
  const ok = Math.abs(lossUdi - lossPeer) <= 1e-4 * Math.max(1, Math.abs(lossUdi)) && diff <= tolerance;
  return { lossUdi, lossPeer, maxAbsWeightDiff: diff, maxAbsWeight: mx, tolerance, ok };
}

/** The CNN on tfjs: the wasm backend's failure as a row, then a few steps on the cpu backend. */
export async function cnnPeers(ctx: Ctx, g: Group): Promise<void> {
  const tr = ctx.split.train;
  const enc = g.tf!.enc;
  {
    const row: Row = { name: g.name, impl: 'tfjs-wasm', threads: 1, batch: BATCH, status: 'ok' };
    rows.push(row);
    await useBackend('wasm');
    const st = tfStep(tfModel(784, enc, tr.classes), g.tf!.opt(), tfBatches(tr, g.modality, SEED), g.tf!.inShape, tr.classes);
    try {
      row.msPerStep = median(Array.from({ length: 2 }, () => {
        const t = now();
        st.step();
        return now() - t;
      }));
    } catch (e) {
      row.status = 'error';
      row.error = (e as Error).message;
      row.msPerStep = null;
    }
    st.dispose();
  }
  const row: Row = { name: g.name, impl: 'tfjs-cpu', threads: 1, batch: BATCH, status: 'ok' };
  rows.push(row);
  if (opts['no-tfjs-cpu']) {
    row.status = 'skipped';
    return;
  }
  await useBackend('cpu');
  const model = tfModel(784, enc, tr.classes);
  const st = tfStep(model, g.tf!.opt(), tfBatches(tr, g.modality, SEED), g.tf!.inShape, tr.classes);
  try {
    const ref = (g.makeRef ?? g.make)(ctx.rts[0]);
    harness.meter.start();
    let t = now();
    row.validation = validate(ref, st, model, g.tf!.tolerance);
    const first = now() - t;
    const per: number[] = [];
    for (let i = 0; i < CPU_CNN_STEPS; i++) {
      t = now();
      st.step();
      per.push(now() - t);
    }
    Object.assign(row, { msPerStep: median(per), samplesPerSec: (BATCH * 1000) / median(per), minMs: Math.min(...per), maxMs: Math.max(...per), stepsPerBatch: 1, runs: per.length, otherCpu: harness.meter.stop(), note: `first step (with validation) ${first.toFixed(0)} ms; ${per.length} timed steps` });
  } catch (e) {
    row.status = 'error';
    row.error = (e as Error).message;
  }
  st.dispose();
  await useBackend('wasm');
}

/** The joint model in tfjs layers on tfjs-wasm: two MLP encoders, concatenated features, one linear head. */
export async function tfjsJointRun(ctx: Ctx, epochs: number): Promise<Row> {
  await useBackend('wasm');
  const { train: tr, val, test } = ctx.split;
  const L = tf.layers;
  const inputs = ['audio', 'image'].map((m) => tf.input({ shape: [tr.modalities[m].dim], name: m }));
  const feats = inputs.map((x, i) => {
    let h: tf.SymbolicTensor = x;
    for (const units of (RUN_ENCODERS[['audio', 'image'][i]] as { hidden: number[] }).hidden) h = L.dense({ units, activation: 'relu' }).apply(h) as tf.SymbolicTensor;
    return h;
  });
  const logits = L.dense({ units: tr.classes }).apply(L.concatenate().apply(feats) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const model = tf.model({ inputs, outputs: logits });
  model.compile({ optimizer: tf.train.adam(1e-3, 0.9, 0.999, 1e-8), loss: (yt: tf.Tensor, yp: tf.Tensor) => tf.losses.softmaxCrossEntropy(yt, yp) });
  const X = (ds: Dataset) => ['audio', 'image'].map((m) => tf.tensor2d(ds.modalities[m].data, [ds.size, ds.modalities[m].dim]));
  const Y = (ds: Dataset) => tf.oneHot(tf.tensor1d(ds.labels, 'int32'), ds.classes);
  const [xt, yt, xv, yv] = [X(tr), Y(tr), X(val), Y(val)];
  harness.meter.start();
  const t0 = now();
  await model.fit(xt, yt, { batchSize: BATCH, epochs, shuffle: true, validationData: [xv, yv], verbose: 0 });
  const wall = now() - t0;
  const other = harness.meter.stop();
  const xs = X(test);
  const pred = model.predict(xs) as tf.Tensor;
  const arg = pred.argMax(-1).dataSync();
  let correct = 0;
  for (let i = 0; i < test.size; i++) if (arg[i] === test.labels[i]) correct++;
  const wasmHeap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.byteLength;
  tf.dispose([...xt, yt, ...xv, yv, ...xs, pred]);
  model.dispose();
  const steps = epochs * Math.ceil(tr.size / BATCH);
  return {
    name: 'run:joint',
    impl: 'tfjs-wasm',
    threads: 1,
    samplesPerSec: (steps * BATCH * 1000) / wall,
    msPerStep: wall / steps,
    steps,
    epochs,
    wallMs: wall,
    batch: BATCH,
    testAcc: correct / test.size,
    otherCpu: other,
    status: 'ok',
    note: `model.fit, Adam 1e-3 (no weight decay, clipping or early stopping), per-epoch validation loss; tfjs-wasm heap ${wasmHeap ? MiB(wasmHeap).toFixed(1) + ' MiB' : '?'}`,
  };
}
