import { readShardSummary, type ShardSummaryColumns } from '../formats/shard-reader.js';
import type { ObjectStore } from '../storage/object-store.js';
import { INPUTS_METADATA_KEY, type ShardInput, TAR_METADATA_KEY } from './chunk-input.js';
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
  /**
   * Fingerprint of the chunk's input list (chunkInputSha256), also in its shard's metadata; a resumed run whose
   * listing gives the chunk other inputs is refused. Absent in records written before fingerprints.
   */
  inputSha256?: string;
  /** Rows whose bytes (sha256) the worker had inferred already in this run, reusing that result. */
  duplicates?: number;
  /** A tar chunk's members that are not images (not rows). */
  skippedMembers?: number;
  npyKeys?: string[];
  committedAt: string;
}

/** The counts of a chunk record. */
export type RowTally = Pick<ChunkRecord, 'rows' | 'ok' | 'error' | 'errorsByReason' | 'top1Histogram'>;

/**
 * Counts a chunk's rows: ok and error rows, errors by reason, and ok rows by top-1 label (rows without a label are
 * not in the histogram).
 */
export function tallyRows(rows: Iterable<{ status: string; error: string | null; top1?: string }>): RowTally {
  const tally: RowTally = { rows: 0, ok: 0, error: 0, errorsByReason: {}, top1Histogram: {} };
  for (const row of rows) {
    tally.rows += 1;
    if (row.status === 'ok') {
      tally.ok += 1;
      if (row.top1 !== undefined) tally.top1Histogram[row.top1] = (tally.top1Histogram[row.top1] ?? 0) + 1;
    } else {
      tally.error += 1;
      const reason = row.error ?? 'unknown';
      tally.errorsByReason[reason] = (tally.errorsByReason[reason] ?? 0) + 1;
    }
  }
  return tally;
}

/**
 * Rebuilds a chunk's commit record from its shard, for a shard that exists without a record (Redis lost its data,
 * or the worker died between writing the shard and recording it), with the input the shard holds rows of.
 */
export async function recoverChunkRecord(
  store: ObjectStore,
  chunkIndex: number,
): Promise<{ record: ChunkRecord; input: ShardInput } | null> {
  const shardKey = shardKeyFor(chunkIndex);
  let columns: ShardSummaryColumns;
  try {
    columns = await readShardSummary(await store.get(shardKey));
  } catch {
    return null;
  }
  const tally = tallyRows(columns.status.map((status, i) => ({ status, error: columns.error[i] ?? null })));
  const tar = columns.metadata.get(TAR_METADATA_KEY);
  const inputSha256 = columns.metadata.get(INPUTS_METADATA_KEY);
  const input: ShardInput = {
    ...(tar === undefined
      ? { kind: 'images' as const, uris: columns.uri }
      : { kind: 'tar' as const, uri: tar }),
    ...(inputSha256 !== undefined ? { inputSha256 } : {}),
  };
  const record: ChunkRecord = {
    chunkIndex,
    shardKey,
    ...tally,
    provider: 'recovered',
    workerId: 'recovered',
    ...(tally.errorsByReason.chunk_failed ? { failed: true } : {}),
    ...(inputSha256 !== undefined ? { inputSha256 } : {}),
    committedAt: new Date().toISOString(),
  };
  return { record, input };
}
