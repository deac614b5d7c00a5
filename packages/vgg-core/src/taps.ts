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
 * - `logits`: the last Linear, [N, numClasses]; `probs`: softmax of the logits over classes;
 * - `gram`: `gram:relu{block}_{layer}`, the normalised Gram matrix of that ReLU output (Gatys et al.'s style
 *   statistic), G = F·Fᵀ / (H·W) over the C×(H·W) feature map F, as its upper triangle, row by row (G[0,0],
 *   G[0,1], …, G[0,C-1], G[1,1], …): C·(C+1)/2 values. Not part of {@link listTaps} (every tap), only on request.
 */
export type VggTapKind = 'conv' | 'pool5' | 'fc6' | 'fc7' | 'logits' | 'probs' | 'gram';

/** Prefix of Gram taps: `gram:relu3_3`. */
export const GRAM_TAP_PREFIX = 'gram:';

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

/** The Gram taps of a configuration, one per conv tap, in network order (`gram:relu1_1`, …). */
export function listGramTaps(config: VggConfig): VggTap[] {
  return listTaps(config)
    .filter((tap) => tap.kind === 'conv')
    .map((tap) => ({
      name: `${GRAM_TAP_PREFIX}${tap.name}`,
      kind: 'gram',
      dim: (tap.dim * (tap.dim + 1)) / 2,
    }));
}

/** Looks up one tap (Gram taps included); throws VGG_UNKNOWN_TAP listing the available ones. */
export function getTap(config: VggConfig, name: string): VggTap {
  const taps = listTaps(config);
  const tap = taps.find((t) => t.name === name) ?? listGramTaps(config).find((t) => t.name === name);
  if (!tap) {
    throw new VggError(
      'VGG_UNKNOWN_TAP',
      `Expected one of ${taps.map((t) => t.name).join(', ')} or ${GRAM_TAP_PREFIX}<conv tap> for tap of ` +
        `${config.name} but received ${JSON.stringify(name)}`,
    );
  }
  return tap;
}

/** Embedding length of a tap (see {@link getTap}). */
export function tapDim(config: VggConfig, name: string): number {
  return getTap(config, name).dim;
}
