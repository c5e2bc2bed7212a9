/**
 * The demo's trainer, in a dedicated Worker: the browser main thread may not block in Atomics.wait,
 * and here createRuntime({ threads: 'auto' }) runs on every core when the page is cross-origin
 * isolated (one thread otherwise, and runtime.info.threadsNote says why).
 */
import { createRuntime, defaultConfig, predict, serializeModel, subset, train, type EncoderConfig, type Method, type Model, type Runtime } from '../../src/web.js';
import { type CallbackMessage, relayCallbacks } from '../../src/vis/index.js';
import { decodeDemo, type DemoData } from './data.js';

export type ToWorker = { type: 'train'; data: ArrayBuffer; methods: Method[]; epochs: number } | { type: 'predict'; index: number };

export interface Summary {
  method: Method;
  fusedAcc: number;
  fusedF1: number;
  soloAcc: Record<string, number>;
  inModelAcc: Record<string, number>;
  anchor?: { name: string; reason: string; validation: Record<string, { acc: number; entropy: number }> };
  lambdaTrace: { follower: string; step: number; lambdaCon: number; lambdaCom: number; cos: number }[];
  wallMs: number;
  evaluatedOn: string;
}

export type FromWorker =
  | { type: 'runtime'; info: Runtime['info'] }
  | { type: 'data'; description: string; sizes: Record<string, number>; modalities: Record<string, number>; classes: number }
  /** One training callback of `method`, relayed (udi-wasm/vis relayCallbacks) for the page's live chart. */
  | { type: 'callback'; method: Method; message: CallbackMessage }
  | { type: 'result'; summary: Summary; checkpoint: ArrayBuffer }
  | { type: 'done' }
  | { type: 'prediction'; index: number; label: number; probs: Record<string, number[]> }
  | { type: 'error'; message: string };

interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;
const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

let rt: Runtime | undefined;
let data: DemoData | undefined;
const models = new Map<Method, Model>();

/** Encoders as `udi compare` uses them: MLPs (two layers for wide inputs). */
function encoders(d: DemoData): Record<string, EncoderConfig> {
  return Object.fromEntries(Object.entries(d.train.modalities).map(([m, v]) => [m, { type: 'mlp', hidden: v.dim >= 256 ? [128, 64] : [64] } as EncoderConfig]));
}

async function trainAll(msg: Extract<ToWorker, { type: 'train' }>) {
  rt ??= await createRuntime({ threads: 'auto' });
  post({ type: 'runtime', info: rt.info });
  data = decodeDemo(new Uint8Array(msg.data));
  models.clear();
  const sizes: Record<string, number> = { train: data.train.size, test: data.test.size };
  if (data.val) sizes.val = data.val.size;
  post({ type: 'data', description: data.description, sizes, modalities: Object.fromEntries(Object.entries(data.train.modalities).map(([m, v]) => [m, v.dim])), classes: data.classes });
  for (const method of msg.methods) {
    const cfg = defaultConfig(encoders(data), 0);
    for (const s of [cfg.solo, cfg.guided, cfg.joint]) s.epochs = msg.epochs;
    const { result, model } = await train(rt, method, { train: data.train, val: data.val, test: data.test }, cfg, {
      callbacks: relayCallbacks((message) => post({ type: 'callback', method, message })),
    });
    models.set(method, model);
    const checkpoint = await serializeModel(model, { anchor: result.anchor?.name });
    const summary: Summary = {
      method,
      fusedAcc: result.fused.acc,
      fusedF1: result.fused.f1,
      soloAcc: result.soloAcc,
      inModelAcc: result.inModelAcc,
      anchor: result.anchor,
      lambdaTrace: result.lambdaTrace,
      wallMs: result.cost.wallMs,
      evaluatedOn: result.evaluatedOn,
    };
    const buf = checkpoint.buffer.slice(checkpoint.byteOffset, checkpoint.byteOffset + checkpoint.byteLength) as ArrayBuffer;
    post({ type: 'result', summary, checkpoint: buf }, [buf]);
  }
  post({ type: 'done' });
}

function predictOne(index: number) {
  if (!data) throw new Error('train first');
  if (!(Number.isInteger(index) && index >= 0 && index < data.test.size)) throw new Error(`test sample must be 0-${data.test.size - 1}, got ${index}`);
  const row = subset(data.test, [index]);
  const probs: Record<string, number[]> = {};
  for (const [method, model] of models) probs[method] = Array.from(predict(model, row));
  post({ type: 'prediction', index, label: data.test.labels[index], probs });
}

scope.onmessage = (e) => {
  const msg = e.data;
  const job = msg.type === 'train' ? trainAll(msg) : Promise.resolve().then(() => predictOne(msg.index));
  job.catch((err: unknown) => post({ type: 'error', message: String((err as Error)?.message ?? err) }));
};
