import type { S3Client } from '@aws-sdk/client-s3';
import type { Queue } from 'bullmq';
import { runNotFound } from '../errors.js';
import { readShardSummary, readShardTextColumns } from '../formats/shard-reader.js';
import { type ChunkJob, type ChunkJobData, chunkJob } from '../queue/chunk-jobs.js';
import { openRunOutput } from './output-layout.js';
import { RUN_OPTIONS } from './run-options.js';
import { TAR_METADATA_KEY } from './chunk-input.js';
import { keptColumnsOf } from './output-columns.js';
import type { RunSpec } from './run-spec.js';
import type { RunStore } from './run-store.js';

export interface RunControlDeps {
  queue: Queue<ChunkJobData>;
  runStore: RunStore;
  s3: S3Client | (() => S3Client);
}

/** Error reasons that a retry can fix: the chunk failed as a whole, or the network let an image down. */
export const RETRYABLE_REASONS = ['chunk_failed', 'timeout', 'network', 'http_error'] as const;

/** Stops a run: its queued chunks are removed, and workers skip the run's chunks from now on. */
export async function cancelRun(runId: string, deps: RunControlDeps): Promise<{ removed: number }> {
  const status = await deps.runStore.status(runId);
  if (!status) throw runNotFound(runId);
  await deps.runStore.cancel(runId);
  // Jobs of retried chunks have generated ids, so match on the job data rather than guessing ids. Pages shift as
  // jobs are removed, hence the restart from the first page after each removal round.
  let removed = 0;
  const page = 1_000;
  for (let start = 0; ; ) {
    const jobs = await deps.queue.getJobs(['wait', 'delayed', 'prioritized'], start, start + page - 1, true);
    if (jobs.length === 0) break;
    const ours = jobs.filter((job) => job?.data.runId === runId);
    // remove() refuses jobs that a worker holds; those finish or are skipped by the worker.
    for (const job of ours) removed += (await deps.queue.remove(job.id!)) === 1 ? 1 : 0;
    start += jobs.length - ours.length;
  }
  return { removed };
}

/**
 * Enqueues again every chunk that failed as a whole or holds error rows with one of `reasons`. The chunk's shard
 * is rewritten in full when it is processed again, so its rows stay unique.
 */
export async function retryFailed(
  runId: string,
  deps: RunControlDeps,
  options: { reasons?: readonly string[]; attempts?: number } = {},
): Promise<{ chunks: number; images: number }> {
  const status = await deps.runStore.status(runId);
  if (!status) throw runNotFound(runId);
  const reasons = new Set(options.reasons ?? RETRYABLE_REASONS);
  const targets = status.records.filter(
    (r) => r.failed || Object.keys(r.errorsByReason).some((reason) => reasons.has(reason)),
  );
  if (targets.length === 0) return { chunks: 0, images: 0 };
  const store = openRunOutput(status.spec.output.out, runId, { s3: deps.s3 });
  const generation = Date.now();
  const jobs: ChunkJob[] = [];
  // Shards hold redacted URIs; chunks whose URIs carry credentials (presigned queries) kept their originals.
  const originals = await deps.runStore.chunkInputs(
    runId,
    targets.map((r) => r.chunkIndex),
  );
  for (const record of targets) {
    const data = await chunkFromShard(
      runId,
      record.chunkIndex,
      await store.get(record.shardKey),
      status.spec,
    );
    const uris = originals.get(record.chunkIndex);
    if (uris !== undefined && uris.length === data.uris.length) data.uris = uris;
    jobs.push(chunkJob(data, options.attempts ?? RUN_OPTIONS.attempts.default, generation));
  }
  // Re-open and remove the records in one step, so no finaliser sees a complete run with stale chunks in between,
  // and one already finalising does not mark the run final.
  await deps.runStore.reopen(
    runId,
    targets.map((r) => r.chunkIndex),
  );
  await deps.queue.addBulk(jobs);
  return { chunks: targets.length, images: targets.reduce((n, r) => n + r.rows, 0) };
}

/**
 * A chunk's job data rebuilt from its shard: a tar chunk streams its shard again (the shard's metadata names it);
 * an image chunk lists its rows' URIs again, with their keys and kept columns.
 */
async function chunkFromShard(
  runId: string,
  chunkIndex: number,
  bytes: Uint8Array,
  spec: RunSpec,
): Promise<ChunkJobData> {
  const summary = await readShardSummary(bytes);
  const tar = summary.metadata.get(TAR_METADATA_KEY);
  if (tar !== undefined) return { runId, chunkIndex, uris: [tar], kind: 'tar' };
  const kept = keptColumnsOf(spec);
  const text = await readShardTextColumns(bytes, ['key', ...kept]);
  const data: ChunkJobData = { runId, chunkIndex, uris: summary.uri };
  const keys = text.key ?? [];
  if (keys.some((key) => key !== null)) data.keys = keys;
  if (kept.length > 0) data.cols = Object.fromEntries(kept.map((name) => [name, text[name] ?? []]));
  return data;
}
