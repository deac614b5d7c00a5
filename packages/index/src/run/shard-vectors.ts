import { type Data, makeVector, tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';
import { float16ToFloat32 } from 'vgg-core';
import { embeddingColumn, type ManifestShard, type ManifestTap } from 'vgg-pipeline';
import { IndexError } from '../errors.js';

/** The embeddings of one shard's ok rows, in row order, ready to index. */
export interface ShardVectors {
  shard: ManifestShard;
  /** Row number within the shard of each vector. */
  rows: Int32Array;
  uris: string[];
  /** sha256 of each input's bytes (null only in shards written before hashes existed). */
  sha256: (string | null)[];
  /** rows.length × dim, row-major, float32 (float16 columns are widened exactly). */
  vectors: Float32Array;
  /** L2 norm of each vector. */
  norms: Float64Array;
  /** Rows of the shard that are not ok (failed inputs): they have no embedding. */
  errorRows: number;
}

/**
 * Decodes the `uri`, `status`, `sha256` and `emb_<tap>` columns of a shard written by the pipeline, checking it
 * against its manifest entry (row count, dimension).
 */
export function readShardVectors(bytes: Uint8Array, shard: ManifestShard, tap: ManifestTap): ShardVectors {
  const column = embeddingColumn(tap.name);
  const fail = (detail: string, cause?: unknown) =>
    new IndexError(
      'INDEX_RUN_INVALID',
      `Shard ${shard.key}: ${detail}`,
      cause === undefined ? {} : { cause },
    );
  let table: ReturnType<typeof tableFromIPC>;
  try {
    table = tableFromIPC(
      readParquet(bytes, { columns: ['uri', 'status', 'sha256', column] }).intoIPCStream(),
    );
  } catch (cause) {
    throw fail(
      `cannot read its uri, status, sha256 and ${column} columns (${(cause as Error).message})`,
      cause,
    );
  }
  if (table.numRows !== shard.rows) {
    throw fail(`has ${table.numRows} rows but the manifest says ${shard.rows}; the run output was modified`);
  }
  const uri = table.getChild('uri');
  const status = table.getChild('status');
  const sha = table.getChild('sha256');
  const emb = table.getChild(column);
  if (!uri || !status || !sha || !emb) throw fail(`lacks one of uri, status, sha256, ${column}`);
  const listSize = (emb.type as { listSize?: number }).listSize;
  if (listSize !== tap.dim)
    throw fail(`${column} has ${listSize} values per row but the manifest says ${tap.dim}`);

  const okRows: number[] = [];
  for (let row = 0; row < table.numRows; row++) {
    if (status.get(row) === 'ok' && emb.isValid(row)) okRows.push(row);
  }
  const dim = tap.dim;
  const vectors = new Float32Array(okRows.length * dim);
  // Copy each chunk's flat child values; a shard is usually one record batch.
  let chunkStart = 0;
  let out = 0;
  let next = 0;
  for (const data of emb.data as Data[]) {
    const child = data.children[0];
    if (child === undefined) throw fail(`${column} is not a fixed-size list`);
    const raw = makeVector(child).toArray() as Float32Array | Uint16Array;
    const values = raw instanceof Uint16Array ? float16ToFloat32(raw) : raw;
    while (next < okRows.length && (okRows[next] as number) < chunkStart + data.length) {
      const local = (okRows[next] as number) - chunkStart;
      vectors.set(values.subarray(local * dim, (local + 1) * dim), out * dim);
      out++;
      next++;
    }
    chunkStart += data.length;
  }
  const norms = new Float64Array(okRows.length);
  for (let i = 0; i < okRows.length; i++) {
    let sum = 0;
    for (let j = i * dim; j < (i + 1) * dim; j++) sum += (vectors[j] as number) ** 2;
    norms[i] = Math.sqrt(sum);
  }
  return {
    shard,
    rows: Int32Array.from(okRows),
    uris: okRows.map((row) => uri.get(row) as string),
    sha256: okRows.map((row) => (sha.get(row) as string | null) ?? null),
    vectors,
    norms,
    errorRows: table.numRows - okRows.length,
  };
}
