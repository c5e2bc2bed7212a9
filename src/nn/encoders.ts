/**
 * Encoders built from a config, and the per-modality network (encoder + linear head).
 */
import type { Runtime } from '../runtime/runtime.js';
import { Activation, Conv2d, Dense, Dropout, type Layer, MaxPool, Sequential } from './layers.js';
import type { ParamStore } from './params.js';
import { ConfigError } from '../errors.js';

export type EncoderConfig =
  | {
      type: 'mlp';
      /** Hidden layer widths; the last is the feature dimension. */
      hidden: number[];
      activation?: 'relu' | 'gelu';
      dropout?: number;
    }
  | {
      type: 'cnn';
      /** Input map (height, width, channels); the modality's vectors are read as NHWC. */
      input: [number, number, number];
      /** Output channels of each conv(k×k, same padding) + activation + max-pool(2) block. */
      channels: number[];
      kernel?: number;
      /** Width of the dense layer after the conv blocks (the feature dimension). */
      dense: number;
      activation?: 'relu' | 'gelu';
      dropout?: number;
    };

export interface BuildContext {
  rt: Runtime;
  store: ParamStore;
  maxBatch: number;
  seed: number;
  /** Next generator stream id (dropout layers take one each). */
  nextStream: () => number;
}

function positiveInts(what: string, xs: unknown): number[] {
  if (!Array.isArray(xs) || xs.length === 0 || !xs.every((v) => Number.isInteger(v) && v > 0)) {
    throw new ConfigError(`${what} must be a non-empty list of whole numbers > 0, got ${JSON.stringify(xs)}`);
  }
  return xs as number[];
}

/** Build an encoder for inputs of `inFeatures` values in parameter group `group`. */
export function buildEncoder(ctx: BuildContext, group: string, inFeatures: number, cfg: EncoderConfig): Sequential {
  const { rt, store, maxBatch } = ctx;
  const act = cfg.activation ?? 'relu';
  const drop = cfg.dropout ?? 0;
  const layers: Layer[] = [];
  if (cfg.type === 'mlp') {
    let d = inFeatures;
    positiveInts(`encoder ${group}: hidden`, cfg.hidden).forEach((h, i) => {
      layers.push(new Dense(rt, store, group, `fc${i}`, d, h, maxBatch));
      layers.push(new Activation(rt, act, h, maxBatch));
      if (drop > 0) layers.push(new Dropout(rt, drop, h, maxBatch, ctx.seed, ctx.nextStream()));
      d = h;
    });
    return new Sequential(layers);
  }
  if (cfg.type === 'cnn') {
    const [h, w, c] = positiveInts(`encoder ${group}: input`, cfg.input) as [number, number, number];
    if (h * w * c !== inFeatures) throw new ConfigError(`encoder ${group}: input ${h}×${w}×${c} = ${h * w * c} values, but the modality has ${inFeatures} features`);
    let shape: [number, number, number] = [h, w, c];
    positiveInts(`encoder ${group}: channels`, cfg.channels).forEach((ch, i) => {
      const conv = new Conv2d(rt, store, group, `conv${i}`, shape, ch, cfg.kernel ?? 3, maxBatch);
      layers.push(conv, new Activation(rt, act, conv.outFeatures, maxBatch));
      const pool = new MaxPool(rt, conv.outShape, 2, maxBatch);
      layers.push(pool);
      shape = pool.outShape;
    });
    const flat = shape[0] * shape[1] * shape[2];
    const [dense] = positiveInts(`encoder ${group}: dense`, [cfg.dense]);
    layers.push(new Dense(rt, store, group, 'fc', flat, dense, maxBatch), new Activation(rt, act, dense, maxBatch));
    if (drop > 0) layers.push(new Dropout(rt, drop, dense, maxBatch, ctx.seed, ctx.nextStream()));
    return new Sequential(layers);
  }
  throw new ConfigError(`encoder ${group}: type must be 'mlp' or 'cnn', got ${JSON.stringify((cfg as { type?: unknown }).type)}`);
}
