/** The library version, written into checkpoints (a test checks it equals package.json). */
export const VERSION = '0.1.0';
