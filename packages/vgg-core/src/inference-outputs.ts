// Turning raw network outputs into what callers keep: top-k classes and (normalised, converted) embeddings.
import { float32ToFloat16 } from './half-float.js';
import type { EmbeddingDtype } from './inference-protocol.js';

/**
 * The k best classes of each row of `scores` (count × numClasses), best first, ties to the lower class id.
 * With `softmax` the scores are logits and the returned probabilities are their softmax (computed in float64);
 * otherwise the scores already are probabilities.
 */
export function topKClasses(
  scores: Float32Array,
  count: number,
  numClasses: number,
  k: number,
  softmax: boolean,
): { classIds: Int32Array; probs: Float32Array } {
  const classIds = new Int32Array(count * k);
  const probs = new Float32Array(count * k);
  const bestIds = new Int32Array(k);
  const bestScores = new Float64Array(k);
  for (let n = 0; n < count; n += 1) {
    const row = scores.subarray(n * numClasses, (n + 1) * numClasses);
    let filled = 0;
    for (let c = 0; c < numClasses; c += 1) {
      const score = row[c]!;
      if (filled === k && !(score > bestScores[k - 1]!)) continue;
      // Insertion into the sorted best list; k is small, so this beats sorting all classes.
      let i = filled < k ? filled++ : k - 1;
      while (i > 0 && score > bestScores[i - 1]!) {
        bestScores[i] = bestScores[i - 1]!;
        bestIds[i] = bestIds[i - 1]!;
        i -= 1;
      }
      bestScores[i] = score;
      bestIds[i] = c;
    }
    let max = 0;
    let sum = 1;
    if (softmax) {
      max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < numClasses; c += 1) max = Math.max(max, row[c]!);
      sum = 0;
      for (let c = 0; c < numClasses; c += 1) sum += Math.exp(row[c]! - max);
    }
    for (let i = 0; i < k; i += 1) {
      classIds[n * k + i] = bestIds[i]!;
      probs[n * k + i] = softmax ? Math.exp(bestScores[i]! - max) / sum : bestScores[i]!;
    }
  }
  return { classIds, probs };
}

/**
 * A fresh copy of count × dim embeddings (never a view of onnxruntime's output, so it can be transferred),
 * optionally scaled to unit L2 norm per row (all-zero rows stay zero), in the requested dtype.
 */
export function embeddingRows(
  data: Float32Array,
  count: number,
  dim: number,
  l2Normalize: boolean,
  dtype: EmbeddingDtype,
): Float32Array | Uint16Array {
  const rows = data.slice(0, count * dim);
  if (l2Normalize) {
    for (let n = 0; n < count; n += 1) {
      const row = rows.subarray(n * dim, (n + 1) * dim);
      let squares = 0;
      for (let i = 0; i < dim; i += 1) squares += row[i]! * row[i]!;
      if (squares === 0) continue;
      const scale = 1 / Math.sqrt(squares);
      for (let i = 0; i < dim; i += 1) row[i] = row[i]! * scale;
    }
  }
  return dtype === 'float16' ? float32ToFloat16(rows) : rows;
}
