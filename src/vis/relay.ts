/**
 * Training callbacks across a Worker boundary. Train in a Worker (the browser's main thread may not
 * block, so threads need it) and plot on the page: in the worker, `relayCallbacks(post)` gives
 * callbacks that post each call as a structured-cloneable message; on the page, `replayCallback(msg,
 * target)` calls the same callback of `target` (a live chart, a progress bar) with the same
 * arguments. The network itself stays in the worker: a replayed onTrainBegin receives `undefined`
 * for it (the plan comes through).
 */
import type { Callbacks } from '../train/trainer.js';

/** The callbacks that cross: every one of `Callbacks`. */
export const CALLBACK_NAMES = ['onTrainBegin', 'onTrainEnd', 'onStageBegin', 'onStageEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchEnd'] as const;
export type CallbackName = (typeof CALLBACK_NAMES)[number];

/** One callback call as a message: `{ udiCallback: 'onEpochEnd', args: [epoch, log, progress] }`. */
export interface CallbackMessage {
  udiCallback: CallbackName;
  args: unknown[];
}

/** Callbacks that post every call through `post` (e.g. `(m) => self.postMessage(m)` in a Worker). */
export function relayCallbacks(post: (message: CallbackMessage) => void): Required<Callbacks> {
  const send =
    (name: CallbackName) =>
    (...args: unknown[]) =>
      post({ udiCallback: name, args: name === 'onTrainBegin' ? [undefined, args[1]] : args });
  return Object.fromEntries(CALLBACK_NAMES.map((n) => [n, send(n)])) as unknown as Required<Callbacks>;
}

/** True when `message` is one that relayCallbacks posted. */
export function isCallbackMessage(message: unknown): message is CallbackMessage {
  const m = message as CallbackMessage | null;
  return typeof m === 'object' && m !== null && (CALLBACK_NAMES as readonly string[]).includes(m.udiCallback) && Array.isArray(m.args);
}

/**
 * If `message` is a relayed callback, call that callback of every target with its arguments and
 * return true; otherwise return false (the message is the caller's own).
 */
export function replayCallback(message: unknown, ...targets: Callbacks[]): boolean {
  if (!isCallbackMessage(message)) return false;
  for (const t of targets) {
    const f = t[message.udiCallback] as ((...a: unknown[]) => void) | undefined;
    f?.apply(t, message.args);
  }
  return true;
}
