import { invalidOption, VggError } from './errors.js';

/** One entry of a VGG feature configuration: a 3x3 conv with that many output channels, or 'M' for MaxPool2d(2, 2). */
export type VggLayerSpec = number | 'M';

/** The standard variants, named as in torchvision. */
export type VggVariantName = 'vgg11' | 'vgg13' | 'vgg16' | 'vgg19';

/** Configurations A, B, D and E of Simonyan & Zisserman (2015), as in torchvision's `cfgs`. */
export const VGG_CFGS: Readonly<Record<VggVariantName, readonly VggLayerSpec[]>> = {
  vgg11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  vgg19: [
    64,
    64,
    'M',
    128,
    128,
    'M',
    256,
    256,
    256,
    256,
    'M',
    512,
    512,
    512,
    512,
    'M',
    512,
    512,
    512,
    512,
    'M',
  ],
};

/** Names accepted by {@link resolveVggConfig} besides custom layer lists. */
export const VGG_VARIANT_NAMES: readonly string[] = [
  'vgg11',
  'vgg13',
  'vgg16',
  'vgg19',
  'vgg11_bn',
  'vgg13_bn',
  'vgg16_bn',
  'vgg19_bn',
];

/**
 * A fully resolved VGG network. The layout follows torchvision: `features` holds Conv3x3(pad 1) [+ BatchNorm2d] +
 * ReLU per number and MaxPool2d(2, 2) per 'M'; `avgpool` is AdaptiveAvgPool2d(poolSize); `classifier` is
 * Linear(C*poolSize², width) ReLU Dropout Linear(width, width) ReLU Dropout Linear(width, numClasses).
 */
export interface VggConfig {
  /** "vgg16", "vgg16_bn", or "custom[8,M,16,M]" / "custom_bn[8,M,16,M]" for layer lists. */
  readonly name: string;
  /** The feature layers in order. */
  readonly layers: readonly VggLayerSpec[];
  /** Whether each conv is followed by BatchNorm2d (eps 1e-5). */
  readonly batchNorm: boolean;
  /** Channels of the input image; always 3 (RGB). */
  readonly inChannels: number;
  /** Width of the two hidden fully connected layers (fc6, fc7). */
  readonly classifierWidth: number;
  /** Number of output classes (logits). */
  readonly numClasses: number;
  /** Height and width of the square input, in pixels. */
  readonly inputSize: number;
  /** Output height and width of the adaptive average pool before the classifier. */
  readonly poolSize: number;
}

/** Settings that change a named variant or complete a layer list. */
export interface VggConfigOverrides {
  /** Width of fc6 and fc7. Default 4096. */
  classifierWidth?: number;
  /** Number of classes. Default 1000. */
  numClasses?: number;
  /** Square input size in pixels. Default 224. */
  inputSize?: number;
  /** Add BatchNorm2d after every conv. Default false; a `_bn` suffix sets it. */
  batchNorm?: boolean;
  /** Output size of the adaptive average pool (torchvision: 7). Default 7. */
  poolSize?: number;
}

export const DEFAULT_CLASSIFIER_WIDTH = 4096;
export const DEFAULT_NUM_CLASSES = 1000;
export const DEFAULT_INPUT_SIZE = 224;
export const DEFAULT_POOL_SIZE = 7;
/** Upper bound on channel counts, widths and sizes, so a typo cannot ask for terabytes of weights. */
const MAX_DIM = 1 << 20;

const SPEC_HELP =
  "a VGG variant (vgg11, vgg13, vgg16, vgg19, optionally with _bn) or a layer list such as \"[64,'M',128,'M']\"";

/**
 * Parses a model spec: a variant name ("vgg16", "vgg16_bn") or a layer list in Python, JSON or bare form
 * ("[8,'M',16,'M']", "[8,\"M\",16,\"M\"]", "8,M,16,M"), and applies the overrides.
 */
export function resolveVggConfig(spec: string, overrides: VggConfigOverrides = {}): VggConfig {
  if (typeof spec !== 'string' || spec.trim() === '') throw invalidOption('model', SPEC_HELP, spec);
  const trimmed = spec.trim();
  const classifierWidth = positiveInteger(
    'classifierWidth',
    overrides.classifierWidth,
    DEFAULT_CLASSIFIER_WIDTH,
  );
  const numClasses = positiveInteger('numClasses', overrides.numClasses, DEFAULT_NUM_CLASSES);
  const inputSize = positiveInteger('inputSize', overrides.inputSize, DEFAULT_INPUT_SIZE);
  const poolSize = positiveInteger('poolSize', overrides.poolSize, DEFAULT_POOL_SIZE);
  if (overrides.batchNorm !== undefined && typeof overrides.batchNorm !== 'boolean') {
    throw invalidOption('batchNorm', 'boolean', overrides.batchNorm);
  }

  let layers: readonly VggLayerSpec[];
  let baseName: string | null;
  let batchNorm = overrides.batchNorm ?? false;
  const variant = /^(vgg(?:11|13|16|19))(_bn)?$/i.exec(trimmed);
  if (variant) {
    const key = variant[1]!.toLowerCase() as VggVariantName;
    layers = VGG_CFGS[key];
    baseName = key;
    if (variant[2]) {
      if (overrides.batchNorm === false) {
        throw new VggError(
          'VGG_INVALID_OPTION',
          `Expected batchNorm to be true or unset for model ${JSON.stringify(trimmed)} but received false`,
          { option: 'batchNorm' },
        );
      }
      batchNorm = true;
    }
  } else {
    layers = parseLayerList(trimmed);
    baseName = null;
  }

  const name =
    baseName !== null
      ? `${baseName}${batchNorm ? '_bn' : ''}`
      : `custom${batchNorm ? '_bn' : ''}[${layers.map(String).join(',')}]`;
  const config: VggConfig = {
    name,
    layers,
    batchNorm,
    inChannels: 3,
    classifierWidth,
    numClasses,
    inputSize,
    poolSize,
  };
  featureOutputSize(config);
  return config;
}

/** Spatial size after the feature extractor; throws when the max-pools shrink the input to nothing. */
export function featureOutputSize(config: Pick<VggConfig, 'layers' | 'inputSize'>): number {
  let size = config.inputSize;
  let pools = 0;
  for (const layer of config.layers) {
    if (layer !== 'M') continue;
    pools += 1;
    size = Math.floor(size / 2);
    if (size < 1) {
      throw new VggError(
        'VGG_INVALID_OPTION',
        `Expected inputSize of at least ${2 ** pools} for a model with ${pools} max-pools but received ${config.inputSize}`,
        { option: 'inputSize' },
      );
    }
  }
  return size;
}

/** Channels leaving the feature extractor (the last conv's width). */
export function featureOutputChannels(config: Pick<VggConfig, 'layers' | 'inChannels'>): number {
  let channels = config.inChannels;
  for (const layer of config.layers) if (layer !== 'M') channels = layer;
  return channels;
}

function parseLayerList(text: string): VggLayerSpec[] {
  let body = text;
  if (body.startsWith('[') || body.endsWith(']')) {
    if (!(body.startsWith('[') && body.endsWith(']'))) throw invalidOption('model', SPEC_HELP, text);
    body = body.slice(1, -1);
  }
  const tokens = body.split(',').map((token) => token.trim());
  if (tokens.length > 0 && tokens[tokens.length - 1] === '') tokens.pop();
  if (tokens.length === 0) throw invalidOption('model', SPEC_HELP, text);
  const layers: VggLayerSpec[] = [];
  for (const token of tokens) {
    const unquoted = /^(['"])(.*)\1$/.exec(token)?.[2] ?? token;
    if (/^m$/i.test(unquoted)) {
      layers.push('M');
    } else if (/^\d+$/.test(unquoted) && token === unquoted) {
      const channels = Number(unquoted);
      if (channels < 1 || channels > MAX_DIM) {
        throw new VggError(
          'VGG_INVALID_OPTION',
          `Expected channel counts between 1 and ${MAX_DIM} in model but received ${unquoted} in ${JSON.stringify(text)}`,
          { option: 'model' },
        );
      }
      layers.push(channels);
    } else {
      throw new VggError(
        'VGG_INVALID_OPTION',
        `Expected ${SPEC_HELP} for model but received ${JSON.stringify(text)} (cannot read item ${JSON.stringify(token)})`,
        { option: 'model' },
      );
    }
  }
  if (!layers.some((layer) => layer !== 'M')) {
    throw new VggError(
      'VGG_INVALID_OPTION',
      `Expected at least one conv layer in model but received ${JSON.stringify(text)}`,
      { option: 'model' },
    );
  }
  return layers;
}

function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_DIM) {
    throw invalidOption(name, `positive integer (at most ${MAX_DIM})`, value);
  }
  return value;
}
