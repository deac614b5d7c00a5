import type { Job } from 'bullmq';
import type { ChunkFence, ChunkJobData, RunStore } from 'vgg-pipeline';
import type { ChunkCommitter } from './chunk-commit.js';
import { failedRows } from './chunk-inputs.js';
import type { ChunkFencedError } from './errors.js';
import { isWorkerError } from './errors.js';
import type { LoadedModel } from './loaded-model.js';
import type { RunContext, RunContexts } from './run-contexts.js';
import type { WorkerMetrics } from './telemetry/worker-metrics.js';
import type { WorkerEvent } from './worker-options.js';

/** Outcome of one chunk job, stored by BullMQ as the job's return value. */
export interface ChunkJobResult {
  rows: number;
  ok: number;
  error: number;
  /** The chunk was not run (its run is cancelled) or not written (see ChunkFencedError). */
  skipped?: 'cancelled' | 'fenced';
}

/** The manifest could not be written after a chunk was committed; `result` is the committed chunk's. */
export class FinalizeError extends Error {
  constructor(
    cause: unknown,
    readonly result: ChunkJobResult = { rows: 0, ok: 0, error: 0 },
  ) {
    super(`could not write the manifest: ${(cause as Error).message}`, { cause });
    this.name = 'FinalizeError';
  }
}

export interface FailedChunksOptions {
  runStore: RunStore;
  runs: RunContexts;
  committer: ChunkCommitter;
  metrics: WorkerMetrics;
  workerId: string;
  onEvent: ((event: WorkerEvent) => void) | undefined;
  /** Writes the run's manifest when this was its last chunk; throws FinalizeError when it cannot. */
  finalize: (context: RunContext, result?: ChunkJobResult) => Promise<void>;
  warn: (message: string) => void;
}

/**
 * The durable failure path: a chunk that failed for good still ends as rows (errors), so its run can finalise and
 * `retry-failed` can find them. A "stuck" note is saved first, so that if the rows cannot be written either,
 * `status` shows the run as stuck with the reason; writing the record clears it.
 */
export class FailedChunks {
  readonly #options: FailedChunksOptions;

  constructor(options: FailedChunksOptions) {
    this.#options = options;
  }

  /** The last attempt of a chunk failed: its rows become `reason` errors, written under `fence`. */
  async recordFinal(
    job: Job<ChunkJobData>,
    context: RunContext,
    model: LoadedModel | null,
    message: string,
    reason: string,
    fence: ChunkFence,
  ): Promise<ChunkJobResult> {
    const { runStore, committer, metrics } = this.#options;
    const { runId, chunkIndex } = job.data;
    await runStore.markChunkStuck(runId, this.#stuck(chunkIndex, message));
    const { rows, facts } = failedRows(job.data, context.spec, reason);
    try {
      const record = await committer.commit(context, { chunkIndex, rows, model, failed: true, facts, fence });
      metrics.rowsCommitted(record);
      const result = { rows: record.rows, ok: 0, error: record.error };
      await this.#options.finalize(context, result);
      return result;
    } catch (failure) {
      if (isWorkerError(failure, 'CHUNK_FENCED')) return this.fenced(failure);
      if (failure instanceof FinalizeError) return failure.result;
      throw failure;
    }
  }

  /**
   * A job BullMQ failed without the processor recording it (a chunk that stalled too often because workers running
   * it kept dying): its rows are written fenced on the job being in the failed set, since a re-submitted run may
   * already have re-added the chunk.
   */
  async recordStalled(job: Job<ChunkJobData>, error: Error): Promise<void> {
    const { runStore, runs, committer, metrics } = this.#options;
    if (!(await job.isFailed())) return;
    const { runId, chunkIndex } = job.data;
    if (await runStore.getChunkRecord(runId, chunkIndex)) return;
    if ((await runStore.getState(runId)) === 'cancelled') return;
    this.#options.onEvent?.({
      type: 'chunk-failed',
      runId,
      chunkIndex,
      attempt: job.attemptsMade,
      final: true,
      message: error.message,
    });
    await runStore.markChunkStuck(runId, this.#stuck(chunkIndex, error.message));
    await runs.use(runId, async (context) => {
      const { rows, facts } = failedRows(job.data, context.spec, 'chunk_failed');
      const fence: ChunkFence = {
        kind: 'failed-job',
        failedKey: `${job.queueQualifiedName}:failed`,
        jobId: job.id ?? '',
      };
      try {
        metrics.rowsCommitted(
          await committer.commit(context, { chunkIndex, rows, model: null, failed: true, facts, fence }),
        );
      } catch (failure) {
        if (isWorkerError(failure, 'CHUNK_FENCED')) return void this.fenced(failure);
        throw failure;
      }
      await this.#options.finalize(context).catch((e: unknown) => this.#options.warn((e as Error).message));
    });
  }

  /** An attempt that may not write (see ChunkFencedError) ends quietly: another attempt owns the chunk. */
  fenced(error: ChunkFencedError): ChunkJobResult {
    const { runId, chunkIndex, refusal, message } = error;
    this.#options.onEvent?.({ type: 'chunk-fenced', runId, chunkIndex, refusal, message });
    return { rows: 0, ok: 0, error: 0, skipped: 'fenced' };
  }

  #stuck(chunkIndex: number, reason: string) {
    return { chunkIndex, reason, workerId: this.#options.workerId, at: new Date().toISOString() };
  }
}

/** The fence of an attempt: the job's BullMQ lock must still hold `token` when the chunk is written. */
export function lockFenceOf(job: Job<ChunkJobData>, token: string): ChunkFence {
  return { kind: 'lock', lockKey: `${job.queueQualifiedName}:${job.id}:lock`, token };
}
