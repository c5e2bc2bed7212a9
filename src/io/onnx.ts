/**
 * ONNX export of a trained model (https://onnx.ai, opset 13, IR version 7): the whole prediction
 * path, from raw inputs to fused class probabilities, as one graph any ONNX runtime can run.
 *
 *   inputs      one per modality the prediction uses, named by the modality: float32 [N, dim], raw
 *               features (the same rows `predict` takes before standardisation);
 *   preprocess  (x − mean) / std with the training statistics, when the model (or the caller) has them;
 *   encoders    MLP: Gemm + activation per hidden layer. CNN: the row read as NHWC (Reshape), moved to
 *               NCHW (Transpose), per block Conv(k×k, stride 1, pads ⌊k/2⌋) + activation +
 *               MaxPool(2×2, stride 2, floor), back to NHWC and flattened (as the engine flattens),
 *               then Gemm + activation. ReLU is Relu; GELU is its tanh form, as the engine computes it,
 *               0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). Dropout is the identity at inference;
 *   heads       Gemm + Softmax per modality;
 *   fusion      the model's: 'mean' (Σ p_m / M), 'validation' (Σ w_m p_m / Σ w), 'calibrated' (mean of
 *               softmax(log max(p_m, 1e-30) / T_m), T_m = 1 leaves p_m as it is), 'entropy' (per row,
 *               weights softmax over modalities of −H(p_m)), 'head' and 'joint' (Gemm of the joint head
 *               on the concatenated features, then Softmax); a unimodal model outputs its one modality;
 *   outputs     `probs` float32 [N, classes]; with `perModality`, `probs_<modality>` (each fused
 *               modality's own head, before fusion; late fusion only).
 *
 * Weights keep their checkpoint names (`enc.audio.fc0.weight`, ...); convolution filters are
 * re-ordered from the engine's (kh·kw·cin, cout) to ONNX's (cout, cin, kh, kw). Everything is float32
 * (where the engine computes in float64, standardisation and late fusion, the results agree to < 1e-6).
 */
import { DataError } from '../data/dataset.js';
import type { ErrorCode } from '../errors.js';
import { Activation, Conv2d, Dense, Dropout, type Layer, MaxPool } from '../nn/layers.js';
import type { Param } from '../nn/params.js';
import type { Model } from '../train/methods.js';
import { VERSION } from '../version.js';
import { P_MIN } from '../train/fusion.js';
import { tensorName as checkpointName } from './checkpoint.js';
import { ProtoWriter } from './protobuf.js';

/** The ONNX operator set the exported graphs use (onnxruntime-web and every current runtime run it). */
export const ONNX_OPSET = 13;
/** The IR version that goes with opset 13 (ONNX 1.8). */
const IR_VERSION = 7;
/** TensorProto.DataType. */
const FLOAT = 1;
const INT64 = 7;
const GELU_C = 0.7978845608028654; // √(2/π), as assembly/activations.ts
const GELU_A = 0.044715;

/** Per-modality input standardisation, as `fitStandardize` returns it (or plain arrays). */
export type OnnxPreprocess = Record<string, { mean: ArrayLike<number>; std: ArrayLike<number> }>;

export interface OnnxExportOptions {
  /**
   * The standardisation of raw inputs (the training statistics), used when the model carries none
   * (`Model.preprocess`): the same as `serializeModel`'s `preprocess`. A modality without an entry is
   * taken as it is; `{}` exports a graph that takes every input as it is. A model without statistics
   * and without this option is refused: the graph would silently expect standardised inputs.
   */
  preprocess?: OnnxPreprocess;
  /** Also output each fused modality's own probabilities as `probs_<modality>` (late-fusion models). */
  perModality?: boolean;
  /** The graph's name (default `udi-<method>`). */
  name?: string;
}

const fail = (code: ErrorCode, msg: string) => new DataError(code, `exportOnnx: ${msg}`);

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function f32Bytes(data: ArrayLike<number>): Uint8Array {
  const a = data instanceof Float32Array ? data : Float32Array.from(data);
  if (LITTLE_ENDIAN) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(4 * a.length);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(4 * i, a[i], true);
  return out;
}

function i64Bytes(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(8 * values.length);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setBigInt64(8 * i, BigInt(v), true));
  return out;
}

/** ValueInfoProto of a float32 tensor; a string dimension is symbolic (the batch). */
function valueInfo(name: string, dims: (number | string)[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) shape.message(1, typeof d === 'string' ? new ProtoWriter().string(2, d) : new ProtoWriter().int(1, d));
  const tensorType = new ProtoWriter().int(1, FLOAT).message(2, shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}

/** Nodes and initializers, with names that never collide with the inputs and outputs. */
class Graph {
  readonly nodes: ProtoWriter[] = [];
  readonly initializers: ProtoWriter[] = [];
  private readonly used = new Set<string>();
  private readonly scalars = new Map<number, string>();

  constructor(reserved: Iterable<string>) {
    for (const n of reserved) this.used.add(n);
  }

  /** A fresh value name starting with `hint`. */
  name(hint: string): string {
    let n = hint;
    for (let k = 1; this.used.has(n); k++) n = `${hint}_${k}`;
    this.used.add(n);
    return n;
  }

  private initializer(hint: string, dims: readonly number[], type: number, raw: Uint8Array): string {
    const name = this.name(hint);
    const t = new ProtoWriter();
    for (const d of dims) t.int(1, d);
    this.initializers.push(t.int(2, type).string(8, name).bytes(9, raw));
    return name;
  }

  floats(hint: string, dims: readonly number[], data: ArrayLike<number>): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new Error(`exportOnnx: ${hint} has ${data.length} values, its shape ${dims.join('×')} holds ${n}`);
    return this.initializer(hint, dims, FLOAT, f32Bytes(data));
  }

  /** A float32 scalar (shared by every node that uses the same value). */
  scalar(v: number): string {
    let s = this.scalars.get(v);
    if (!s) this.scalars.set(v, (s = this.floats(`const_${v}`, [], [v])));
    return s;
  }

  int64s(hint: string, values: readonly number[]): string {
    return this.initializer(hint, [values.length], INT64, i64Bytes(values));
  }

  /** A node; returns its (first) output's name. Attributes are ints or lists of ints. */
  op(opType: string, inputs: readonly string[], hint: string, attrs: Record<string, number | readonly number[]> = {}, output?: string): string {
    const out = output ?? this.name(hint);
    const node = new ProtoWriter();
    for (const i of inputs) node.string(1, i);
    node.string(2, out).string(3, this.name(`${hint}/${opType}`)).string(4, opType);
    for (const [k, v] of Object.entries(attrs)) {
      const a = new ProtoWriter().string(1, k);
      if (typeof v === 'number') a.int(20, 2).int(3, v); // AttributeType INT
      else {
        a.int(20, 7); // INTS
        for (const x of v) a.int(8, x);
      }
      node.message(5, a);
    }
    this.nodes.push(node);
    return out;
  }
}

/** Checkpoint name of a parameter: group `enc:audio` + `fc0.weight` → `enc.audio.fc0.weight`. */
const tensorName = (p: Param) => checkpointName(p.group, p.name);

function activation(g: Graph, kind: 'relu' | 'gelu', x: string, hint: string): string {
  if (kind === 'relu') return g.op('Relu', [x], `${hint}.relu`);
  if (kind !== 'gelu') throw fail('ONNX_LAYER', `activation "${kind as string}" has no ONNX form here (relu, gelu)`);
  const h = `${hint}.gelu`;
  const x3 = g.op('Mul', [g.op('Mul', [x, x], h), x], h);
  const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [x3, g.scalar(GELU_A)], h)], h), g.scalar(GELU_C)], h);
  const onePlus = g.op('Add', [g.op('Tanh', [inner], h), g.scalar(1)], h);
  return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)], h), onePlus], h);
}

/** The graph of one modality's encoder, from its (standardised) input to its features [N, featureDim]. */
function encoder(g: Graph, model: Model, m: string, x: string): string {
  const net = model.net;
  const branch = net.branch(m);
  const group = `enc:${m}`;
  const params = net.store.parameters.filter((p) => p.group === group);
  let next = 0;
  const take = (what: string, shape: readonly number[]): Param => {
    const p = params[next++];
    if (!p || p.shape.length !== shape.length || p.shape.some((d, i) => d !== shape[i])) {
      throw fail('ONNX_LAYER', `encoder "${m}": expected a ${what} of shape ${shape.join('×')}, found ${p ? `${tensorName(p)} ${p.shape.join('×')}` : 'no parameter'}`);
    }
    return p;
  };
  const read = (p: Param) => net.rt.arena.read(net.store.paramOf(p));
  const prefix = `enc.${m}`;
  let h = x;
  /** The map's (height, width, channels) while the value is an NCHW map; null while it is [N, features]. */
  let map: readonly [number, number, number] | null = null;
  const toMap = (shape: readonly [number, number, number]) => {
    const [hh, ww, c] = shape;
    const nhwc = g.op('Reshape', [h, g.int64s(`${prefix}.nhwc_shape`, [0, hh, ww, c])], `${prefix}.nhwc`);
    h = g.op('Transpose', [nhwc], `${prefix}.nchw`, { perm: [0, 3, 1, 2] });
    map = shape;
  };
  const toFlat = () => {
    const [hh, ww, c] = map!;
    const nhwc = g.op('Transpose', [h], `${prefix}.to_nhwc`, { perm: [0, 2, 3, 1] });
    h = g.op('Reshape', [nhwc, g.int64s(`${prefix}.flat_shape`, [0, hh * ww * c])], `${prefix}.flat`);
    map = null;
  };
  for (const layer of branch.encoder.layers as Layer[]) {
    if (layer instanceof Dense) {
      if (map) toFlat();
      const w = take('dense weight', [layer.inFeatures, layer.outFeatures]);
      const b = take('dense bias', [layer.outFeatures]);
      const name = w.name.replace(/\.weight$/, '');
      h = g.op('Gemm', [h, g.floats(tensorName(w), w.shape, read(w)), g.floats(tensorName(b), b.shape, read(b))], `${prefix}.${name}`);
    } else if (layer instanceof Conv2d) {
      if (!map) toMap(layer.inShape);
      const [hh, ww, c] = layer.inShape;
      const k = layer.kernel,
        o = layer.channels,
        pad = Math.floor(k / 2);
      if (layer.outShape[0] !== hh + 2 * pad - k + 1 || layer.outShape[1] !== ww + 2 * pad - k + 1) throw fail('ONNX_LAYER', `encoder "${m}": a convolution whose output ${layer.outShape.join('×')} is not that of stride 1 and padding ${pad}`);
      const w = take('convolution filter', [k * k * c, o]);
      const b = take('convolution bias', [o]);
      // Engine: w[((ky·k + kx)·c + ch)·o + out]; ONNX: W[out][ch][ky][kx].
      const src = read(w);
      const dst = new Float32Array(src.length);
      for (let out = 0; out < o; out++) for (let ch = 0; ch < c; ch++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) dst[((out * c + ch) * k + ky) * k + kx] = src[((ky * k + kx) * c + ch) * o + out];
      const name = w.name.replace(/\.weight$/, '');
      h = g.op('Conv', [h, g.floats(tensorName(w), [o, c, k, k], dst), g.floats(tensorName(b), [o], read(b))], `${prefix}.${name}`, { kernel_shape: [k, k], pads: [pad, pad, pad, pad], strides: [1, 1] });
      map = layer.outShape;
    } else if (layer instanceof MaxPool) {
      if (!map) toMap(layer.inShape);
      h = g.op('MaxPool', [h], `${prefix}.pool`, { kernel_shape: [layer.k, layer.k], strides: [layer.k, layer.k] });
      map = layer.outShape;
    } else if (layer instanceof Activation) {
      h = activation(g, layer.kind, h, prefix);
    } else if (layer instanceof Dropout) {
      // The identity at inference.
    } else throw fail('ONNX_LAYER', `encoder "${m}": layer ${layer.constructor.name} has no ONNX form here`);
  }
  if (map) toFlat();
  if (next !== params.length) throw fail('ONNX_LAYER', `encoder "${m}": parameters ${params.slice(next).map(tensorName).join(', ')} belong to no exported layer`);
  return h;
}

/** Linear head (Gemm) on features, then Softmax over classes. */
function head(g: Graph, model: Model, w: Param, b: Param, feat: string, hint: string): string {
  const { net } = model;
  const read = (p: Param) => net.rt.arena.read(net.store.paramOf(p));
  const logits = g.op('Gemm', [feat, g.floats(tensorName(w), w.shape, read(w)), g.floats(tensorName(b), b.shape, read(b))], `${hint}.logits`);
  return g.op('Softmax', [logits], `${hint}.probs`, { axis: 1 });
}

/** The statistics to bake in: the model's own, else the caller's; both given and different is an error. */
function preprocessOf(model: Model, given: OnnxPreprocess | undefined, inputs: readonly string[]): OnnxPreprocess {
  const own = model.preprocess;
  if (own && given) {
    const same = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.from(a).every((v, i) => v === b[i]);
    const entry = (p: OnnxPreprocess, k: string) => (Object.hasOwn(p, k) ? p[k] : undefined);
    for (const k of inputs) {
      const a = entry(own, k),
        b = entry(given, k);
      if (!a && !b) continue;
      if (!a || !b || !same(a.mean, b.mean) || !same(a.std, b.std)) throw fail('ONNX_PREPROCESS', `the model carries its own input standardisation and options.preprocess differs from it (modality "${k}"); leave options.preprocess out to use the model's`);
    }
  }
  const stats = own ?? given;
  if (!stats) throw fail('ONNX_PREPROCESS', 'the model records no input standardisation, so the graph could not tell raw inputs from standardised ones: pass options.preprocess (the training statistics, as fitStandardize returned them), or {} if the model takes its inputs as they are');
  return stats;
}

/**
 * The model as an ONNX file (bytes of a ModelProto): raw inputs in, fused probabilities out, with the
 * input standardisation and the model's fusion inside the graph (see the file's header).
 */
export function exportOnnx(model: Model, opts: OnnxExportOptions = {}): Uint8Array {
  const { net } = model;
  const C = net.classes;
  const late = model.fusion !== 'joint' && model.fusion !== 'head';
  const inputs = late ? [...model.modalities] : net.branches.map((b) => b.name);
  if (inputs.length === 0) throw fail('ONNX_MODALITIES', 'the model fuses no modality');
  for (const m of inputs) net.branch(m); // throws, naming the modalities, if one is not in the network
  if (opts.perModality && !late) throw fail('ONNX_PER_MODALITY', `a ${model.method} model fuses inside its ${model.fusion === 'joint' ? 'joint' : 'fusion'} head; perModality outputs are for late-fusion models`);
  const outputs = ['probs', ...(opts.perModality ? inputs.map((m) => `probs_${m}`) : [])];
  const clash = inputs.find((m) => outputs.includes(m));
  if (clash !== undefined) throw fail('ONNX_NAMES', `modality "${clash}" has the name of an output; rename the modality`);
  const g = new Graph([...inputs, ...outputs]);
  const stats = preprocessOf(model, opts.preprocess, inputs);
  const standardised = inputs.filter((m) => Object.hasOwn(stats, m));

  const feats: Record<string, string> = {};
  for (const m of inputs) {
    const dim = net.branch(m).encoder.inFeatures;
    let x = m;
    const s = standardised.includes(m) ? stats[m] : undefined;
    if (s) {
      if (s.mean.length !== dim || s.std.length !== dim) throw fail('ONNX_PREPROCESS', `the standardisation of "${m}" has ${s.mean.length} means and ${s.std.length} standard deviations, the modality has ${dim} features`);
      // The graph holds them as float32: a std must stay > 0 and a mean finite once rounded.
      const bad = Array.from(s.std).findIndex((v) => !(Number.isFinite(Math.fround(v)) && Math.fround(v) > 0));
      if (bad >= 0 || !Array.from(s.mean).every((v) => Number.isFinite(Math.fround(v)))) throw fail('ONNX_PREPROCESS', `the standardisation of "${m}" holds ${bad >= 0 ? `a standard deviation of ${s.std[bad]} (feature ${bad})` : 'a mean that is not a finite float32'}`);
      x = g.op('Div', [g.op('Sub', [x, g.floats(`preprocess.${m}.mean`, [dim], s.mean)], `preprocess.${m}.centred`), g.floats(`preprocess.${m}.std`, [dim], s.std)], `preprocess.${m}`);
    }
    feats[m] = encoder(g, model, m, x);
  }

  let fused: string;
  const own: Record<string, string> = {};
  if (!late) {
    const concat = inputs.length === 1 ? feats[inputs[0]] : g.op('Concat', inputs.map((m) => feats[m]), 'joint.features', { axis: 1 });
    fused = head(g, model, net.jointW, net.jointB, concat, 'head.joint');
  } else {
    for (const m of inputs) {
      const [w, b] = net.store.parameters.filter((p) => p.group === `head:${m}`);
      own[m] = head(g, model, w, b, feats[m], `head.${m}`);
    }
    const ps = inputs.map((m) => own[m]);
    const sum = (xs: string[]) => (xs.length === 1 ? xs[0] : g.op('Sum', xs, 'fusion.sum'));
    if (model.fusion === 'entropy') {
      const axes1 = g.int64s('fusion.axes1', [1]);
      const negH = inputs.map((m) => g.op('ReduceSum', [g.op('Mul', [own[m], g.op('Log', [g.op('Max', [own[m], g.scalar(P_MIN)], `fusion.${m}.clamped`)], `fusion.${m}.logp`)], `fusion.${m}.plogp`), axes1], `fusion.${m}.neg_entropy`, { keepdims: 1 }));
      const w = g.op('Softmax', [inputs.length === 1 ? negH[0] : g.op('Concat', negH, 'fusion.neg_entropy', { axis: 1 })], 'fusion.weights', { axis: 1 });
      const stacked = inputs.length === 1 ? g.op('Unsqueeze', [ps[0], axes1], 'fusion.stacked') : g.op('Concat', ps.map((p) => g.op('Unsqueeze', [p, axes1], 'fusion.row')), 'fusion.stacked', { axis: 1 });
      const weighted = g.op('Mul', [stacked, g.op('Unsqueeze', [w, g.int64s('fusion.axes2', [2])], 'fusion.weights3')], 'fusion.weighted');
      fused = g.op('ReduceSum', [weighted, axes1], 'fusion.probs', { keepdims: 0 });
    } else if (model.fusion === 'validation') {
      const wts = model.fusionWeights ?? {};
      const ws = inputs.map((m) => wts[m] ?? 1);
      const total = ws.reduce((a, b) => a + b, 0);
      if (!(total > 0)) throw fail('ONNX_FUSION', `the fusion weights of ${inputs.join(', ')} sum to ${total}`);
      fused = g.op('Div', [sum(ps.map((p, k) => g.op('Mul', [p, g.scalar(ws[k])], `fusion.${inputs[k]}.weighted`))), g.scalar(total)], 'fusion.probs');
    } else if (model.fusion === 'mean' || model.fusion === 'calibrated') {
      const T = model.fusion === 'calibrated' ? (model.fusionTemperatures ?? {}) : {};
      const scaled = inputs.map((m, k) => {
        const t = T[m] ?? 1;
        if (t === 1) return ps[k];
        if (!(Number.isFinite(t) && t > 0)) throw fail('ONNX_FUSION', `the temperature of "${m}" is ${t}`);
        const logp = g.op('Log', [g.op('Max', [ps[k], g.scalar(P_MIN)], `fusion.${m}.clamped`)], `fusion.${m}.logp`);
        return g.op('Softmax', [g.op('Div', [logp, g.scalar(t)], `fusion.${m}.tempered`)], `fusion.${m}.calibrated`, { axis: 1 });
      });
      fused = inputs.length === 1 ? scaled[0] : g.op('Div', [sum(scaled), g.scalar(inputs.length)], 'fusion.probs');
    } else throw fail('ONNX_FUSION', `fusion "${String(model.fusion)}" has no ONNX form here`);
  }
  g.op('Identity', [fused], 'probs', {}, 'probs');
  if (opts.perModality) for (const m of inputs) g.op('Identity', [own[m]], `probs_${m}`, {}, `probs_${m}`);

  const dims = Object.fromEntries(net.specs.map((s) => [s.name, s.dim]));
  const doc =
    `udi-wasm ${VERSION}: a ${model.method} model (fusion ${model.fusion}, ${C} classes). Inputs: ${inputs.map((m) => `${m} float32 [N, ${dims[m]}]`).join(', ')}, ` +
    (standardised.length ? `raw features (${standardised.join(', ')} standardised inside the graph with the training statistics)` : 'taken as they are (no standardisation)') +
    `. Outputs: probs float32 [N, ${C}]${opts.perModality ? ', probs_<modality> (each modality\'s own head)' : ''}.`;
  const graph = new ProtoWriter();
  for (const n of g.nodes) graph.message(1, n);
  graph.string(2, opts.name ?? `udi-${model.method}`);
  for (const t of g.initializers) graph.message(5, t);
  graph.string(10, doc);
  for (const m of inputs) graph.message(11, valueInfo(m, ['N', dims[m]]));
  for (const o of outputs) graph.message(12, valueInfo(o, ['N', C]));

  const meta: Record<string, string> = {
    format: 'udi-wasm/onnx-1',
    library_version: VERSION,
    method: model.method,
    fusion: model.fusion,
    classes: String(C),
    inputs: JSON.stringify(inputs),
    standardised: JSON.stringify(standardised),
  };
  const mp = new ProtoWriter().int(1, IR_VERSION).string(2, 'udi-wasm').string(3, VERSION).string(6, doc).message(7, graph).message(8, new ProtoWriter().string(1, '').int(2, ONNX_OPSET));
  for (const [key, value] of Object.entries(meta)) mp.message(14, new ProtoWriter().string(1, key).string(2, value));
  return mp.finish();
}
