import type { ChunkRecord } from './chunk-record.js';
import type { RunSpec, RunState } from './run-spec.js';

// The shapes RunStore reads and writes; apart so run-store.ts holds the store itself.

export interface RunStatus {
  spec: RunSpec;
  state: RunState;
  /** Set once the producer has enqueued every chunk. */
  totalChunks: number | null;
  totalInputs: number | null;
  /** Of the inputs, tar shards (whose image count is known only once read); null before enqueueing ended. */
  tarShards: number | null;
  committedChunks: number;
  rows: number;
  ok: number;
  error: number;
  modelSha256: string | null;
  manifestWrittenAt: string | null;
  /** Why the last attempt to write the manifest failed; cleared once it is written. */
  finalizeError: string | null;
  /** Chunks that failed for good without their error rows written (see RunStore.markChunkStuck). */
  stuck: StuckChunk[];
  records: ChunkRecord[];
  /** Why a worker could not load the run's model, when the last attempt to load it failed (see noteModelError). */
  modelError?: ModelErrorNote | null;
}

/** A worker's failure to load a run's model, for `status`. */
export interface ModelErrorNote {
  message: string;
  /** Will not succeed by retrying (HTTP 404, a corrupt file): the run's chunks fail without retries. */
  permanent: boolean;
  workerId: string;
  at: string;
}

/**
 * Who may write a chunk (see FENCED_COMMIT): the holder of its job's BullMQ lock (`lockKey` holds `token`), or
 * the recorder of a job BullMQ failed for good (`jobId` is in the queue's failed set `failedKey`). `none` is for
 * the producer adopting shards of a run it re-creates.
 */
export type ChunkFence =
  | { kind: 'lock'; lockKey: string; token: string }
  | { kind: 'failed-job'; failedKey: string; jobId: string }
  | { kind: 'none' };

/** Why a chunk may not be written: see FENCED_COMMIT. */
export type CommitRefusal = 'no-run' | 'cancelled' | 'run-finished' | 'lock-lost' | 'committed';

/** A chunk that failed for good without its error rows written: the run cannot finalise until it is re-added. */
export interface StuckChunk {
  chunkIndex: number;
  reason: string;
  workerId: string;
  at: string;
}

/** What a run's model binding pins: the weights, and the resolved preprocessing as JSON. */
export interface BoundModel {
  weightsSha256: string;
  preprocessing: string;
}
