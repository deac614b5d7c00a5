// Public API of vgg-index: embedding indexes over a run's outputs.

export { IndexError, isIndexError } from './errors.js';
export type { IndexErrorCode } from './errors.js';

// --- HNSW settings and the native index ---
export {
  DEFAULT_HNSW_SETTINGS,
  estimateIndexSize,
  INDEX_METRICS,
  INDEX_QUANTIZATIONS,
  quantizationBytes,
  resolveHnswSettings,
} from './hnsw/hnsw-settings.js';
export type {
  HnswOptions,
  HnswSettings,
  IndexMetric,
  IndexQuantization,
  IndexSizeEstimate,
} from './hnsw/hnsw-settings.js';
export { usearchVersion } from './hnsw/native-index.js';

// --- command-line options (the one definition the CLI derives its flags from) ---
export { BUILD_FLAGS, DEDUP_FLAGS, INFO_FLAGS, QUERY_FLAGS } from './options/index-flags.js';

// --- formats: index manifest, sidecar ---
export { INDEX_FORMAT, INDEX_MANIFEST_KEY, parseIndexManifest } from './format/index-manifest.js';
export type { IndexManifest, IndexPart } from './format/index-manifest.js';
export { decodeSidecar } from './format/sidecar.js';
export type { SidecarRow } from './format/sidecar.js';

// --- run outputs ---
export { findRunTap, openRun } from './run/run-output.js';
export type { RunOutput } from './run/run-output.js';
export { readShardVectors } from './run/shard-vectors.js';
export type { ShardVectors } from './run/shard-vectors.js';
export { streamShardVectors } from './run/stream-shards.js';

// --- build ---
export { buildIndex } from './build/build-index.js';
export type { BuildIndexOptions, BuildIndexResult, BuildProgress } from './build/build-index.js';
export { DEFAULT_MEMORY_FRACTION, defaultMaxPartVectors, planParts } from './build/part-plan.js';
export type { PlannedPart } from './build/part-plan.js';

// --- query ---
export { IndexReader, readIndexManifest } from './query/index-reader.js';
export type { OpenIndexOptions } from './query/index-reader.js';
export { mergeNeighbours } from './query/merge-neighbours.js';
export type { Neighbour } from './query/merge-neighbours.js';
export { embedImages } from './query/embed-images.js';
export type { EmbedImagesOptions } from './query/embed-images.js';
export { describeNeighbours, storedVectorOf } from './query/query-inputs.js';
export type { QueryMatch } from './query/query-inputs.js';
export { openIndexedRun, partVectors, vectorsOfRows } from './query/run-vectors.js';
export { readNpyVectors } from './format/npy-read.js';
export type { NpyVectors } from './format/npy-read.js';

// --- near duplicates ---
export { findDuplicates } from './dedup/find-duplicates.js';
export type { FindDuplicatesOptions, FindDuplicatesResult } from './dedup/find-duplicates.js';
export type { ClusterMember, DuplicateMatch, DuplicatePair } from './dedup/dedup-tables.js';
