/**
 * Encoders built from a config, and the per-modality network (encoder + linear head).
 */
import type { Runtime } from '../runtime/runtime.js';
import { Activation, Conv2d, ConvBlock, Dense, Dropout, type Layer, MaxPool, type Rows, Sequential } from './layers.js';
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
  /** Rows of the layers' buffers: training's batch, and the forward pass's (inference batches). */
  rows: Rows;
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
  const { rt, store, rows } = ctx;
  const act = cfg.activation ?? 'relu';
  const drop = cfg.dropout ?? 0;
  const layers: Layer[] = [];
  if (cfg.type === 'mlp') {
    let d = inFeatures;
    positiveInts(`encoder ${group}: hidden`, cfg.hidden).forEach((h, i) => {
      layers.push(new Dense(rt, store, group, `fc${i}`, d, h, rows));
      layers.push(new Activation(rt, act, h, rows));
      if (drop > 0) layers.push(new Dropout(rt, drop, h, rows, ctx.seed, ctx.nextStream()));
      d = h;
    });
    return new Sequential(layers);
  }
  if (cfg.type === 'cnn') {
    const [h, w, c] = positiveInts(`encoder ${group}: input`, cfg.input) as [number, number, number];
    if (h * w * c !== inFeatures) throw new ConfigError(`encoder ${group}: input ${h}×${w}×${c} = ${h * w * c} values, but the modality has ${inFeatures} features`);
    let shape: [number, number, number] = [h, w, c];
    const kernel = cfg.kernel ?? 3;
    positiveInts(`encoder ${group}: channels`, cfg.channels).forEach((ch, i) => {
      // conv + ReLU + pool as one fused layer where the kernels take the shape; the same parameters and bits.
      const [bh, bw, bc] = shape;
      if (act === 'relu' && ConvBlock.fits(rt, { batch: 1, h: bh, w: bw, c: bc, outChannels: ch, kh: kernel, kw: kernel, pad: Math.floor(kernel / 2) }) && bh >= 2 && bw >= 2) {
        const block = new ConvBlock(rt, store, group, `conv${i}`, shape, ch, kernel, rows);
        layers.push(block);
        shape = block.outShape;
        return;
      }
      const conv = new Conv2d(rt, store, group, `conv${i}`, shape, ch, kernel, rows);
      layers.push(conv, new Activation(rt, act, conv.outFeatures, rows));
      const pool = new MaxPool(rt, conv.outShape, 2, rows);
      layers.push(pool);
      shape = pool.outShape;
    });
    const flat = shape[0] * shape[1] * shape[2];
    const [dense] = positiveInts(`encoder ${group}: dense`, [cfg.dense]);
    layers.push(new Dense(rt, store, group, 'fc', flat, dense, rows), new Activation(rt, act, dense, rows));
    if (drop > 0) layers.push(new Dropout(rt, drop, dense, rows, ctx.seed, ctx.nextStream()));
    return new Sequential(layers);
  }
  throw new ConfigError(`encoder ${group}: type must be 'mlp' or 'cnn', got ${JSON.stringify((cfg as { type?: unknown }).type)}`);
}
