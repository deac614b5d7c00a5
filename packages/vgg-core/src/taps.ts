import { VggError } from './errors.js';
import type { VggConfig } from './model-config.js';
import { vggLayout } from './vgg-layout.js';

/**
 * Where a tap comes from:
 * - `conv`: the ReLU output of conv{block}_{layer}, named relu{block}_{layer} as in the perceptual-loss
 *   literature, globally average-pooled over height and width to a fixed [N, C] embedding;
 * - `pool5`: the feature extractor's output (for standard variants the last MaxPool, 512x7x7 at 224), globally
 *   average-pooled to [N, C];
 * - `fc6`, `fc7`: the hidden classifier layers after ReLU, [N, classifierWidth];
 * - `logits`: the last Linear, [N, numClasses]; `probs`: softmax of the logits over classes.
 */
export type VggTapKind = 'conv' | 'pool5' | 'fc6' | 'fc7' | 'logits' | 'probs';

export interface VggTap {
  /** Tap name, also the ONNX output name: "relu3_3", "pool5", "fc7", "logits", "probs". */
  readonly name: string;
  readonly kind: VggTapKind;
  /** Length of the per-image vector. */
  readonly dim: number;
}

/** All taps of a configuration, in network order (conv taps, pool5, fc6, fc7, logits, probs). */
export function listTaps(config: VggConfig): VggTap[] {
  const layout = vggLayout(config);
  const taps: VggTap[] = [];
  for (const stage of layout.features) {
    if (stage.kind === 'conv') {
      taps.push({ name: `relu${stage.block}_${stage.layer}`, kind: 'conv', dim: stage.outChannels });
    }
  }
  taps.push({ name: 'pool5', kind: 'pool5', dim: layout.featureChannels });
  taps.push({ name: 'fc6', kind: 'fc6', dim: config.classifierWidth });
  taps.push({ name: 'fc7', kind: 'fc7', dim: config.classifierWidth });
  taps.push({ name: 'logits', kind: 'logits', dim: config.numClasses });
  taps.push({ name: 'probs', kind: 'probs', dim: config.numClasses });
  return taps;
}

/** Looks up one tap; throws VGG_UNKNOWN_TAP listing the available ones. */
export function getTap(config: VggConfig, name: string): VggTap {
  const taps = listTaps(config);
  const tap = taps.find((t) => t.name === name);
  if (!tap) {
    throw new VggError(
      'VGG_UNKNOWN_TAP',
      `Expected one of ${taps.map((t) => t.name).join(', ')} for tap of ${config.name} but received ${JSON.stringify(name)}`,
    );
  }
  return tap;
}

/** Embedding length of a tap (see {@link getTap}). */
export function tapDim(config: VggConfig, name: string): number {
  return getTap(config, name).dim;
}
