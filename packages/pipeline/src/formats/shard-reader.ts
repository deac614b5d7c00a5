import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';

/** The columns of a shard that summarise it. */
export interface ShardSummaryColumns {
  uri: string[];
  status: string[];
  error: (string | null)[];
}

/** Reads the summary columns of a Parquet shard. */
export function readShardSummary(bytes: Uint8Array): ShardSummaryColumns {
  const table = tableFromIPC(readParquet(bytes, { columns: ['uri', 'status', 'error'] }).intoIPCStream());
  const uri = table.getChild('uri')?.toArray() as string[] | undefined;
  const status = table.getChild('status')?.toArray() as string[] | undefined;
  const error = table.getChild('error');
  if (!uri || !status || !error) throw new Error('Parquet shard lacks uri/status/error columns');
  return {
    uri: Array.from(uri),
    status: Array.from(status),
    error: Array.from({ length: table.numRows }, (_, i) => (error.get(i) as string | null) ?? null),
  };
}

/** The input URIs of a shard, in row order. */
export function readShardUris(bytes: Uint8Array): string[] {
  return readShardSummary(bytes).uri;
}
