import type { GraphOps } from './graph-ops.js';

/** LPIPS's VGG layers: the last ReLU of each of VGG16's five blocks. */
export const LPIPS_LAYERS = ['relu1_2', 'relu2_2', 'relu3_3', 'relu4_3', 'relu5_3'] as const;
/** The default layer of the feature reconstruction loss (Johnson et al. use relu2_2). */
export const DEFAULT_CONTENT_LAYER = 'relu2_2';
/** ONNX output name of the pair head: [pairs, columns]. */
export const PAIR_OUTPUT = 'pair';
/** LPIPS's normalize_tensor epsilon, added to each position's channel norm. */
export const LPIPS_EPSILON = 1e-10;

/** What the pair head computes, for a graph whose batch is [a_1 … a_N, b_1 … b_N]. */
export interface PairHeadOptions {
  /** Layers summed into the perceptual distance. Default {@link LPIPS_LAYERS}. */
  readonly layers: readonly string[];
  /** Layer of the feature reconstruction loss. Default {@link DEFAULT_CONTENT_LAYER}. */
  readonly contentLayer: string;
  /**
   * LPIPS's learned linear layers: per layer of `layers`, one non-negative weight per channel (the 1×1 conv
   * `lin{i}.model.1.weight` [1, C, 1, 1]). Absent: every channel weighs 1 (LPIPS's formula without learned weights).
   */
  readonly linearWeights?: ReadonlyMap<string, Float32Array>;
}

/**
 * The columns of the pair head's output, in order: `perceptual_distance`, one `lpips_<layer>` per layer (the terms
 * it sums), `feature_reconstruction_loss`.
 */
export function pairColumns(options: Pick<PairHeadOptions, 'layers'>): string[] {
  return [
    'perceptual_distance',
    ...options.layers.map((layer) => `lpips_${layer}`),
    'feature_reconstruction_loss',
  ];
}

/**
 * Adds the pair head over the float32 ReLU outputs `features` (by layer name, each [2N, C, H, W]):
 * - per layer, LPIPS's term: each position's C-vector divided by (its L2 norm + 1e-10), the squared difference of
 *   a and b summed over channels (weighted by `linearWeights` when given), averaged over space;
 * - `perceptual_distance`, the sum of the terms;
 * - the feature reconstruction loss at `contentLayer`: ‖φ(a) − φ(b)‖² / (C·H·W), the mean squared difference.
 * Output {@link PAIR_OUTPUT} is [N, columns] in the order of {@link pairColumns}: only scalars leave the graph.
 */
export function addPairHead(
  g: GraphOps,
  features: ReadonlyMap<string, { value: string; channels: number }>,
  options: PairHeadOptions,
): string {
  const feature = (layer: string) => {
    const found = features.get(layer);
    if (found === undefined) throw new Error(`addPairHead: no feature map for ${layer}`);
    return found;
  };
  const halves = (layer: string): [string, string] => {
    const [a, b] = g.nodeOutputs(
      'Split',
      `pair.${layer}.split`,
      [feature(layer).value],
      [`pair.${layer}.a`, `pair.${layer}.b`],
    );
    return [a as string, b as string];
  };
  const toColumn = (name: string, value: string) =>
    g.node('Unsqueeze', `${name}.col`, [value, g.int64Constant([1])], `${name}.col`);
  const epsilon = g.floatConstant('pair.epsilon', [], new Float32Array([LPIPS_EPSILON]));

  const split = new Map<string, [string, string]>();
  const halvesOf = (layer: string) => {
    let pair = split.get(layer);
    if (pair === undefined) {
      pair = halves(layer);
      split.set(layer, pair);
    }
    return pair;
  };

  const terms: string[] = [];
  for (const layer of options.layers) {
    const p = `pair.lpips_${layer}`;
    const [a, b] = halvesOf(layer);
    const unit = (x: string, side: string) => {
      const squares = g.node('ReduceSumSquare', `${p}.${side}.ss`, [x], `${p}.${side}.ss`, [
        g.ints('axes', [1]),
        g.int('keepdims', 1),
      ]);
      const norm = g.node('Sqrt', `${p}.${side}.norm`, [squares], `${p}.${side}.norm`);
      const denominator = g.node('Add', `${p}.${side}.den`, [norm, epsilon], `${p}.${side}.den`);
      return g.node('Div', `${p}.${side}.unit`, [x, denominator], `${p}.${side}.unit`);
    };
    const diff = g.node('Sub', `${p}.diff`, [unit(a, 'a'), unit(b, 'b')], `${p}.diff`);
    let squared = g.node('Mul', `${p}.sq`, [diff, diff], `${p}.sq`);
    const weights = options.linearWeights?.get(layer);
    if (weights !== undefined) {
      const w = g.floatConstant(`${p}.lin`, [1, weights.length, 1, 1], weights);
      squared = g.node('Mul', `${p}.weighted`, [squared, w], `${p}.weighted`);
    }
    const summed = g.node('ReduceSum', `${p}.sum`, [squared, g.int64Constant([1])], `${p}.sum`, [
      g.int('keepdims', 1),
    ]);
    const mean = g.node('ReduceMean', `${p}.mean`, [summed], `${p}.mean`, [
      g.ints('axes', [1, 2, 3]),
      g.int('keepdims', 0),
    ]);
    terms.push(toColumn(p, mean));
  }
  const total =
    terms.length === 1 ? (terms[0] as string) : g.node('Sum', 'pair.distance', terms, 'pair.distance');

  const c = 'pair.content';
  const [ca, cb] = halvesOf(options.contentLayer);
  const contentDiff = g.node('Sub', `${c}.diff`, [ca, cb], `${c}.diff`);
  const contentSquared = g.node('Mul', `${c}.sq`, [contentDiff, contentDiff], `${c}.sq`);
  const content = g.node('ReduceMean', `${c}.mean`, [contentSquared], `${c}.mean`, [
    g.ints('axes', [1, 2, 3]),
    g.int('keepdims', 0),
  ]);
  return g.node('Concat', PAIR_OUTPUT, [total, ...terms, toColumn(c, content)], PAIR_OUTPUT, [
    g.int('axis', 1),
  ]);
}
