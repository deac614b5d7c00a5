import type { GraphOps } from './graph-ops.js';

/**
 * Indices of the upper triangle (diagonal included) of a row-major C×C matrix, row by row: the layout of a Gram
 * tap's C·(C+1)/2 values.
 */
export function upperTriangleIndices(channels: number): Int32Array {
  const indices = new Int32Array((channels * (channels + 1)) / 2);
  let at = 0;
  for (let i = 0; i < channels; i++) {
    for (let j = i; j < channels; j++) indices[at++] = i * channels + j;
  }
  return indices;
}

/** Expands a Gram tap's upper triangle back to the full symmetric C×C matrix (row-major). */
export function gramMatrixFromUpper(upper: ArrayLike<number>, channels: number): Float64Array {
  const expected = (channels * (channels + 1)) / 2;
  if (upper.length !== expected) {
    throw new RangeError(`Expected ${expected} values (C = ${channels}) but received ${upper.length}`);
  }
  const full = new Float64Array(channels * channels);
  let at = 0;
  for (let i = 0; i < channels; i++) {
    for (let j = i; j < channels; j++) {
      const value = upper[at++] as number;
      full[i * channels + j] = value;
      full[j * channels + i] = value;
    }
  }
  return full;
}

/**
 * Adds the normalised Gram matrix of a float32 feature map `x` [N, C, H, W] as `output` [N, C·(C+1)/2]: F·Fᵀ over
 * the flattened map, divided by H·W (Gatys et al.; the per-position mean of channel products), upper triangle only.
 * `spatial` is H·W, fixed by the graph's input size.
 */
export function addGramNodes(
  g: GraphOps,
  x: string,
  channels: number,
  spatial: number,
  output: string,
): string {
  const flat = g.node('Reshape', `${output}.flat`, [x, g.int64Constant([0, channels, -1])], `${output}.flat`);
  const transposed = g.node('Transpose', `${output}.t`, [flat], `${output}.t`, [g.ints('perm', [0, 2, 1])]);
  const products = g.node('MatMul', `${output}.mm`, [flat, transposed], `${output}.mm`);
  const scale = g.floatConstant(`${output}.scale`, [], new Float32Array([spatial]));
  const gram = g.node('Div', `${output}.div`, [products, scale], `${output}.div`);
  const rows = g.node('Reshape', `${output}.rows`, [gram, g.int64Constant([0, -1])], `${output}.rows`);
  const indices = g.int64Tensor(`${output}.upper`, upperTriangleIndices(channels));
  return g.node('Gather', output, [rows, indices], output, [g.int('axis', 1)]);
}
