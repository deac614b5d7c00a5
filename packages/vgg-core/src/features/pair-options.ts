import { invalidOption, VggWeightsError } from '../errors.js';
import { sha256File } from '../file-cache.js';
import type { VggConfig } from '../model-config.js';
import { CONVERTIBLE_FLOAT_DTYPES, readSafetensors, tensorToFloat32 } from '../safetensors.js';
import { listTaps } from '../taps.js';
import { DEFAULT_CONTENT_LAYER, LPIPS_LAYERS, type PairHeadOptions } from './pair-head.js';

/** Pair scoring as a model option: which layers, and LPIPS's learned weights if any. */
export interface PairModelOptions {
  /** Layers of the perceptual distance. Default LPIPS's: relu1_2, relu2_2, relu3_3, relu4_3, relu5_3. */
  layers?: readonly string[];
  /** Layer of the feature reconstruction loss. Default relu2_2. */
  contentLayer?: string;
  /**
   * LPIPS's learned linear layers as safetensors, with LPIPS's own tensor names: `lin{i}.model.1.weight`, shape
   * [1, C, 1, 1], for the i-th of `layers` (convert LPIPS's `weights/v0.1/vgg.pth` with
   * `safetensors.torch.save_file(torch.load(path), out)`). Default: none (every channel weighs 1).
   */
  lpipsWeightsPath?: string;
}

/** Checks pair options against a configuration and fills in defaults; throws VGG_INVALID_OPTION. */
export function resolvePairLayers(
  config: VggConfig,
  options: PairModelOptions,
): { layers: readonly string[]; contentLayer: string } {
  const convs = listTaps(config)
    .filter((tap) => tap.kind === 'conv')
    .map((tap) => tap.name);
  const expected = `conv taps of ${config.name} (${convs.join(', ')})`;
  const layers = options.layers ?? LPIPS_LAYERS;
  if (!Array.isArray(layers) || layers.length === 0)
    throw invalidOption('pairLayers', 'non-empty list', layers);
  for (const layer of layers) {
    if (!convs.includes(layer)) throw invalidOption('pairLayers', expected, layer);
  }
  if (new Set(layers).size !== layers.length)
    throw invalidOption('pairLayers', 'each layer once', layers.join(','));
  const contentLayer = options.contentLayer ?? DEFAULT_CONTENT_LAYER;
  if (!convs.includes(contentLayer)) throw invalidOption('contentLayer', expected, contentLayer);
  return { layers, contentLayer };
}

/**
 * The pair head of a configuration: layers checked, LPIPS's linear weights read and checked against their layers'
 * channels. `weightsSha256` identifies the weights file (null without one), for cache keys and provenance.
 */
export async function loadPairHead(
  config: VggConfig,
  options: PairModelOptions,
): Promise<{ head: PairHeadOptions; weightsSha256: string | null }> {
  const { layers, contentLayer } = resolvePairLayers(config, options);
  const path = options.lpipsWeightsPath;
  if (path === undefined) return { head: { layers, contentLayer }, weightsSha256: null };
  const channels = new Map(listTaps(config).map((tap) => [tap.name, tap.dim]));
  const tensors = await readSafetensors(path);
  const linearWeights = new Map<string, Float32Array>();
  for (const [i, layer] of layers.entries()) {
    const name = `lin${i}.model.1.weight`;
    const c = channels.get(layer) as number;
    const tensor = tensors.get(name);
    const expectedShape = [1, c, 1, 1];
    if (tensor === undefined) {
      throw new VggWeightsError(
        { problem: 'missing', tensor: name, expectedShape, actualShape: null, path },
        `LPIPS weights ${path} lack ${name} [1, ${c}, 1, 1] (the linear layer of ${layer}); ` +
          `it holds ${[...tensors.keys()].join(', ') || 'no tensors'}`,
      );
    }
    if (tensor.shape.join() !== expectedShape.join()) {
      throw new VggWeightsError(
        { problem: 'shape', tensor: name, expectedShape, actualShape: tensor.shape, path },
        `LPIPS weights ${path}: ${name} should be [${expectedShape.join(', ')}] for ${layer} but is [${tensor.shape.join(', ')}]`,
      );
    }
    if (!CONVERTIBLE_FLOAT_DTYPES.includes(tensor.dtype)) {
      throw new VggWeightsError(
        { problem: 'dtype', tensor: name, expectedShape, actualShape: tensor.shape, path },
        `LPIPS weights ${path}: ${name} is ${tensor.dtype}; expected one of ${CONVERTIBLE_FLOAT_DTYPES.join(', ')}`,
      );
    }
    const values = Float32Array.from(tensorToFloat32(tensor));
    const negative = values.findIndex((w) => !(w >= 0));
    if (negative !== -1) {
      // LPIPS trains them clamped at 0; the graph computes Σ w·d² as Σ (√w·d)².
      throw new VggWeightsError(
        { problem: 'dtype', tensor: name, expectedShape, actualShape: tensor.shape, path },
        `LPIPS weights ${path}: ${name}[${negative}] is ${values[negative]}; LPIPS's linear weights are non-negative`,
      );
    }
    linearWeights.set(layer, values);
  }
  return { head: { layers, contentLayer, linearWeights }, weightsSha256: await sha256File(path) };
}
