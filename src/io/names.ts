/**
 * What a name (a modality, an encoder key, an anchor) may be, wherever one is read: a config, a
 * manifest, a checkpoint or a training state. One definition, so that whatever one reader accepts
 * the others accept too.
 */

/** Names that would reach an object's prototype: never accepted as a modality or key name. */
export const RESERVED_NAMES: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/** The longest name (in UTF-16 code units) a config, manifest, checkpoint or training state accepts. */
export const MAX_NAME_LENGTH = 1000;
