import type { FlagTable } from 'vgg-cli-kit';
import { MODEL_FLAGS } from 'vgg-core';
import { DEFAULT_HNSW_SETTINGS, INDEX_METRICS, INDEX_QUANTIZATIONS } from '../hnsw/hnsw-settings.js';

/**
 * THE definition of vgg-index's options on a command line: `vgg-index` derives its flags, environment twins
 * (`--max-part-vectors` <-> `VGG_INDEX_MAX_PART_VECTORS`) and --help from these tables. Keys are the option names
 * of {@link buildIndex}, {@link IndexReader.open} and {@link findDuplicates}, so parsed values pass straight through;
 * defaults are the library's own.
 */

const json = { kind: 'boolean', env: false, description: 'machine-readable output' } as const;
const cacheDir = {
  kind: 'string',
  valueName: 'dir',
  defaultText: '$XDG_CACHE_HOME/vgg-index or ~/.cache/vgg-index',
  description: 'where the parts of s3:// indexes are downloaded (named by sha256, reused)',
} as const;

/** `vgg-index build`. */
export const BUILD_FLAGS = {
  out: {
    kind: 'string',
    valueName: 'uri',
    required: true,
    description: 'where the index goes: a local directory or s3://bucket/prefix',
  },
  tap: {
    kind: 'string',
    valueName: 'name',
    defaultText: "fc7, or the run's only tap",
    description: 'the embedding tap to index',
  },
  metric: {
    kind: 'choice',
    choices: INDEX_METRICS,
    default: DEFAULT_HNSW_SETTINGS.metric,
    description: 'distance: cos (1 - cosine), ip (1 - dot, for --l2 runs) or l2 (Euclidean)',
  },
  quantization: {
    kind: 'choice',
    choices: INDEX_QUANTIZATIONS,
    default: DEFAULT_HNSW_SETTINGS.quantization,
    description: 'stored precision: f32, f16 (half the memory), i8 (a quarter; cos only)',
  },
  connectivity: {
    kind: 'integer',
    min: 2,
    max: 256,
    default: DEFAULT_HNSW_SETTINGS.connectivity,
    valueName: 'm',
    description: 'HNSW edges per vector (M)',
  },
  expansionAdd: {
    kind: 'integer',
    min: 1,
    default: DEFAULT_HNSW_SETTINGS.expansionAdd,
    description: 'HNSW candidates while inserting (efConstruction)',
  },
  expansionSearch: {
    kind: 'integer',
    min: 1,
    default: DEFAULT_HNSW_SETTINGS.expansionSearch,
    description: 'HNSW candidates per query (ef), stored as the default for queries',
  },
  maxPartVectors: {
    kind: 'integer',
    min: 1,
    defaultText: "what fits in half this machine's memory",
    description: 'vectors per part; bigger runs get several parts, built one after another',
  },
  threads: {
    kind: 'integer',
    min: 1,
    defaultText: 'all cores',
    description: 'native threads inserting vectors',
  },
  overwrite: { kind: 'boolean', description: 'replace an index already at --out' },
  json: { ...json, description: 'print the index manifest as JSON instead of a summary' },
} as const satisfies FlagTable;

/** `vgg-index query`: the query, the search, and (for --image) the run's model as vgg-core's model flags. */
export const QUERY_FLAGS = {
  image: {
    kind: 'string',
    valueName: 'file',
    env: false,
    description:
      "an image file, embedded with the run's model and preprocessing (model flags: default the run's own, from its manifest)",
  },
  uri: {
    kind: 'string',
    valueName: 'uri',
    env: false,
    description: 'an input URI of the run: its stored vector',
  },
  vector: {
    kind: 'string',
    valueName: 'file.npy',
    env: false,
    description: 'query vector(s): .npy of shape (D,) or (N, D), float32/float16/float64',
  },
  k: { kind: 'integer', min: 1, default: 10, description: 'neighbours per query (also -k)' },
  expansionSearch: {
    kind: 'integer',
    min: 1,
    defaultText: "the index's",
    description: 'HNSW candidates per query (ef): higher finds more of the true neighbours, slower',
  },
  load: { kind: 'boolean', description: 'read parts into memory instead of memory-mapping them' },
  cacheDir,
  json,
  ...MODEL_FLAGS,
} as const satisfies FlagTable;

/** `vgg-index dedup`. */
export const DEDUP_FLAGS = {
  threshold: {
    kind: 'string',
    valueName: 'distance',
    required: true,
    parse: parseDistance,
    description: 'largest distance between near duplicates, in the index metric (cos: 1 - cosine similarity)',
  },
  neighbours: { kind: 'integer', min: 1, default: 10, description: 'neighbours examined per image' },
  out: {
    kind: 'string',
    valueName: 'uri',
    env: 'VGG_INDEX_DEDUP_OUT',
    defaultText: '<index>/dedup/',
    description: 'where pairs.parquet, clusters.parquet and summary.json go',
  },
  cacheDir,
  json,
} as const satisfies FlagTable;

/** `vgg-index info`. */
export const INFO_FLAGS = { json } as const satisfies FlagTable;

function parseDistance(text: string, name: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new Error(`Expected non-negative number for ${name} but received ${JSON.stringify(text)}`);
  }
  return value;
}
