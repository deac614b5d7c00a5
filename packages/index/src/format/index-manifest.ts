import type { JsonValue, ManifestModel, ManifestSpec, ManifestTap } from 'vgg-pipeline';
import { IndexError } from '../errors.js';
import { type HnswSettings, resolveHnswSettings } from '../hnsw/hnsw-settings.js';

/** Format tag of an index manifest; bumped on incompatible changes. */
export const INDEX_FORMAT = 'vgg-batch/index@1';

/** Key of the index manifest under the index root. Written last: an index without it is incomplete. */
export const INDEX_MANIFEST_KEY = 'index.json';

/** One part: an HNSW index over a contiguous group of the run's shards, and its sidecar of rows. */
export interface IndexPart {
  part: number;
  /** usearch file, relative to the index root. */
  indexKey: string;
  /** Sidecar Parquet (id → uri, sha256, key, shard, row), relative to the index root. */
  rowsKey: string;
  /** Ids firstId … firstId + vectors − 1 live in this part. */
  firstId: number;
  vectors: number;
  indexBytes: number;
  indexSha256: string;
  /** Positions [first, first + count) in the run manifest's `shards` list. */
  shards: { first: number; count: number };
}

/** Contents of `index.json`. */
export interface IndexManifest {
  format: typeof INDEX_FORMAT;
  /** Unique per build; part files live under `parts/<buildId>/`, so a rebuild never touches files in use. */
  buildId: string;
  createdAt: string;
  run: {
    runId: string;
    /** Where the run output was read from (s3:// prefix or absolute directory). */
    uri: string;
    /** sha256 of the run's `_manifest.json` bytes when the index was built. */
    manifestSha256: string;
    model: ManifestModel;
    /**
     * The run's model options and `--l2`, copied from its manifest: `query --image` embeds with them when no model
     * flags are given. Absent when the run's manifest did not record them.
     */
    spec?: ManifestSpec;
    preprocessing: { [key: string]: JsonValue };
  };
  /** The embedding column indexed, as the run manifest describes it (dtype is the stored one). */
  tap: ManifestTap;
  settings: HnswSettings;
  /** Every indexed vector had unit L2 norm (the run used --l2); queries are then normalised too. */
  l2Normalized: boolean;
  counts: {
    /** Vectors in the index (sum over parts); ids are 0 … vectors − 1. */
    vectors: number;
    /** Rows of the run's shards. */
    rows: number;
    /** Rows without an embedding (failed inputs). */
    errorRows: number;
    /** ok rows left out: non-finite values, or (for cos) an all-zero vector that has no direction. */
    skippedRows: number;
  };
  /** Part size limit the build used. */
  maxPartVectors: number;
  parts: IndexPart[];
  /** usearch version that wrote the parts. */
  library: string;
}

/** Pretty-printed UTF-8 JSON with a trailing newline. */
export function serializeIndexManifest(manifest: IndexManifest): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
}

/** Parses and checks `index.json`: format tag, settings, and parts that tile the id range. */
export function parseIndexManifest(bytes: Uint8Array, where: string): IndexManifest {
  const fail = (detail: string, cause?: unknown) =>
    new IndexError('INDEX_FORMAT', `${where} is not a usable index manifest: ${detail}`, {
      uri: where,
      ...(cause === undefined ? {} : { cause }),
    });
  let value: IndexManifest;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes)) as IndexManifest;
  } catch (cause) {
    throw fail('not JSON', cause);
  }
  if (value?.format !== INDEX_FORMAT) {
    throw fail(`expected format ${JSON.stringify(INDEX_FORMAT)} but found ${JSON.stringify(value?.format)}`);
  }
  try {
    value.settings = resolveHnswSettings(value.settings);
  } catch (cause) {
    throw fail((cause as Error).message, cause);
  }
  if (!Number.isSafeInteger(value.tap?.dim) || value.tap.dim < 1) throw fail('tap.dim is missing');
  if (!Array.isArray(value.parts)) throw fail('parts is missing');
  let next = 0;
  for (const part of value.parts) {
    if (part.firstId !== next || !Number.isSafeInteger(part.vectors) || part.vectors < 0) {
      throw fail(`part ${part.part} does not continue the id range at ${next}`);
    }
    if (typeof part.indexKey !== 'string' || typeof part.rowsKey !== 'string') {
      throw fail(`part ${part.part} lacks its file keys`);
    }
    next += part.vectors;
  }
  if (next !== value.counts?.vectors)
    throw fail(`parts hold ${next} vectors but counts.vectors is ${value.counts?.vectors}`);
  return value;
}

/** Keys of a part's files in one build. */
export function partKeys(buildId: string, part: number): { indexKey: string; rowsKey: string } {
  const name = `part-${String(part).padStart(5, '0')}`;
  return { indexKey: `parts/${buildId}/${name}.usearch`, rowsKey: `parts/${buildId}/${name}.rows.parquet` };
}
