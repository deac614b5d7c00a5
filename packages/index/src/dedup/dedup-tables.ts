import { type Data, Float32, Int32, Int64, makeData, Utf8, vectorFromArray } from 'apache-arrow';
import { writeParquetTable } from '../format/parquet-table.js';

/** How two rows were matched: identical bytes (same sha256), or embeddings within the threshold. */
export type DuplicateMatch = 'exact' | 'near';

/** One duplicate pair, ids ascending. */
export interface DuplicatePair {
  a: number;
  b: number;
  /** Index distance, when the search found the pair (exact matches found only by hash have none). */
  distance: number | null;
  match: DuplicateMatch;
}

/** One member of a cluster (a connected component of the pair graph with at least two members). */
export interface ClusterMember {
  /** The cluster's smallest id. */
  cluster: number;
  size: number;
  id: number;
  uri: string;
  sha256: string | null;
  key: string;
  row: number;
}

const int64 = (values: readonly number[]) =>
  makeData({ type: new Int64(), length: values.length, data: BigInt64Array.from(values, (v) => BigInt(v)) });
const int32 = (values: readonly number[]) =>
  makeData({ type: new Int32(), length: values.length, data: Int32Array.from(values) });
const utf8 = (values: readonly (string | null)[]) => vectorFromArray(values, new Utf8()).data[0] as Data;

/** `pairs.parquet`: id_a, id_b, uri_a, uri_b, distance (float32, null for hash-only matches), match. */
export function encodePairs(
  pairs: readonly DuplicatePair[],
  uriOf: (id: number) => string,
  metadata: Record<string, string>,
): Uint8Array {
  return writeParquetTable(
    [
      { name: 'id_a', data: int64(pairs.map((p) => p.a)), nullable: false },
      { name: 'id_b', data: int64(pairs.map((p) => p.b)), nullable: false },
      { name: 'uri_a', data: utf8(pairs.map((p) => uriOf(p.a))), nullable: false },
      { name: 'uri_b', data: utf8(pairs.map((p) => uriOf(p.b))), nullable: false },
      {
        name: 'distance',
        data: vectorFromArray(
          pairs.map((p) => p.distance),
          new Float32(),
        ).data[0] as Data,
        nullable: true,
      },
      { name: 'match', data: utf8(pairs.map((p) => p.match)), nullable: false },
    ],
    metadata,
  );
}

/** `clusters.parquet`: cluster, size, id, uri, sha256, key, row; sorted by cluster then id. */
export function encodeClusters(
  members: readonly ClusterMember[],
  metadata: Record<string, string>,
): Uint8Array {
  return writeParquetTable(
    [
      { name: 'cluster', data: int64(members.map((m) => m.cluster)), nullable: false },
      { name: 'size', data: int32(members.map((m) => m.size)), nullable: false },
      { name: 'id', data: int64(members.map((m) => m.id)), nullable: false },
      { name: 'uri', data: utf8(members.map((m) => m.uri)), nullable: false },
      { name: 'sha256', data: utf8(members.map((m) => m.sha256)), nullable: true },
      { name: 'key', data: utf8(members.map((m) => m.key)), nullable: false },
      { name: 'row', data: int32(members.map((m) => m.row)), nullable: false },
    ],
    metadata,
  );
}
