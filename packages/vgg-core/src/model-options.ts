import { basename } from 'node:path';
import type { FlagTable, FlagValues } from 'vgg-cli-kit';
import {
  DEFAULT_CLASSIFIER_WIDTH,
  DEFAULT_INPUT_SIZE,
  DEFAULT_NUM_CLASSES,
  DEFAULT_POOL_SIZE,
  resolveVggConfig,
} from './model-config.js';
import { DEFAULT_MODEL, DEFAULT_SEED, type ModelIdentity, type ModelOptions } from './prepare-model.js';

/**
 * The one definition of how a model is chosen on a command line: `vgg-model predict` and `inspect` take these
 * flags, and the pipeline's run options include them (naming files by URI). Keys are {@link ModelOptions}' names,
 * except that `weights` and `onnx` are the files behind `weightsPath` and `onnxPath`. Defaults are vgg-core's and
 * are applied by {@link prepareModel}, so an unset flag stays unset.
 */
export const MODEL_FLAGS = {
  model: {
    kind: 'string',
    valueName: 'variant|cfg',
    defaultText: DEFAULT_MODEL,
    conflicts: ['onnx'],
    description: 'vgg11|vgg13|vgg16|vgg19[_bn] or a layer list like "[64,M,128,M]"',
  },
  weights: {
    kind: 'string',
    valueName: 'file',
    conflicts: ['onnx', 'seed'],
    description: 'torchvision state_dict as .safetensors',
  },
  onnx: {
    kind: 'string',
    valueName: 'file',
    conflicts: ['seed'],
    description: 'a VGG .onnx file (logits as first output; no taps)',
  },
  seed: {
    kind: 'integer',
    min: 0,
    defaultText: String(DEFAULT_SEED),
    description: 'seed of the deterministic init used without weights (outputs are marked untrained)',
  },
  classifierWidth: {
    kind: 'integer',
    min: 1,
    defaultText: String(DEFAULT_CLASSIFIER_WIDTH),
    conflicts: ['onnx'],
    description: 'width of fc6 and fc7',
  },
  numClasses: {
    kind: 'integer',
    min: 1,
    defaultText: String(DEFAULT_NUM_CLASSES),
    description: 'number of classes',
  },
  inputSize: {
    kind: 'integer',
    min: 1,
    valueName: 'px',
    defaultText: String(DEFAULT_INPUT_SIZE),
    description: 'side of the square model input',
  },
  batchNorm: {
    kind: 'boolean',
    conflicts: ['onnx'],
    description: 'BatchNorm after every conv (variants use the _bn suffix)',
  },
  poolSize: {
    kind: 'integer',
    min: 1,
    defaultText: String(DEFAULT_POOL_SIZE),
    conflicts: ['onnx'],
    description: 'output side of the adaptive average pool',
  },
  precision: {
    kind: 'choice',
    choices: ['float32', 'float16'],
    conflicts: ['onnx'],
    defaultText: 'float32',
    description:
      'element type inside the graph: float16 is for CUDA (inputs and outputs stay float32; outputs differ by ~1e-3)',
  },
} as const satisfies FlagTable;

/** A model choice as {@link MODEL_FLAGS} give it: unset flags are absent, `batchNorm` is always a boolean. */
export type ModelFlagValues = FlagValues<typeof MODEL_FLAGS>;

/**
 * The {@link ModelOptions} of a model choice (other keys of `values` are ignored). `weights` and `onnx` become
 * `weightsPath` and `onnxPath`; callers whose choice names files by URI pass local copies in `files`. A `batchNorm`
 * of false is left out, so a `_bn` variant's name decides.
 */
export function modelOptionsOf(
  values: Readonly<ModelFlagValues>,
  files: { weightsPath?: string; onnxPath?: string } = {},
): ModelOptions {
  const chosen: Record<string, unknown> = {};
  for (const key of Object.keys(MODEL_FLAGS) as (keyof ModelFlagValues)[]) {
    const value = values[key];
    if (value !== undefined && value !== false) chosen[key] = value;
  }
  const { weights, onnx, ...architecture } = chosen as Partial<ModelFlagValues>;
  const weightsPath = files.weightsPath ?? weights;
  const onnxPath = files.onnxPath ?? onnx;
  return {
    ...architecture,
    ...(weightsPath !== undefined ? { weightsPath } : {}),
    ...(onnxPath !== undefined ? { onnxPath } : {}),
  };
}

/** What can be said of a model before it is prepared: the identity fields that do not need the weights. */
export type RequestedModelIdentity = Pick<ModelIdentity, 'variant' | 'source' | 'untrained' | 'seed'>;

/**
 * The identity {@link prepareModel} will give these options, as far as it is known without reading any file:
 * the variant name, where the weights come from, whether they are untrained (seeded), and the seed.
 */
export function describeRequestedModel(options: ModelOptions): RequestedModelIdentity {
  if (options.onnxPath !== undefined) {
    return { variant: `onnx:${basename(options.onnxPath)}`, source: 'onnx', untrained: false, seed: null };
  }
  const {
    weightsPath,
    seed,
    model,
    cacheDir: _cacheDir,
    onnxPath: _onnxPath,
    precision: _precision,
    ...overrides
  } = options;
  const variant = resolveVggConfig(model ?? DEFAULT_MODEL, overrides).name;
  if (weightsPath !== undefined) return { variant, source: 'safetensors', untrained: false, seed: null };
  return { variant, source: 'seeded', untrained: true, seed: seed ?? DEFAULT_SEED };
}
