/**
 * `udi export`: a checkpoint to another format. ONNX only for now: the whole prediction path (input
 * standardisation, encoders, heads, fusion) as one graph (src/io/onnx.ts). Exit codes as `udi`'s:
 * 0 success, 1 a user error (one message), 2 bad usage.
 */
import { basename, dirname, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DataError } from './data/dataset.js';
import { loadModel, writeFileAtomic } from './io/checkpoint-file.js';
import { checkpointFiles } from './cli-train.js';
import { UsageError } from './cli-text.js';
import { exportOnnx } from './io/onnx.js';
import { createRuntime } from './index.js';

const EXPORT_FORMATS = ['onnx'] as const;

export const EXPORT_HELP = `udi export: a checkpoint as an ONNX model (input standardisation, encoders, heads and fusion in
one graph; opset 13), to run in onnxruntime (web, node, Python), or any ONNX runtime.

Usage:
  udi export --checkpoint DIR|FILE [--format onnx] [--out FILE] [--per-modality] [--inputs-as-is]
      --checkpoint DIR|FILE   a udi train output folder (its model.safetensors) or a checkpoint file
      --format onnx           the only format (default)
      --out FILE              where to write (default: model.onnx next to the checkpoint)
      --per-modality          also output probs_<modality>, each fused modality's own probabilities
                              (late-fusion models)
      --inputs-as-is          for a checkpoint that records no input standardisation: the graph takes
                              its inputs as they are (only right if the model was trained on them so)

  The graph has one float32 input [N, dim] per modality it predicts from, named by the modality
  (raw features: the checkpoint's standardisation is inside), and outputs probs [N, classes].
`;

/** The checkpoint file and the default output for --checkpoint (a folder or a file). */
async function paths(ckpt: string): Promise<{ model: string; onnx: string }> {
  const { isDir, model } = await checkpointFiles(ckpt);
  return { model, onnx: isDir ? join(ckpt, 'model.onnx') : join(dirname(ckpt), `${basename(ckpt, extname(ckpt))}.onnx`) };
}

/** `udi export ARGS`; bad usage throws UsageError or parseArgs' error, which the udi command prints with the help hint (exit 2). */
export async function exportCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      checkpoint: { type: 'string' },
      format: { type: 'string', default: 'onnx' },
      out: { type: 'string' },
      'per-modality': { type: 'boolean' },
      'inputs-as-is': { type: 'boolean' },
    },
  });
  if (!values.checkpoint) throw new UsageError('--checkpoint is required: DIR (a udi train output folder) or --checkpoint FILE.safetensors');
  if (!(EXPORT_FORMATS as readonly string[]).includes(values.format!)) throw new UsageError(`--format must be ${EXPORT_FORMATS.join(' or ')}, got "${values.format}"`);
  const files = await paths(values.checkpoint);
  const out = values.out ?? files.onnx;
  const rt = await createRuntime({ threads: 1 });
  try {
    const { model, description } = await loadModel(rt, files.model);
    const carried = (model as { preprocess?: unknown }).preprocess ?? description.preprocess;
    if (carried === undefined && !values['inputs-as-is']) {
      throw new DataError(
        'ONNX_PREPROCESS',
        `${files.model} records no input standardisation, so the exported graph could not standardise raw inputs; ` +
          'if the model was trained on its inputs as they are, export with --inputs-as-is (otherwise re-save the model with its training statistics)',
      );
    }
    const late = model.fusion !== 'joint' && model.fusion !== 'head';
    if (values['per-modality'] && !late) throw new DataError('ONNX_PER_MODALITY', `--per-modality is for late-fusion models; ${files.model} is a ${model.method} model, which fuses inside its ${model.fusion === 'joint' ? 'joint' : 'fusion'} head`);
    const bytes = exportOnnx(model, { preprocess: carried === undefined ? {} : description.preprocess, perModality: values['per-modality'] });
    await writeFileAtomic(out, bytes);
    const inputs = (late ? model.modalities : description.modalities.map((m) => m.name)).map((m) => `${m} [N, ${description.modalities.find((s) => s.name === m)!.dim}]`);
    process.stderr.write(`wrote ${out} (${bytes.byteLength} bytes, ONNX opset 13): inputs ${inputs.join(', ')} (float32${carried === undefined ? '' : ', raw: standardised inside'}); output probs [N, ${description.classes}]\n`);
  } finally {
    rt.dispose();
  }
}
