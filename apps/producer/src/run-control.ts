import type { Queue } from 'bullmq';
import {
  type ChunkJobData,
  chunkJobId,
  openRunOutput,
  readShardUris,
  type RunStore,
  type RunStatus,
} from 'vgg-pipeline';
import type { S3Client } from '@aws-sdk/client-s3';

export interface RunControlDeps {
  queue: Queue<ChunkJobData>;
  runStore: RunStore;
  s3: S3Client | (() => S3Client);
}

/** Error reasons that a retry can fix: the chunk failed as a whole, or the network let an image down. */
export const RETRYABLE_REASONS = ['chunk_failed', 'timeout', 'network', 'http_error'] as const;

export class RunNotFoundError extends Error {
  readonly code = 'RUN_NOT_FOUND';
  constructor(readonly runId: string) {
    super(`Run ${runId} does not exist in this Redis (check REDIS_URL and --prefix)`);
    this.name = 'RunNotFoundError';
  }
}

/** Stops a run: its queued chunks are removed, and workers skip the run's chunks from now on. */
export async function cancelRun(runId: string, deps: RunControlDeps): Promise<{ removed: number }> {
  const status = await deps.runStore.status(runId);
  if (!status) throw new RunNotFoundError(runId);
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
  if (!status) throw new RunNotFoundError(runId);
  const reasons = new Set(options.reasons ?? RETRYABLE_REASONS);
  const targets = status.records.filter(
    (r) => r.failed || Object.keys(r.errorsByReason).some((reason) => reasons.has(reason)),
  );
  if (targets.length === 0) return { chunks: 0, images: 0 };
  const store = openRunOutput(status.spec.output.out, runId, { s3: deps.s3 });
  const generation = Date.now();
  const jobs: { name: string; data: ChunkJobData; opts: object }[] = [];
  for (const record of targets) {
    const uris = readShardUris(await store.get(record.shardKey));
    jobs.push({
      name: 'chunk',
      data: { runId, chunkIndex: record.chunkIndex, uris },
      opts: {
        jobId: chunkJobId(runId, record.chunkIndex, generation),
        attempts: options.attempts ?? 3,
        backoff: { type: 'exponential', delay: 2_000 },
        removeOnComplete: true,
        removeOnFail: { count: 1_000 },
      },
    });
  }
  // Re-open before removing records, so no finaliser sees a complete run with stale chunks in between.
  await deps.runStore.reopen(runId);
  await deps.runStore.removeChunkRecords(
    runId,
    targets.map((r) => r.chunkIndex),
  );
  await deps.queue.addBulk(jobs);
  return { chunks: targets.length, images: targets.reduce((n, r) => n + r.rows, 0) };
}

export interface RunProgress {
  status: RunStatus;
  /** Images per second over the run so far (committed rows / elapsed). */
  imagesPerSecond: number;
  /** Seconds left at the current rate, or null when unknown. */
  etaSeconds: number | null;
  fraction: number | null;
}

export function progressOf(status: RunStatus, now = Date.now()): RunProgress {
  const started = Date.parse(status.spec.createdAt);
  const lastCommit = status.records.reduce((t, r) => Math.max(t, Date.parse(r.committedAt)), started);
  const end = status.state === 'finalized' ? lastCommit : now;
  const elapsed = Math.max(0.001, (end - started) / 1000);
  const imagesPerSecond = status.rows / elapsed;
  const total = status.totalInputs;
  const fraction = total ? status.rows / total : total === 0 ? 1 : null;
  const etaSeconds =
    total !== null && imagesPerSecond > 0 && status.state !== 'finalized'
      ? Math.max(0, (total - status.rows) / imagesPerSecond)
      : null;
  return { status, imagesPerSecond, etaSeconds, fraction };
}
