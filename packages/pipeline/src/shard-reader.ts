import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';
import type { ObjectStore } from './object-store.js';
import type { ChunkRecord } from './run-spec.js';
import { shardKeyFor } from './run-spec.js';

interface ShardSummaryColumns {
  uri: string[];
  status: string[];
  error: (string | null)[];
  top1: (number | null)[];
}

function readColumns(bytes: Uint8Array): ShardSummaryColumns {
  const table = tableFromIPC(readParquet(bytes, { columns: ['uri', 'status', 'error'] }).intoIPCStream());
  const uri = table.getChild('uri')?.toArray() as string[] | undefined;
  const status = table.getChild('status')?.toArray() as string[] | undefined;
  const error = table.getChild('error');
  if (!uri || !status || !error) throw new Error('Parquet shard lacks uri/status/error columns');
  return {
    uri: Array.from(uri),
    status: Array.from(status),
    error: Array.from({ length: table.numRows }, (_, i) => (error.get(i) as string | null) ?? null),
    top1: [],
  };
}

/** The input URIs of a shard, in row order. */
export function readShardUris(bytes: Uint8Array): string[] {
  return readColumns(bytes).uri;
}

/**
 * Rebuilds a chunk's commit record from its shard, for a shard that exists without a record (Redis lost its data,
 * or the worker died between writing the shard and recording it).
 */
export async function recoverChunkRecord(
  store: ObjectStore,
  chunkIndex: number,
): Promise<ChunkRecord | null> {
  const shardKey = shardKeyFor(chunkIndex);
  let columns: ShardSummaryColumns;
  try {
    columns = readColumns(await store.get(shardKey));
  } catch {
    return null;
  }
  const errorsByReason: Record<string, number> = {};
  let ok = 0;
  columns.status.forEach((s, i) => {
    if (s === 'ok') ok += 1;
    else {
      const reason = columns.error[i] ?? 'unknown';
      errorsByReason[reason] = (errorsByReason[reason] ?? 0) + 1;
    }
  });
  return {
    chunkIndex,
    shardKey,
    rows: columns.uri.length,
    ok,
    error: columns.uri.length - ok,
    errorsByReason,
    top1Histogram: {},
    provider: 'recovered',
    workerId: 'recovered',
    ...(errorsByReason.chunk_failed ? { failed: true } : {}),
    committedAt: new Date().toISOString(),
  };
}
