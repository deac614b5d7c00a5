import type { JobsOptions } from 'bullmq';

/** What producers and workers agree on about the BullMQ queue. */

/** Default BullMQ queue name. */
export const DEFAULT_QUEUE_NAME = 'vgg-chunks';
/**
 * Default key prefix for BullMQ and run state. For Redis Cluster or Dragonfly use a hash tag such as `{vgg}` so a
 * queue's keys share one slot.
 */
export const DEFAULT_KEY_PREFIX = 'vgg';

/**
 * One job is a chunk of many URIs: Redis stays small at millions of images. A chunk is either images, one row
 * each (with their manifest keys and kept columns when the run has them), or one WebDataset tar shard whose image
 * members are its rows, as the worker finds them when it streams the shard.
 */
export interface ChunkJobData {
  runId: string;
  chunkIndex: number;
  /** The images, one row each; for a `tar` chunk, the one shard. */
  uris: string[];
  /** `tar`: `uris[0]` is a tar shard. Absent: images. */
  kind?: 'tar';
  /** `--key-col` values, parallel to `uris`; absent when no image has one. */
  keys?: (string | null)[];
  /** `--keep-cols` values by column, each parallel to `uris`; absent when the run keeps none. */
  cols?: Record<string, (string | null)[]>;
}

/** Deterministic, so re-submitting a run adds nothing twice (BullMQ ignores an existing job id). */
export function chunkJobId(runId: string, chunkIndex: number, generation = 0): string {
  // BullMQ forbids ':' in custom ids and all-digit ids; runIds are validated to exclude ':'.
  return generation === 0 ? `${runId}__c${chunkIndex}` : `${runId}__c${chunkIndex}__g${generation}`;
}

/** One chunk job as `Queue.addBulk` takes it. */
export interface ChunkJob {
  name: 'chunk';
  data: ChunkJobData;
  opts: JobsOptions;
}

/**
 * The job of one chunk: a deterministic id (see {@link chunkJobId}), `attempts` tries with exponential backoff,
 * and no completed jobs kept: a completed chunk lives on as its shard and its record.
 */
export function chunkJob(data: ChunkJobData, attempts: number, generation = 0): ChunkJob {
  return {
    name: 'chunk',
    data,
    opts: {
      jobId: chunkJobId(data.runId, data.chunkIndex, generation),
      attempts,
      backoff: { type: 'exponential', delay: 2_000 },
      removeOnComplete: true,
      removeOnFail: { count: 1_000 },
    },
  };
}
