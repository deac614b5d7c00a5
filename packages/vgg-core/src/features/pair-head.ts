import type { GraphOps } from './graph-ops.js';

/** LPIPS's VGG layers: the last ReLU of each of VGG16's five blocks. */
export const LPIPS_LAYERS = ['relu1_2', 'relu2_2', 'relu3_3', 'relu4_3', 'relu5_3'] as const;
/** The default layer of the feature reconstruction loss (Johnson et al. use relu2_2). */
export const DEFAULT_CONTENT_LAYER = 'relu2_2';
/** ONNX output name of the pair head: [pairs, columns]. */
export const PAIR_OUTPUT = 'pair';
/**
 * Smallest width and height of whole images scored at their own size (geometry 'native'): relu5_3 comes after four
 * 2×2 max pools, so 16 pixels leave it one position.
 */
export const MIN_NATIVE_SIDE = 16;
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
    return found.value;
  };
  // a − b without splitting the batch: [2N, C, H, W] viewed as [2, N·C·H·W] (a's first, then b's) times [1, −1]
  // gives [1, N·C·H·W], reshaped to [N, C, H, W]. One pass over the features instead of a Split copy and a Sub,
  // and exact (1·a + (−1)·b rounds once, as a − b does), so identical images still give exactly 0.
  const minusOne = g.floatConstant('pair.minus', [1, 2], new Float32Array([1, -1]));
  const difference = (x: string, name: string) => {
    const rows = g.node('Reshape', `${name}.rows`, [x, g.int64Constant([2, -1])], `${name}.rows`);
    const flat = g.node('MatMul', `${name}.mm`, [minusOne, rows], `${name}.mm`);
    const dims = g.node('Shape', `${name}.dims`, [x], `${name}.dims`, [g.int('start', 1)]);
    const shape = g.node('Concat', `${name}.shape`, [g.int64Constant([-1]), dims], `${name}.shape`, [
      g.int('axis', 0),
    ]);
    return g.node('Reshape', name, [flat, shape], name);
  };
  const toColumn = (name: string, value: string) =>
    g.node('Unsqueeze', `${name}.col`, [value, g.int64Constant([1])], `${name}.col`);
  const epsilon = g.floatConstant('pair.epsilon', [], new Float32Array([LPIPS_EPSILON]));

  const terms: string[] = [];
  for (const layer of options.layers) {
    const p = `pair.lpips_${layer}`;
    // LPIPS's normalize_tensor on both images at once: f / (sqrt(sum_c f²) + eps).
    const x = feature(layer);
    const squares = g.node('ReduceSumSquare', `${p}.ss`, [x], `${p}.ss`, [
      g.ints('axes', [1]),
      g.int('keepdims', 1),
    ]);
    const norm = g.node('Sqrt', `${p}.norm`, [squares], `${p}.norm`);
    const denominator = g.node('Add', `${p}.den`, [norm, epsilon], `${p}.den`);
    const unit = g.node('Div', `${p}.unit`, [x, denominator], `${p}.unit`);
    let diff = difference(unit, `${p}.diff`);
    const weights = options.linearWeights?.get(layer);
    if (weights !== undefined) {
      // Σ w·d² = Σ (√w·d)²: LPIPS's weights are non-negative (a ReLU-free 1×1 conv trained to stay so).
      const root = Float32Array.from(weights, (w) => Math.sqrt(Math.max(0, w)));
      const w = g.floatConstant(`${p}.lin`, [1, root.length, 1, 1], root);
      diff = g.node('Mul', `${p}.weighted`, [diff, w], `${p}.weighted`);
    }
    const summed = g.node('ReduceSumSquare', `${p}.sum`, [diff], `${p}.sum`, [
      g.ints('axes', [1]),
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
  const contentDiff = difference(feature(options.contentLayer), `${c}.diff`);
  const contentSquared = g.node('Mul', `${c}.sq`, [contentDiff, contentDiff], `${c}.sq`);
  const content = g.node('ReduceMean', `${c}.mean`, [contentSquared], `${c}.mean`, [
    g.ints('axes', [1, 2, 3]),
    g.int('keepdims', 0),
  ]);
  return g.node('Concat', PAIR_OUTPUT, [total, ...terms, toColumn(c, content)], PAIR_OUTPUT, [
    g.int('axis', 1),
  ]);
}
