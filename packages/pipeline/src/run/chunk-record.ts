import { readShardSummary, type ShardSummaryColumns } from '../formats/shard-reader.js';
import type { ObjectStore } from '../storage/object-store.js';
import { shardKeyFor } from './output-layout.js';

/** One committed chunk, as recorded after its shard is durably written. */
export interface ChunkRecord {
  chunkIndex: number;
  /** Key of the Parquet shard relative to the run directory. */
  shardKey: string;
  rows: number;
  ok: number;
  error: number;
  errorsByReason: Record<string, number>;
  /** Labels of top-1 predictions (ok rows), for the summary's histogram. */
  top1Histogram: Record<string, number>;
  /** Execution provider that ran the chunk, e.g. "cpu" or "cuda:0". */
  provider: string;
  /** Worker that committed it (hostname:pid), for operators. */
  workerId: string;
  /** The chunk failed permanently; its rows are error rows with reason `chunk_failed`. */
  failed?: boolean;
  npyKeys?: string[];
  committedAt: string;
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
    columns = readShardSummary(await store.get(shardKey));
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
