/**
 * Every error udi-wasm throws on purpose: one base class, `UdiError`, with a typed `code`, and one
 * table, `ERRORS`, that is the single source of the codes and their meanings (the README's table of
 * codes is checked against it by test/error-table.test.ts).
 *
 *   try { ... } catch (e) { if (e instanceof UdiError && e.code === 'MISSING_FILE') ... }
 *
 * The subclasses name where an error comes from (data, training, a kernel call, the config, the
 * command line), so `instanceof DataError` keeps working; the code says what happened. An error that
 * is not a UdiError (a TypeError, a WebAssembly trap, a failed internal check) is a bug in udi-wasm:
 * the `udi` command exits with EXIT.INTERNAL and asks for a report.
 */

/** Each code's one-line meaning; `exit` is the `udi` command's exit status when not EXIT.USER. */
export const ERRORS = {
  // Files and downloads.
  MISSING_FILE: { meaning: 'a file or folder that was named does not exist' },
  NOT_A_FILE: { meaning: 'the path is a folder, FIFO, device or socket, not a regular file' },
  FILE_PERMISSION: { meaning: 'the file may not be read' },
  FILE_READ: { meaning: 'reading the file failed' },
  FILE_CHANGED: { meaning: 'the file changed size while it was read' },
  FILE_TOO_LARGE: { meaning: 'the file is larger than a file of its kind may be (checked before reading)' },
  OUTSIDE_FOLDER: { meaning: "a manifest names a file outside its folder (loadManifest's confine option)" },
  EMPTY_FILE: { meaning: 'a CSV file is empty or has a header but no rows' },
  BAD_JSON: { meaning: 'a file is not valid JSON' },
  MISSING_DATA: { meaning: 'a dataset (FSDD, MNIST, mfeat) is not where udi looked' },
  FETCH_FAILED: { meaning: 'a download failed (`udi data fetch`)' },
  TAR_BAD: { meaning: 'a downloaded tar archive is damaged' },
  ZIP_BAD: { meaning: 'a downloaded or given zip archive is damaged or not the expected one' },
  // Tables and datasets.
  NOT_A_NUMBER: { meaning: 'a CSV value is not a finite float32 number' },
  RAGGED: { meaning: 'rows of a table or modality have different lengths' },
  NON_FINITE: { meaning: 'a feature is NaN or ±Infinity' },
  ROW_COUNT: { meaning: 'modalities and labels have different numbers of rows' },
  BAD_LABEL: { meaning: 'a label is not a whole number inside the classes' },
  CLASS_ABSENT: { meaning: 'a class has no example in the training or validation data' },
  EMPTY_DATASET: { meaning: 'a dataset has no modality or no row' },
  BAD_SHAPE: { meaning: "features do not have the width or size the shape, file or model says" },
  BAD_MANIFEST: { meaning: 'a manifest is not valid (its fields, names or files)' },
  BAD_MODALITY_NAME: { meaning: 'a modality name is empty or reserved (`__proto__`, `constructor`, `prototype`)' },
  DUPLICATE_MODALITY: { meaning: 'a modality is named twice' },
  UNKNOWN_MODALITY: { meaning: 'a modality that was named is not in the data or the model' },
  // Audio and image files.
  WAV_NOT_RIFF: { meaning: 'the file is not a RIFF WAVE file' },
  WAV_BAD_HEADER: { meaning: "a WAV file's chunks or header fields are invalid" },
  WAV_MISSING_CHUNK: { meaning: 'a WAV file has no "fmt " or "data" chunk' },
  WAV_NOT_PCM16: { meaning: 'a WAV file is not 16-bit PCM' },
  WAV_NOT_MONO: { meaning: 'a WAV file has more than one channel' },
  WAV_EMPTY: { meaning: "a WAV file's data chunk holds no samples" },
  WAV_TRUNCATED: { meaning: 'a WAV file is shorter than its header says' },
  WAV_TOO_LONG: { meaning: 'a recording is too long to featurise within the memory limit' },
  IDX_BAD_MAGIC: { meaning: 'the file is not an IDX file' },
  IDX_BAD_TYPE: { meaning: 'an IDX file has an unknown element type' },
  IDX_BAD_DIMS: { meaning: "an IDX file's dimensions are invalid" },
  IDX_TOO_LARGE: { meaning: 'an IDX file declares more than 2^31 elements or bytes' },
  IDX_TRUNCATED: { meaning: 'an IDX file is shorter than its header says' },
  IDX_TRAILING: { meaning: 'an IDX file has bytes after its data' },
  IDX_BAD_GZIP: { meaning: 'a gzipped IDX file cannot be decompressed' },
  MNIST_BAD_SHAPE: { meaning: 'MNIST files do not hold 28×28 byte images and byte labels' },
  MNIST_COUNT: { meaning: 'MNIST image and label files hold different counts' },
  MNIST_BAD_LABEL: { meaning: 'an MNIST label is not a digit 0-9' },
  NOT_ENOUGH_IMAGES: { meaning: 'MNIST has too few images of a digit to pair with the recordings' },
  BAD_FILE_NAME: { meaning: 'an FSDD recording is not named {digit}_{speaker}_{index}.wav' },
  // safetensors, checkpoints and training states.
  ST_HEADER_TOO_LARGE: { meaning: 'a safetensors header is larger than 16 MiB' },
  ST_BAD_HEADER: { meaning: 'a safetensors header is not valid' },
  ST_BAD_OFFSETS: { meaning: "safetensors data offsets are out of range or do not cover the data exactly" },
  ST_BAD_DTYPE: { meaning: 'a safetensors tensor has a dtype udi-wasm does not read' },
  ST_TRUNCATED: { meaning: 'a safetensors file is shorter or longer than its header declares' },
  CKPT_FORMAT: { meaning: 'the file is not a udi-wasm checkpoint' },
  CKPT_CHECKSUM: { meaning: "a checkpoint's tensors or metadata do not match their SHA-256: damaged or edited" },
  CKPT_TENSORS: { meaning: "a checkpoint's tensors are missing or have other shapes than its model" },
  CKPT_MODEL: { meaning: "a checkpoint's model description is not valid" },
  CKPT_NON_FINITE: { meaning: 'refusing to save a model with NaN or ±Infinity parameters' },
  STATE_BAD: { meaning: 'a training state (--resume) is damaged, edited or inconsistent' },
  RESUME_MISMATCH: { meaning: "a training state does not fit the run's config or model" },
  // Configs, options and training.
  BAD_CONFIG: { meaning: 'a training or compare config is not valid (the message lists every problem)' },
  BAD_OPTIONS: { meaning: 'an option or argument is out of range or does not fit the others' },
  BAD_PREPROCESS: { meaning: "train()'s options.preprocess does not fit the data" },
  BAD_ANCHOR: { meaning: 'udi.anchor names no modality of the run' },
  UNKNOWN_METHOD: { meaning: 'no method has that name' },
  NO_MODALITY: { meaning: 'the config names no modality' },
  NEED_TWO_MODALITIES: { meaning: 'a multimodal method was given one modality' },
  SHARED_HEAD_DIMS: { meaning: 'a shared classifier needs every encoder to output the same width' },
  DIVERGED: { meaning: 'the loss became NaN or ±Infinity; the stage start weights were restored' },
  INTERRUPTED: { meaning: 'training was stopped (Ctrl-C); `udi train --resume` continues it' },
  NO_EVAL_DATA: { meaning: 'the data has no test or validation part to evaluate on' },
  // Prediction and export.
  PREDICT_INPUT: { meaning: 'a prediction input is not an object with an entry per modality' },
  PREDICT_MODALITIES: { meaning: 'the input lacks the modalities the model predicts from' },
  PREPROCESS_UNKNOWN: { meaning: 'raw inputs given to a model that does not record its standardisation' },
  ONNX_MODALITIES: { meaning: 'the model to export fuses no modality' },
  ONNX_NAMES: { meaning: 'a modality has the name of an ONNX output' },
  ONNX_LAYER: { meaning: 'a layer or parameter has no ONNX form here' },
  ONNX_FUSION: { meaning: "the model's fusion weights or temperatures cannot be exported" },
  ONNX_PREPROCESS: { meaning: "exportOnnx's preprocess option contradicts the model's own" },
  ONNX_PER_MODALITY: { meaning: 'per-modality outputs asked of a model that fuses inside its head' },
  // Runtime and kernels.
  WASM_LOAD: { meaning: 'the WebAssembly module could not be found, fetched, compiled or instantiated' },
  RUNTIME_UNSUPPORTED: { meaning: 'this host cannot run the requested build (SIMD, threads, isolation)' },
  MEMORY_LIMIT: { meaning: 'the model or data needs more WebAssembly memory than the limit' },
  WORKER_FAILED: { meaning: 'a worker thread trapped, did not start or timed out' },
  SHAPE_MISMATCH: { meaning: 'a kernel was called with buffers whose lengths do not match its shapes' },
  ALIASED_BUFFERS: { meaning: 'a kernel was called with overlapping buffers it does not handle' },
  // The command line.
  BAD_USAGE: { meaning: 'an unknown, missing or malformed command-line option', exit: 2 },
} as const satisfies Record<string, { meaning: string; exit?: number }>;

export type ErrorCode = keyof typeof ERRORS;

/** Exit statuses of the `udi` command. INTERNAL is sysexits' EX_SOFTWARE: a bug, to be reported. */
export const EXIT = { OK: 0, USER: 1, USAGE: 2, INTERNAL: 70 } as const;

/** Is `code` one of udi-wasm's error codes? */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERRORS, code);
}

/** An error udi-wasm throws on purpose: bad input, options, files or host. `code` says which. */
export class UdiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad data: files, tables, datasets, checkpoints, prediction inputs. */
export class DataError extends UdiError {}

/** A training run that cannot start, resume or go on (modalities, methods, states, divergence). */
export class TrainingError extends UdiError {}

/** A config that is not valid; the message lists every problem with its path. */
export class ConfigError extends UdiError {
  constructor(message: string, options?: ErrorOptions) {
    super('BAD_CONFIG', message, options);
  }
}

/** A kernel called with buffers whose lengths do not match its shapes. */
export class ShapeError extends UdiError {
  constructor(message: string) {
    super('SHAPE_MISMATCH', message);
  }
}

/** A kernel called with overlapping buffers it does not promise to handle (see the wrapper's "Aliasing:" line). */
export class AliasingError extends UdiError {
  constructor(message: string) {
    super('ALIASED_BUFFERS', message);
  }
}

/** WebAssembly memory would grow past the runtime's limit (createRuntime({ memoryLimitMiB })). */
export class MemoryLimitError extends UdiError {
  constructor(
    readonly neededBytes: number,
    readonly limitBytes: number,
  ) {
    super(
      'MEMORY_LIMIT',
      `udi-wasm needs ${(neededBytes / 2 ** 20).toFixed(1)} MiB of WebAssembly memory, above the limit of ` +
        `${(limitBytes / 2 ** 20).toFixed(0)} MiB. Use a smaller model or batch, or raise createRuntime({ memoryLimitMiB }).`,
    );
  }
}

/** A worker thread that trapped, did not start, or did not finish in time. */
export class WorkerError extends UdiError {
  constructor(message: string) {
    super('WORKER_FAILED', message);
  }
}

/** Bad usage of the command line: printed as one line with the command's help hint, exit 2. */
export class UsageError extends UdiError {
  constructor(message: string) {
    super('BAD_USAGE', message);
  }
}

/** A command-line request that cannot be done as asked (exit 1), e.g. --data for a manifest config. */
export class UserError extends UdiError {
  constructor(message: string, code: ErrorCode = 'BAD_OPTIONS') {
    super(code, message);
  }
}
