import { invalidOption } from '../errors.js';

/**
 * Distance of the index. `cos`: 1 − cosine similarity (scale-invariant). `ip`: 1 − dot product (meaningful on
 * L2-normalised vectors). `l2`: Euclidean distance (the index orders by its square; results report the root).
 */
export type IndexMetric = 'cos' | 'ip' | 'l2';

/** How vectors are stored in the index: 4, 2 or 1 byte per dimension. */
export type IndexQuantization = 'f32' | 'f16' | 'i8';

export const INDEX_METRICS: readonly IndexMetric[] = ['cos', 'ip', 'l2'];
export const INDEX_QUANTIZATIONS: readonly IndexQuantization[] = ['f32', 'f16', 'i8'];

/** HNSW settings of an index, as given by a caller; every field has a documented default. */
export interface HnswOptions {
  /** Default `cos`. */
  metric?: IndexMetric;
  /**
   * Default `f16`: half the memory of `f32` at the same recall on fc7 (BENCHMARKS.md). `i8` scales each vector to
   * unit length before rounding, so it is only offered with `cos`, where that scaling does not change distances.
   */
  quantization?: IndexQuantization;
  /** Graph edges per node (HNSW `M`); more gives better recall, more memory and slower builds. Default 16. */
  connectivity?: number;
  /** Candidates considered while inserting (`efConstruction`). Default 128. */
  expansionAdd?: number;
  /** Candidates considered per query (`ef`), at least k. Default 64. */
  expansionSearch?: number;
}

/** {@link HnswOptions} with every default applied; stored in the index manifest. */
export interface HnswSettings {
  metric: IndexMetric;
  quantization: IndexQuantization;
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
}

/** usearch's own defaults, which also measured well on fc7. */
export const DEFAULT_HNSW_SETTINGS: Readonly<HnswSettings> = {
  metric: 'cos',
  quantization: 'f16',
  connectivity: 16,
  expansionAdd: 128,
  expansionSearch: 64,
};

/** Validates options once, at the boundary, and applies the defaults. */
export function resolveHnswSettings(options: HnswOptions = {}): HnswSettings {
  const settings: HnswSettings = { ...DEFAULT_HNSW_SETTINGS };
  if (options.metric !== undefined) {
    if (!INDEX_METRICS.includes(options.metric)) {
      throw invalidOption('metric', `one of ${INDEX_METRICS.join(', ')}`, options.metric);
    }
    settings.metric = options.metric;
  }
  if (options.quantization !== undefined) {
    if (!INDEX_QUANTIZATIONS.includes(options.quantization)) {
      throw invalidOption('quantization', `one of ${INDEX_QUANTIZATIONS.join(', ')}`, options.quantization);
    }
    settings.quantization = options.quantization;
  }
  if (settings.quantization === 'i8' && settings.metric !== 'cos') {
    throw invalidOption(
      'quantization',
      `f32 or f16 with metric ${settings.metric} (i8 rescales every vector to unit length, which only cos ignores)`,
      'i8',
    );
  }
  const integer = (name: 'connectivity' | 'expansionAdd' | 'expansionSearch', min: number, max: number) => {
    const value = options[name];
    if (value === undefined) return;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw invalidOption(name, `integer from ${min} to ${max}`, value);
    }
    settings[name] = value;
  };
  integer('connectivity', 2, 256);
  integer('expansionAdd', 1, 100_000);
  integer('expansionSearch', 1, 100_000);
  return settings;
}

/** Bytes one stored scalar takes. */
export function quantizationBytes(quantization: IndexQuantization): number {
  return quantization === 'f32' ? 4 : quantization === 'f16' ? 2 : 1;
}

/** What an index of `count` vectors costs, from usearch's layout (calibrated in BENCHMARKS.md). */
export interface IndexSizeEstimate {
  /** Bytes of the saved index file. */
  fileBytes: number;
  /** Bytes of memory while building or after `load`; a memory-mapped `view` pages the file instead. */
  memoryBytes: number;
}

/**
 * Estimates an index's size. Per vector, usearch stores the quantised vector, a 64-bit key, a level, the base
 * layer's 2·M neighbour slots (4 bytes each, plus a count) and, on average, 1/(M−1) upper-layer lists of M slots;
 * in memory, capacity grows by powers of two, with two pointers and a lock bit per slot.
 */
export function estimateIndexSize(count: number, dim: number, settings: HnswSettings): IndexSizeEstimate {
  const m = settings.connectivity;
  const graph = 8 + 2 + (4 + 2 * m * 4) + (4 + m * 4) / (m - 1);
  const perVector = dim * quantizationBytes(settings.quantization) + graph;
  const capacity = count <= 1 ? 1 : 2 ** Math.ceil(Math.log2(count));
  return {
    fileBytes: Math.ceil(count * perVector + 64),
    memoryBytes: Math.ceil(count * perVector + capacity * 17),
  };
}
