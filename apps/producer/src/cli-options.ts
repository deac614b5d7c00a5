import { type Command, InvalidArgumentError, Option } from 'commander';
import type { RunModelSpec, RunOutputSpec, RunPreprocessSpec } from 'vgg-pipeline';

/** Raw values of the options added by {@link addRunOptions}. */
export interface RunCliValues {
  model: string;
  weights?: string;
  onnx?: string;
  seed: number;
  classifierWidth?: number;
  numClasses?: number;
  inputSize?: number;
  batchNorm?: boolean;
  poolSize?: number;
  top: number;
  taps?: string;
  l2?: boolean;
  fp16?: boolean;
  npy?: boolean;
  resizeSize?: number;
  cropSize?: number;
  caffe?: boolean;
  maxPixels?: number;
  chunkSize: number;
  attempts: number;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n <= 0) {
    throw new InvalidArgumentError(`Expected positive integer but received ${JSON.stringify(value)}.`);
  }
  return n;
}

function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`Expected non-negative integer but received ${JSON.stringify(value)}.`);
  }
  return n;
}

/** Model, output and chunking options shared by `vgg-producer submit` and `vgg-local`, each with a VGG_ env twin. */
export function addRunOptions(command: Command): Command {
  const opt = (flags: string, description: string, env: string) => new Option(flags, description).env(env);
  return command
    .addOption(
      opt(
        '--model <variant|cfg>',
        'vgg11|vgg13|vgg16|vgg19[_bn] or a cfg list like "[64,M,128,M]"',
        'VGG_MODEL',
      ).default('vgg16'),
    )
    .addOption(
      opt(
        '--weights <uri>',
        'torchvision state_dict as .safetensors (path, s3:// or https://)',
        'VGG_WEIGHTS',
      ),
    )
    .addOption(
      opt('--onnx <uri>', 'a VGG ONNX file (path, s3:// or https://); excludes --weights', 'VGG_ONNX'),
    )
    .addOption(
      opt(
        '--seed <n>',
        'seed of the deterministic init used without weights (outputs are marked untrained)',
        'VGG_SEED',
      )
        .argParser(parseNonNegativeInt)
        .default(0),
    )
    .addOption(
      opt('--classifier-width <n>', 'fc6/fc7 width (default 4096)', 'VGG_CLASSIFIER_WIDTH').argParser(
        parsePositiveInt,
      ),
    )
    .addOption(
      opt('--num-classes <n>', 'classifier outputs (default 1000)', 'VGG_NUM_CLASSES').argParser(
        parsePositiveInt,
      ),
    )
    .addOption(
      opt('--input-size <px>', 'model input side (default 224)', 'VGG_INPUT_SIZE').argParser(
        parsePositiveInt,
      ),
    )
    .addOption(
      opt('--batch-norm', 'use batch norm with a cfg list (variants use the _bn suffix)', 'VGG_BATCH_NORM'),
    )
    .addOption(
      opt('--pool-size <n>', 'adaptive average pool output side (default 7)', 'VGG_POOL_SIZE').argParser(
        parsePositiveInt,
      ),
    )
    .addOption(
      opt('--top <k>', 'top-k predictions per image', 'VGG_TOP').argParser(parsePositiveInt).default(5),
    )
    .addOption(
      opt(
        '--taps <list>',
        'embedding taps: fc6,fc7,pool5,relu1_2,relu2_2,relu3_3,relu4_3,... (default none)',
        'VGG_TAPS',
      ),
    )
    .addOption(opt('--l2', 'L2-normalise embeddings', 'VGG_L2'))
    .addOption(opt('--fp16', 'store embeddings as float16', 'VGG_FP16'))
    .addOption(opt('--npy', 'also write clip-retrieval style .npy embedding shards', 'VGG_NPY'))
    .addOption(
      opt(
        '--resize-size <px>',
        'shorter side before the centre crop (default 256)',
        'VGG_RESIZE_SIZE',
      ).argParser(parsePositiveInt),
    )
    .addOption(
      opt('--crop-size <px>', 'centre crop side (default: the input size)', 'VGG_CROP_SIZE').argParser(
        parsePositiveInt,
      ),
    )
    .addOption(
      opt(
        '--caffe',
        'Caffe preprocessing: BGR, mean subtraction, no std (Caffe-converted weights)',
        'VGG_CAFFE',
      ),
    )
    .addOption(
      opt(
        '--max-pixels <n>',
        'refuse images with more pixels (decompression bombs)',
        'VGG_MAX_PIXELS',
      ).argParser(parsePositiveInt),
    )
    .addOption(
      opt('--chunk-size <n>', 'images per queue job', 'VGG_CHUNK_SIZE')
        .argParser(parsePositiveInt)
        .default(256),
    )
    .addOption(
      opt('--attempts <n>', 'tries per chunk before it is recorded as failed', 'VGG_ATTEMPTS')
        .argParser(parsePositiveInt)
        .default(3),
    );
}

export interface RunCliSpec {
  model: RunModelSpec;
  preprocess: RunPreprocessSpec;
  output: Omit<RunOutputSpec, 'out'>;
  chunkSize: number;
  attempts: number;
}

/** Turns parsed option values into the run's spec, refusing contradictions. */
export function runSpecFromCli(values: RunCliValues): RunCliSpec {
  if (values.weights && values.onnx) {
    throw new InvalidArgumentError(
      'Expected either --weights or --onnx but received both; a run uses one model file.',
    );
  }
  const taps = values.taps
    ? values.taps
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean)
    : [];
  if (new Set(taps).size !== taps.length)
    throw new InvalidArgumentError(`--taps lists a tap twice: ${values.taps}`);
  if ((values.l2 || values.fp16 || values.npy) && taps.length === 0) {
    throw new InvalidArgumentError(
      '--l2, --fp16 and --npy apply to embeddings; add --taps (for example --taps fc7).',
    );
  }
  const model: RunModelSpec = { model: values.model, seed: values.seed };
  if (values.weights) model.weights = values.weights;
  if (values.onnx) model.onnx = values.onnx;
  if (values.classifierWidth !== undefined) model.classifierWidth = values.classifierWidth;
  if (values.numClasses !== undefined) model.numClasses = values.numClasses;
  if (values.inputSize !== undefined) model.inputSize = values.inputSize;
  if (values.batchNorm) model.batchNorm = true;
  if (values.poolSize !== undefined) model.poolSize = values.poolSize;
  const preprocess: RunPreprocessSpec = {};
  // Keep torchvision's 256/224 ratio for other input sizes unless told otherwise.
  const resizeSize =
    values.resizeSize ??
    (values.inputSize !== undefined ? Math.round((values.inputSize * 256) / 224) : undefined);
  if (resizeSize !== undefined) preprocess.resizeSize = resizeSize;
  const cropSize = values.cropSize ?? values.inputSize;
  if (cropSize !== undefined) preprocess.cropSize = cropSize;
  if (values.caffe) preprocess.mode = 'caffe';
  if (values.maxPixels !== undefined) preprocess.maxPixels = values.maxPixels;
  return {
    model,
    preprocess,
    output: {
      topK: values.top,
      taps,
      l2Normalize: Boolean(values.l2),
      dtype: values.fp16 ? 'float16' : 'float32',
      npy: Boolean(values.npy),
    },
    chunkSize: values.chunkSize,
    attempts: values.attempts,
  };
}
