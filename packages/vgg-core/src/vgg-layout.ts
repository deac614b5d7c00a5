import { featureOutputChannels, featureOutputSize, type VggConfig } from './model-config.js';

/** A 3x3 conv (with its optional batch norm and its ReLU) in `features`. */
export interface VggConvStage {
  readonly kind: 'conv';
  /** Stage between max-pools, 1-based (VGG16: 1..5). */
  readonly block: number;
  /** Conv index within its block, 1-based. */
  readonly layer: number;
  /** torchvision index of the Conv2d in `features`. */
  readonly convIndex: number;
  /** torchvision index of the BatchNorm2d in `features`, or null without batch norm. */
  readonly bnIndex: number | null;
  /** torchvision index of the ReLU in `features`. */
  readonly reluIndex: number;
  readonly inChannels: number;
  readonly outChannels: number;
  /** Height and width of input and output (padding 1 keeps them). */
  readonly size: number;
}

/** A MaxPool2d(2, 2) in `features`. */
export interface VggPoolStage {
  readonly kind: 'pool';
  /** The block this pool closes, 1-based. */
  readonly block: number;
  readonly index: number;
  readonly channels: number;
  readonly inSize: number;
  readonly outSize: number;
}

export type VggFeatureStage = VggConvStage | VggPoolStage;

/** A Linear layer of the classifier. */
export interface VggLinearStage {
  /** "fc6", "fc7" or "fc8" (logits). */
  readonly name: 'fc6' | 'fc7' | 'fc8';
  /** torchvision index in `classifier`. */
  readonly index: 0 | 3 | 6;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Whether ReLU (and, in training, Dropout) follows. */
  readonly relu: boolean;
}

export interface VggLayout {
  readonly features: readonly VggFeatureStage[];
  /** Channels and spatial size of the feature output (input of the adaptive pool). */
  readonly featureChannels: number;
  readonly featureSize: number;
  readonly classifier: readonly [VggLinearStage, VggLinearStage, VggLinearStage];
}

/** Lays out the network with torchvision's module indices and the literature's block/layer numbering. */
export function vggLayout(config: VggConfig): VggLayout {
  const features: VggFeatureStage[] = [];
  let index = 0;
  let block = 1;
  let layerInBlock = 0;
  let channels = config.inChannels;
  let size = config.inputSize;
  for (const spec of config.layers) {
    if (spec === 'M') {
      const outSize = Math.floor(size / 2);
      features.push({ kind: 'pool', block, index, channels, inSize: size, outSize });
      index += 1;
      size = outSize;
      block += 1;
      layerInBlock = 0;
    } else {
      layerInBlock += 1;
      const convIndex = index;
      const bnIndex = config.batchNorm ? index + 1 : null;
      const reluIndex = index + (config.batchNorm ? 2 : 1);
      features.push({
        kind: 'conv',
        block,
        layer: layerInBlock,
        convIndex,
        bnIndex,
        reluIndex,
        inChannels: channels,
        outChannels: spec,
        size,
      });
      index = reluIndex + 1;
      channels = spec;
    }
  }
  const featureChannels = featureOutputChannels(config);
  const featureSize = featureOutputSize(config);
  const flat = featureChannels * config.poolSize * config.poolSize;
  const width = config.classifierWidth;
  return {
    features,
    featureChannels,
    featureSize,
    classifier: [
      { name: 'fc6', index: 0, inFeatures: flat, outFeatures: width, relu: true },
      { name: 'fc7', index: 3, inFeatures: width, outFeatures: width, relu: true },
      { name: 'fc8', index: 6, inFeatures: width, outFeatures: config.numClasses, relu: false },
    ],
  };
}

/** The literature's name of a conv: conv{block}_{layer}. */
export function convName(stage: VggConvStage): string {
  return `conv${stage.block}_${stage.layer}`;
}

/**
 * Start and end (exclusive) of each output cell of an adaptive average pool, exactly as PyTorch computes them:
 * start = floor(i * in / out), end = ceil((i + 1) * in / out).
 */
export function adaptivePoolBins(inSize: number, outSize: number): Array<[number, number]> {
  const bins: Array<[number, number]> = [];
  for (let i = 0; i < outSize; i++) {
    bins.push([Math.floor((i * inSize) / outSize), Math.ceil(((i + 1) * inSize) / outSize)]);
  }
  return bins;
}
