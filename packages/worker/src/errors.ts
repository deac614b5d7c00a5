import { UnrecoverableError } from 'bullmq';
import type { CommitRefusal } from 'vgg-pipeline';

/**
 * Errors of vgg-chunk-worker, each with a stable `code` that callers match on (see isWorkerError).
 * - `MODEL_MISMATCH`: the worker loaded other weights (or resolves other preprocessing) than the run is bound to;
 *   the chunk fails without retries
 *   (it is an UnrecoverableError to BullMQ) and its rows get reason `model_mismatch`.
 * - `MODEL_LOAD`: the run's model cannot be loaded and retrying will not help (see ModelLoadError).
 * - `CHUNK_FENCED`: a chunk attempt may not write (see ChunkFencedError).
 */
export class ModelMismatchError extends UnrecoverableError {
  readonly code = 'MODEL_MISMATCH' as const;
  constructor(
    readonly runId: string,
    /** What the run is bound to: a weights sha256, or resolved preprocessing as JSON. */
    readonly expected: string,
    /** What this worker has. */
    readonly actual: string,
    readonly what: 'weights' | 'preprocessing' = 'weights',
  ) {
    super(
      what === 'weights'
        ? `Run ${runId} is bound to model sha256 ${expected.slice(0, 12)}…, but this worker loaded ${actual.slice(0, 12)}…; ` +
            'the weights changed since the run started. Start a new run for new weights.'
        : `Run ${runId} is bound to preprocessing ${expected}, but this worker would decode with ${actual}; ` +
            'workers of different versions are serving the run. Run one version of vgg-worker per run.',
    );
    this.name = 'ModelMismatchError';
  }
}

/**
 * `METRICS_ENDPOINT`: the HTTP endpoint could not listen on the port it was given (`cause` has the system error,
 * EADDRINUSE when the port is taken). A default port that is taken only warns.
 */
export class MetricsEndpointError extends Error {
  readonly code = 'METRICS_ENDPOINT' as const;
  constructor(
    readonly host: string,
    readonly port: number,
    cause: unknown,
  ) {
    const why =
      (cause as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'is in use' : (cause as Error).message;
    super(
      `Expected a free port for --metrics-port but ${port} on ${host} ${why}; pick another port, or 0 to run without the endpoint`,
      { cause },
    );
    this.name = 'MetricsEndpointError';
  }
}

/**
 * `MODEL_LOAD`: a run's model cannot be loaded, and retrying will not help: its file is missing (HTTP 404, no such
 * key or path), refused (403, a blocked address) or not a model (corrupt weights, an invalid ONNX file). The chunk
 * fails at once, without retries (an UnrecoverableError to BullMQ), and its rows are error rows; other runs go on.
 * Transient failures (5xx, timeouts, resets) are not this error: they are retried with the chunk's backoff.
 */
export class ModelLoadError extends UnrecoverableError {
  readonly code = 'MODEL_LOAD' as const;
  constructor(
    readonly runId: string,
    cause: unknown,
  ) {
    super(`The model of run ${runId} cannot be loaded: ${(cause as Error)?.message ?? String(cause)}`);
    this.cause = cause;
    this.name = 'ModelLoadError';
  }
}

const REFUSALS: Record<CommitRefusal, string> = {
  'no-run': 'the run no longer exists in Redis',
  cancelled: 'the run was cancelled',
  'run-finished': 'the run is finalised (its manifest lists the chunk as committed)',
  'lock-lost': "this attempt lost the chunk job's lock (another worker took it over)",
  committed: 'the chunk is already committed, and failure rows never replace committed rows',
};

/**
 * `CHUNK_FENCED`: a chunk attempt was refused its commit (see RunStore.mayWriteChunk): `refusal` says why. It is
 * not a failure of the chunk: another attempt owns it, or the run no longer takes it.
 */
export class ChunkFencedError extends Error {
  readonly code = 'CHUNK_FENCED' as const;
  constructor(
    readonly runId: string,
    readonly chunkIndex: number,
    readonly refusal: CommitRefusal,
  ) {
    super(`Chunk ${chunkIndex} of run ${runId} was not written: ${REFUSALS[refusal]}`);
    this.name = 'ChunkFencedError';
  }
}

/** Redis refused the worker's credentials or permissions: no reconnect fixes that, so the worker does not start. */
export class RedisRefusedError extends Error {
  readonly code = 'REDIS_REFUSED' as const;
  constructor(cause: Error) {
    super(
      `Redis refused this worker (${cause.message}); fix the user, password or ACL in the Redis URL (REDIS_URL or --redis-url)`,
      { cause },
    );
    this.name = 'RedisRefusedError';
  }
}

interface WorkerErrors {
  REDIS_REFUSED: RedisRefusedError;
  MODEL_MISMATCH: ModelMismatchError;
  METRICS_ENDPOINT: MetricsEndpointError;
  MODEL_LOAD: ModelLoadError;
  CHUNK_FENCED: ChunkFencedError;
}

/** Whether `error` is a worker error with `code`, from any copy of this package. */
export function isWorkerError<C extends keyof WorkerErrors>(
  error: unknown,
  code: C,
): error is WorkerErrors[C] {
  return error instanceof Error && (error as { code?: unknown }).code === code;
}
