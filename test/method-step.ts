/**
 * Capture ONE training step of one stage of one method, black-box through the public `train()` API.
 *
 *   probeStep(rt, method, data, cfg, stage, opts) -> { params, grads, losses, lambda? }
 *   probeStepDetail(...) -> the same plus trainSet, prior (parameters at the end of the previous stage,
 *                           e.g. UMT's teachers), after (parameters after the step's update), shapes, stages
 *
 * What is captured, and when (callbacks of src/train/trainer.ts, `onState` of train() in src/train/train.ts):
 * - params: every parameter of the network (by full name `<group>.<name>`, e.g. `enc:a.fc0.weight`,
 *   `head:joint.fc.bias`; layout as in src/nn/params.ts, a Dense weight is [in, out] row-major),
 *   read from `net.store` at `onStageBegin(stage)`: the values the stage's first step uses.
 * - grads: every parameter's gradient read at the first `onBatchEnd` of that stage. The trainer zeroes
 *   the trained groups' gradients before each step and the optimiser does not modify them, so these
 *   are the step's gradients for the groups the stage trains (other groups hold whatever an earlier
 *   stage left there: ignore them). Clipping would scale them in place, so the harness sets
 *   `clipNorm: 0` on the captured stage's config.
 * - losses: the record the step returned (`loss` plus the method's parts).
 * - lambda (UDI guided stages): the controller's weights for the step, from the λ trace of the run
 *   state given to `onState` after the stage's first epoch (the step is the epoch: see below).
 *
 * The step's batch must be the whole training set (means over a batch do not depend on the row
 * order): the captured stage's batchSize must be >= the training set's size (checked). The training
 * set is `data.train` when `data.val` is given, else the split `train()` carves (returned as
 * `trainSet`). The run is stopped after the captured step by aborting a signal (the AbortError is
 * caught); if the stage was the run's last, the run simply ends.
 *
 * setParams (by full name, Float32Array of the parameter's length) is written into `net.store`:
 *   (1) at EVERY `onStageEnd` of a stage before the captured one (after that stage's early-stopping
 *       restore), so the values are in place when the run computes things between stages: UDI's
 *       anchor selection and the anchor's cached targets (probabilities and features, computed after
 *       the last solo stage ends and before the first guided stage begins), UMT's teacher features;
 *       stages between are trained from these values, the last write wins;
 *   (2) again at `onStageBegin` of the captured stage, after any re-initialisation between stages
 *       (UDI followerInit 'scratch', UMT's student re-init) and before its first step.
 * `setPriorParams`, when given, replaces setParams in (1) only (e.g. UMT teachers ≠ student start).
 * With UDI, force the anchor (`cfg.udi.anchor`), since (1) also changes which modality wins anchor
 * selection, and with more than two modalities note the cache is computed once, before the FIRST
 * guided stage.
 */
import type { Dataset, Method, MethodConfig, Runtime, Splits, StageConfig } from '../src/index.js';
import { stratifiedSplit, subset, train } from '../src/index.js';
import type { TrainState } from '../src/train/methods.js';
import type { MultimodalNet } from '../src/train/net.js';

export interface StepProbe {
  params: Record<string, Float64Array>;
  grads: Record<string, Float64Array>;
  losses: Record<string, number>;
  lambda?: { lambdaCon: number; lambdaCom: number; cos: number };
}

/** A StepProbe plus what a reference needs besides: the training set, earlier parameters, the λ trace. */
export interface StepProbeDetail extends StepProbe {
  /** The rows the step used (the whole training set, in some order). */
  trainSet: Dataset;
  /** Every parameter at the end of the stage before the captured one (after restore and any setPriorParams/setParams). */
  prior?: Record<string, Float64Array>;
  /** Every parameter right after the captured step's optimiser update (groups the stage does not train are unchanged). */
  after: Record<string, Float64Array>;
  /** Parameter shapes by full name. */
  shapes: Record<string, readonly number[]>;
  /** Names of the stages that began, in order. */
  stages: string[];
}

export interface ProbeOptions {
  setParams?: Record<string, Float32Array>;
  setPriorParams?: Record<string, Float32Array>;
}

/** Which MethodConfig budget a stage name runs under (see the recipes in src/train/methods/). */
function stageBudget(method: Method, stage: string): 'solo' | 'guided' | 'joint' | 'fusionHead' {
  if (stage.startsWith('solo:')) return 'solo';
  if (stage.startsWith('guided:')) return 'guided';
  if (stage === 'fusion-head') return 'fusionHead';
  if (stage === method) return 'joint';
  throw new Error(`probeStep: method ${method} has no stage "${stage}" (stages are solo:<m>, guided:<m>, fusion-head, or the method's name)`);
}

function readAll(net: MultimodalNet, which: 'params' | 'grads'): Record<string, Float64Array> {
  const { store } = net;
  const a = net.rt.arena;
  const out: Record<string, Float64Array> = {};
  for (const p of store.parameters) out[`${p.group}.${p.name}`] = Float64Array.from(a.viewF32(which === 'params' ? store.paramOf(p) : store.gradOf(p)));
  return out;
}

function writeAll(net: MultimodalNet, values: Record<string, Float32Array>): void {
  const { store } = net;
  const byName = new Map(store.parameters.map((p) => [`${p.group}.${p.name}`, p]));
  for (const [name, v] of Object.entries(values)) {
    const p = byName.get(name);
    if (!p) throw new Error(`probeStep setParams: no parameter "${name}" (have ${[...byName.keys()].join(', ')})`);
    if (v.length !== p.length) throw new Error(`probeStep setParams: ${name} has ${p.length} values [${p.shape.join(', ')}], got ${v.length}`);
    net.rt.arena.viewF32(store.paramOf(p)).set(v);
  }
}

export async function probeStepDetail(rt: Runtime, method: Method, data: Splits, cfg: MethodConfig, stage: string, opts: ProbeOptions = {}): Promise<StepProbeDetail> {
  const budget = stageBudget(method, stage);
  const trainSet = data.val ? data.train : subset(data.train, stratifiedSplit(data.train.labels, cfg.validationFraction, cfg.seed).fit, Object.keys(cfg.encoders));
  const sc: StageConfig = { ...cfg[budget], clipNorm: 0 };
  if (sc.batchSize < trainSet.size) throw new Error(`probeStep: stage ${stage} runs with cfg.${budget}.batchSize ${sc.batchSize} < the training set's ${trainSet.size} rows; the step must see the whole set`);
  const run: MethodConfig = { ...cfg, [budget]: sc };
  const ac = new AbortController();
  let net: MultimodalNet | null = null;
  let begun = false,
    captured = false;
  let params: Record<string, Float64Array> | undefined;
  let prior: Record<string, Float64Array> | undefined;
  let grads: Record<string, Float64Array> | undefined;
  let after: Record<string, Float64Array> | undefined;
  let losses: Record<string, number> | undefined;
  let lambda: StepProbe['lambda'];
  let lambdaSeen = false;
  const stages: string[] = [];
  const priorValues = opts.setPriorParams ?? opts.setParams;
  try {
    await train(rt, method, data, run, {
      signal: ac.signal,
      callbacks: {
        onTrainBegin: (n) => (net = n),
        onStageBegin: (s) => {
          stages.push(s);
          if (s !== stage || begun) return;
          begun = true;
          if (opts.setParams) writeAll(net!, opts.setParams);
          params = readAll(net!, 'params');
        },
        onStageEnd: () => {
          if (begun) return;
          if (priorValues) writeAll(net!, priorValues);
          prior = readAll(net!, 'params');
        },
        onBatchEnd: (_step, l, s) => {
          if (s !== stage || captured) return;
          captured = true;
          grads = readAll(net!, 'grads');
          after = readAll(net!, 'params');
          losses = { ...l };
          ac.abort(new DOMException('probeStep: step captured', 'AbortError'));
        },
      },
      onState: (st: TrainState) => {
        // The first state emitted after the capture is the end of the stage's first (and only observed) epoch.
        if (!captured || lambdaSeen) return;
        lambdaSeen = true;
        const t = st.trace[st.trace.length - 1];
        if (stage.startsWith('guided:') && t && t.follower === stage.slice('guided:'.length)) lambda = { lambdaCon: t.lambdaCon, lambdaCom: t.lambdaCom, cos: t.cos };
      },
    });
  } catch (e) {
    if (!(captured && (e as { name?: string }).name === 'AbortError')) throw e;
  }
  if (!captured || !params || !grads || !after || !losses) throw new Error(`probeStep: stage ${stage} never ran a step (stages run: ${stages.join(', ')})`);
  const shapes = Object.fromEntries((net as MultimodalNet | null)!.store.parameters.map((p) => [`${p.group}.${p.name}`, p.shape]));
  return { params, grads, losses, ...(lambda ? { lambda } : {}), trainSet, prior, after, shapes, stages };
}

/** One training step of `stage` of `method`: see the header. */
export async function probeStep(rt: Runtime, method: Method, data: Splits, cfg: MethodConfig, stage: string, opts?: { setParams?: Record<string, Float32Array> }): Promise<StepProbe> {
  return probeStepDetail(rt, method, data, cfg, stage, opts);
}
