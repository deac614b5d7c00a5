import { UnrecoverableError } from 'bullmq';

/**
 * Errors of vgg-chunk-worker, each with a stable `code` that callers match on (see isWorkerError).
 * - `MODEL_MISMATCH`: the worker loaded other weights (or resolves other preprocessing) than the run is bound to;
 *   the chunk fails without retries
 *   (it is an UnrecoverableError to BullMQ) and its rows get reason `model_mismatch`.
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

interface WorkerErrors {
  MODEL_MISMATCH: ModelMismatchError;
  METRICS_ENDPOINT: MetricsEndpointError;
}

/** Whether `error` is a worker error with `code`, from any copy of this package. */
export function isWorkerError<C extends keyof WorkerErrors>(
  error: unknown,
  code: C,
): error is WorkerErrors[C] {
  return error instanceof Error && (error as { code?: unknown }).code === code;
}
