/**
 * The shared joint stage: concatenated features, one linear head, cross-entropy on the fused output;
 * the joint-family methods are this stage plus hooks that add terms or change gradients.
 *
 *   z = b + Σ_m f_m W_m   (f_m = ψ_m(x_m): B × d_m; W_m: the rows of W (Σd_m × C) for modality m)
 *   L = CE(softmax(z), y) + Σ_hooks (their terms)
 *   step: forward every modality, the joint head's forward and backward (∂L/∂f_m into each branch's
 *         dfeat), [afterJointBackward], per branch [perBranch: add into ∂/∂f_m] then the encoder's
 *         backward, [afterBackward: change the encoder gradients]
 *
 *   joint       no hook (the imbalance baseline; in-model accuracy from each modality's block of z:
 *               f_m W_m + b/M)
 *   joint+uni   unimodalHeads: + Σ_m CE(softmax(h_m(f_m)), y), every modality's own head trained too
 *   ogm-ge, mmpareto, umt: ./ogm-ge.ts, ./mmpareto.ts, ./umt.ts
 *
 * The stage owns one noise generator (stream 77 of the run's seed) for the hooks that draw (OGM-GE);
 * it is the stage's resumable state.
 */
import type { F32, I32 } from '../../runtime/arena.js';
import { prefix } from '../../nn/layers.js';
import { scores } from '../metrics.js';
import { type Branch, MultimodalNet } from '../net.js';
import type { Run } from '../run.js';
import { infer } from '../infer.js';
import type { Stage } from '../trainer.js';
import type { Recipe, RecipeOutput } from './recipe.js';

/** A change to the joint stage's objective or gradients. Every hook runs in the order given. */
export interface JointHook {
  /** The modalities' own heads train too (their groups are trainable, validation and in-model accuracy read them). */
  ownHeads?: boolean;
  /** After the joint head's backward, before any encoder's: each branch's dfeat holds ∂L_joint/∂f_m. */
  afterJointBackward?(n: number): void;
  /** Per branch, before its encoder's backward: add this term's ∂/∂f into df, record its parts; returns what it adds to the loss. */
  perBranch?(b: Branch, n: number, df: F32, parts: Record<string, number>): number;
  /** After every encoder's backward: change the encoder gradients, record parts. */
  afterBackward?(n: number, parts: Record<string, number>): void;
}

/** A hook made for one stage: it may allocate its buffers and use the stage's noise generator. */
export type JointHookFactory = (run: Run, noise: I32) => JointHook;

/** joint+uni: every modality's own head with its own cross-entropy, beside the joint head. */
export const unimodalHeads: JointHookFactory = (run) => {
  const net = run.net;
  const K = net.rt.kernels;
  return {
    ownHeads: true,
    perBranch: (b, n, df, parts) => {
      const l = net.headLoss(b, n);
      parts[`ce_${b.name}`] = l;
      K.axpy(df, net.ceBackward(b, n), 1);
      return l;
    },
  };
};

export function jointStage(run: Run, name: string, factories: readonly JointHookFactory[]): { stage: Stage; ownHeads: boolean } {
  const net = run.net;
  const K = net.rt.kernels;
  const arena = net.rt.arena;
  const noiseRng = K.rng(run.cfg.seed, 77);
  const hooks = factories.map((f) => f(run, noiseRng));
  const ownHeads = hooks.some((h) => h.ownHeads);
  const trainable = [...run.names.flatMap((m) => (ownHeads ? MultimodalNet.groups(m) : [`enc:${m}`])), 'head:joint'];
  const stage: Stage = {
    name,
    trainable,
    modalities: run.names,
    saveState: () => Array.from(arena.viewI32(noiseRng)),
    loadState: (x) => arena.viewI32(noiseRng).set(x as number[]),
    step: (n) => {
      // (Indexed loops: for-of made an iterator object per loop and step.)
      for (let i = 0; i < run.names.length; i++) net.forward(run.names[i], n, true);
      const jointLoss = net.jointLoss(n);
      net.ceBackward('joint', n); // writes each branch's dfeat
      const parts: Record<string, number> = { joint: jointLoss };
      let loss = jointLoss;
      for (let j = 0; j < hooks.length; j++) hooks[j].afterJointBackward?.(n);
      for (let i = 0; i < net.branches.length; i++) {
        const b = net.branches[i];
        const df = prefix(b.dfeat, n * b.featureDim);
        for (let j = 0; j < hooks.length; j++) if (hooks[j].perBranch) loss += hooks[j].perBranch!(b, n, df, parts);
        net.encoderBackward(b, n, df);
      }
      for (let j = 0; j < hooks.length; j++) hooks[j].afterBackward?.(n, parts);
      return { loss, ...parts };
    },
    validate: () => run.validation('fused', ownHeads ? 'heads' : 'blocks'),
  };
  return { stage, ownHeads };
}

/** Run the joint stage with the given hooks and score the joint head (and each modality in the model). */
export async function runJoint(run: Run, hooks: readonly JointHookFactory[], soloAcc: Record<string, number> = {}): Promise<RecipeOutput> {
  const C = run.net.classes;
  const { stage, ownHeads } = jointStage(run, run.method, hooks);
  await run.stage(stage, run.cfg.joint, run.names);
  const out = infer(run.net, run.evalSet, run.names, { joint: true });
  const inModelAcc = Object.fromEntries(run.names.map((m) => [m, scores(ownHeads ? out.probs[m] : out.jointBlocks![m], run.evalSet.labels, C).acc]));
  return { result: { fused: scores(out.joint!, run.evalSet.labels, C), soloAcc, inModelAcc }, model: { modalities: run.names, fusion: 'joint' } };
}

/** A joint-family method that is the joint stage (named after the method) with these hooks. */
export function jointRecipe(method: string, hooks: readonly JointHookFactory[]): Recipe {
  return { minModalities: 2, plan: (stage) => [stage(method, method, 'joint')], run: (run) => runJoint(run, hooks) };
}
