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
  /** Labels of top-1 predictions (ok rows), for the summary's histogram; empty for pair runs. */
  top1Histogram: Record<string, number>;
  /** A pair run's perceptual distances over its ok rows, for the summary; absent for image runs. */
  distance?: DistanceTally;
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

/** Count, least, greatest and sum of the finite perceptual distances of some pairs (mergeable across chunks). */
export interface DistanceTally {
  count: number;
  min: number;
  max: number;
  sum: number;
}

/** The counts of a chunk record. */
export type RowTally = Pick<
  ChunkRecord,
  'rows' | 'ok' | 'error' | 'errorsByReason' | 'top1Histogram' | 'distance'
>;

/**
 * Counts a chunk's rows: ok and error rows, errors by reason, ok rows by top-1 label (rows without a label are not
 * in the histogram), and a pair run's distances (rows that have one).
 */
export function tallyRows(
  rows: Iterable<{ status: string; error: string | null; top1?: string; distance?: number }>,
): RowTally {
  const tally: RowTally = { rows: 0, ok: 0, error: 0, errorsByReason: {}, top1Histogram: {} };
  for (const row of rows) {
    tally.rows += 1;
    if (row.status === 'ok') {
      tally.ok += 1;
      if (row.top1 !== undefined) tally.top1Histogram[row.top1] = (tally.top1Histogram[row.top1] ?? 0) + 1;
      if (row.distance !== undefined && Number.isFinite(row.distance))
        tally.distance = addDistance(tally.distance, row.distance);
    } else {
      tally.error += 1;
      const reason = row.error ?? 'unknown';
      tally.errorsByReason[reason] = (tally.errorsByReason[reason] ?? 0) + 1;
    }
  }
  return tally;
}

function addDistance(tally: DistanceTally | undefined, value: number): DistanceTally {
  if (tally === undefined) return { count: 1, min: value, max: value, sum: value };
  return {
    count: tally.count + 1,
    min: Math.min(tally.min, value),
    max: Math.max(tally.max, value),
    sum: tally.sum + value,
  };
}

/** The distances of a run's chunks taken together, or null when none has one (an image run). */
export function mergeDistances(records: Iterable<Pick<ChunkRecord, 'distance'>>): DistanceTally | null {
  let merged: DistanceTally | null = null;
  for (const { distance } of records) {
    if (distance === undefined || distance.count === 0) continue;
    merged =
      merged === null
        ? { ...distance }
        : {
            count: merged.count + distance.count,
            min: Math.min(merged.min, distance.min),
            max: Math.max(merged.max, distance.max),
            sum: merged.sum + distance.sum,
          };
  }
  return merged;
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
