import type { Table } from 'apache-arrow';
import { parquetLibs } from './parquet-libs.js';

/** The columns of a shard that summarise it, and its file metadata. */
export interface ShardSummaryColumns {
  uri: string[];
  status: string[];
  error: (string | null)[];
  /** The shard file's key-value metadata. */
  metadata: Map<string, string>;
}

/** Reads the summary columns of a Parquet shard. */
export async function readShardSummary(bytes: Uint8Array): Promise<ShardSummaryColumns> {
  const table = await readColumns(bytes, ['uri', 'status', 'error']);
  const uri = table.getChild('uri')?.toArray() as string[] | undefined;
  const status = table.getChild('status')?.toArray() as string[] | undefined;
  const error = table.getChild('error');
  if (!uri || !status || !error) throw new Error('Parquet shard lacks uri/status/error columns');
  return {
    uri: Array.from(uri),
    status: Array.from(status),
    error: Array.from({ length: table.numRows }, (_, i) => (error.get(i) as string | null) ?? null),
    metadata: table.schema.metadata,
  };
}

/** The input URIs of a shard, in row order. */
export async function readShardUris(bytes: Uint8Array): Promise<string[]> {
  return (await readShardSummary(bytes)).uri;
}

/** The text columns `names` of a shard (`key`, kept columns), null where absent or null. */
export async function readShardTextColumns(
  bytes: Uint8Array,
  names: readonly string[],
): Promise<Record<string, (string | null)[]>> {
  let table: Table;
  try {
    table = await readColumns(bytes, names);
  } catch {
    // A shard written before some of these columns existed: read it whole and take what it has.
    table = await readColumns(bytes, null);
  }
  const out: Record<string, (string | null)[]> = {};
  for (const name of names) {
    const column = table.getChild(name);
    out[name] = Array.from({ length: table.numRows }, (_, i) => (column?.get(i) as string | null) ?? null);
  }
  return out;
}

/** What the run report reads of a shard: the summary columns and each row's top-1 label (null for errors). */
export async function readShardReportColumns(bytes: Uint8Array): Promise<
  Omit<ShardSummaryColumns, 'metadata'> & {
    top1: (string | null)[];
  }
> {
  let table: Table;
  try {
    table = await readColumns(bytes, ['uri', 'status', 'error', 'top_k_labels']);
  } catch {
    // A run with --top-k 0 has no label column.
    table = await readColumns(bytes, ['uri', 'status', 'error']);
  }
  const column = (name: string) => table.getChild(name);
  const [uri, status, error, labels] = ['uri', 'status', 'error', 'top_k_labels'].map(column);
  if (!uri || !status || !error) throw new Error('Parquet shard lacks uri/status/error columns');
  const text = (c: NonNullable<typeof uri>, i: number) => (c.get(i) as string | null) ?? null;
  return {
    uri: Array.from({ length: table.numRows }, (_, i) => text(uri, i) ?? ''),
    status: Array.from({ length: table.numRows }, (_, i) => text(status, i) ?? ''),
    error: Array.from({ length: table.numRows }, (_, i) => text(error, i)),
    // No label column (--top-k 0): no thumbnails then.
    top1: Array.from({ length: table.numRows }, (_, i) => {
      const list = labels?.get(i) as { get(j: number): string | null; length: number } | null | undefined;
      return list && list.length > 0 ? list.get(0) : null;
    }),
  };
}

/** What the run report reads of a pair run's shard: each pair's images, status and error, and its distance. */
export async function readShardPairColumns(bytes: Uint8Array): Promise<{
  uri: string[];
  b: (string | null)[];
  status: string[];
  error: (string | null)[];
  /** `perceptual_distance`; null for error rows. */
  distance: (number | null)[];
}> {
  const table = await readColumns(bytes, ['uri', 'b', 'status', 'error', 'perceptual_distance']);
  const [uri, b, status, error, distance] = ['uri', 'b', 'status', 'error', 'perceptual_distance'].map(
    (name) => table.getChild(name),
  );
  if (!uri || !b || !status || !error || !distance)
    throw new Error('Parquet shard lacks the uri/b/status/error/perceptual_distance columns of a pair run');
  const at = <T>(column: NonNullable<typeof uri>) =>
    Array.from({ length: table.numRows }, (_, i) => (column.get(i) as T | null) ?? null);
  return {
    uri: at<string>(uri).map((u) => u ?? ''),
    b: at<string>(b),
    status: at<string>(status).map((s) => s ?? ''),
    error: at<string>(error),
    distance: at<number>(distance),
  };
}

/** The columns `names` of a Parquet file (all of them when null), as an Arrow table. */
async function readColumns(bytes: Uint8Array, names: readonly string[] | null): Promise<Table> {
  const { arrow, parquet } = await parquetLibs();
  const wasm = parquet.readParquet(bytes, names === null ? undefined : { columns: [...names] });
  return arrow.tableFromIPC(wasm.intoIPCStream());
}
