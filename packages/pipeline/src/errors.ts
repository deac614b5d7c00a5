import { redactUri } from './uri.js';

/**
 * Errors of vgg-pipeline. Each class has a stable `code` (a string that other packages match on, with
 * {@link isPipelineError}, rather than on `instanceof`), structured fields, and a message in sharp's style that says
 * what was wrong and what to do. Causes are kept as `cause`.
 */
export abstract class PipelineError extends Error {
  abstract readonly code: PipelineErrorCode;
}

/** Every code, with the class that carries it. */
export interface PipelineErrors {
  OPTION_INVALID: OptionError;
  STORAGE_TRANSIENT: StorageError;
  STORAGE_PERMANENT: StorageError;
  STORAGE_NOT_FOUND: StorageError;
  SOURCE_NOT_FOUND: SourceError;
  SOURCE_INVALID: SourceError;
  SOURCE_READ: SourceError;
  FETCH_FAILED: FetchError;
  FORBIDDEN_ADDRESS: ForbiddenAddressError;
  RUN_INVALID: RunError;
  RUN_CONFLICT: RunError;
  RUN_NOT_FOUND: RunError;
}

export type PipelineErrorCode = keyof PipelineErrors;

/** Whether `error` is a pipeline error with `code` (one of `codes`); works across copies of this package. */
export function isPipelineError<C extends PipelineErrorCode>(
  error: unknown,
  ...codes: C[]
): error is PipelineErrors[C] {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === 'string' && (codes as string[]).includes(code);
}

/** An argument of a pipeline function failed validation: "Expected X for name but received Y". */
export class OptionError extends PipelineError {
  readonly code = 'OPTION_INVALID' as const;
  constructor(
    readonly option: string,
    readonly expected: string,
    readonly received: unknown,
  ) {
    super(`Expected ${expected} for ${option} but received ${describeValue(received)}`);
    this.name = 'OptionError';
  }
}

/** Builds the standard validation error: "Expected positive integer for chunkSize but received 0". */
export function invalidOption(option: string, expected: string, received: unknown): OptionError {
  return new OptionError(option, expected, received);
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describeValue).join(', ')}]`;
  return String(value);
}

/**
 * - `STORAGE_TRANSIENT`: a retry later may succeed (5xx, throttling, network, timeouts).
 * - `STORAGE_PERMANENT`: retrying will not help (access denied, missing bucket, invalid request, full disk).
 * - `STORAGE_NOT_FOUND`: the key does not exist.
 */
export type StorageErrorCode = 'STORAGE_TRANSIENT' | 'STORAGE_PERMANENT' | 'STORAGE_NOT_FOUND';

/** The object-store operation that failed. */
export type StorageOperation = 'put' | 'get' | 'exists' | 'list' | 'delete';

/** An object store (S3 or local) operation failed; `code` says what a caller can do about it. */
export class StorageError extends PipelineError {
  readonly code: StorageErrorCode;
  readonly operation: StorageOperation;
  /** User-facing URI of the key or prefix, as `ObjectStore.describe` gives it. */
  readonly uri: string;
  /** HTTP status of the failed S3 request, when there was one. */
  readonly status: number | undefined;
  constructor(
    code: StorageErrorCode,
    operation: StorageOperation,
    uri: string,
    detail: string,
    options: { cause?: unknown; status?: number | undefined } = {},
  ) {
    const status = options.status;
    super(`Could not ${operation} ${uri}: ${detail}${status === undefined ? '' : ` (HTTP ${status})`}`, {
      cause: options.cause,
    });
    this.name = 'StorageError';
    this.code = code;
    this.operation = operation;
    this.uri = uri;
    this.status = status;
  }

  /** True when retrying the operation later may succeed. */
  get transient(): boolean {
    return this.code === 'STORAGE_TRANSIENT';
  }
}

/**
 * - `SOURCE_NOT_FOUND`: the path, bucket, prefix or manifest does not exist.
 * - `SOURCE_INVALID`: it exists but is not usable (unknown kind, manifest without a `uri` column, bad line).
 * - `SOURCE_READ`: listing or reading it failed (permissions, network, S3 errors).
 */
export type SourceErrorCode = 'SOURCE_NOT_FOUND' | 'SOURCE_INVALID' | 'SOURCE_READ';

/** A source of inputs could not be listed. */
export class SourceError extends PipelineError {
  readonly code: SourceErrorCode;
  /** The source as given, redacted with {@link redactUri}. */
  readonly source: string;
  constructor(code: SourceErrorCode, source: string, detail: string, options: { cause?: unknown } = {}) {
    const redacted = redactUri(source);
    super(`Source ${redacted}: ${detail}`, options);
    this.name = 'SourceError';
    this.code = code;
    this.source = redacted;
  }
}

/** Why an input could not be fetched; recorded per row in the output's `error` column. */
export type FetchErrorReason =
  | 'not_found'
  | 'forbidden'
  | 'too_large'
  | 'timeout'
  | 'redirect_loop'
  | 'http_error'
  | 'network'
  | 'invalid_uri';

/**
 * An input's bytes could not be fetched. `transient` errors (5xx, 429, connection resets, timeouts) may succeed
 * on a later try; the others will not. Messages and `uri` are redacted with {@link redactUri}.
 */
export class FetchError extends PipelineError {
  readonly code = 'FETCH_FAILED' as const;
  readonly reason: FetchErrorReason;
  readonly transient: boolean;
  /** The input URI, redacted. */
  readonly uri: string;
  /** HTTP status of the response that failed the fetch, when there was one. */
  readonly status: number | undefined;
  /** How long the server asked clients to wait (Retry-After on 429 and 503), in ms; undefined when it did not. */
  readonly retryAfterMs: number | undefined;
  constructor(
    reason: FetchErrorReason,
    uri: string,
    detail: string,
    options: {
      transient?: boolean;
      status?: number | undefined;
      retryAfterMs?: number;
      cause?: unknown;
    } = {},
  ) {
    const redacted = redactUri(uri);
    super(`Could not fetch ${redacted}: ${detail}`, { cause: options.cause });
    this.name = 'FetchError';
    this.reason = reason;
    this.transient = options.transient ?? false;
    this.uri = redacted;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A connection was refused by the network policy (server-side request forgery guard). */
export class ForbiddenAddressError extends PipelineError {
  readonly code = 'FORBIDDEN_ADDRESS' as const;
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(
      `Refused to connect to ${host} (${address}): loopback, private, link-local and metadata addresses are blocked; allow it explicitly with --allow-hosts or --allow-cidrs`,
    );
    this.name = 'ForbiddenAddressError';
  }
}

/**
 * - `RUN_INVALID`: the run's options cannot work (checked at submit against vgg-core); `field` names the option.
 * - `RUN_CONFLICT`: a run with this id exists with different options; `field` names the spec section.
 * - `RUN_NOT_FOUND`: no run with this id in this Redis and prefix.
 */
export type RunErrorCode = 'RUN_INVALID' | 'RUN_CONFLICT' | 'RUN_NOT_FOUND';

/** A run cannot be submitted, resumed or controlled. */
export class RunError extends PipelineError {
  readonly code: RunErrorCode;
  /** The run id, or null when the run was not named yet. */
  readonly runId: string | null;
  /** The option or spec section at fault, when there is one. */
  readonly field: string | null;
  constructor(
    code: RunErrorCode,
    fields: { runId?: string | null; field?: string | null },
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'RunError';
    this.code = code;
    this.runId = fields.runId ?? null;
    this.field = fields.field ?? null;
  }
}

/**
 * Whether a run error is the user's to fix by calling the command differently, which the CLIs report as a usage
 * error (exit 2): options that cannot work (`RUN_INVALID`), or a run id resubmitted with other options or another
 * listing of its inputs (`RUN_CONFLICT` from submit). A compaction that raced a retry (`RUN_CONFLICT` on the
 * `manifest`) is not: running it again later is the fix.
 */
export function isRunUsageError(error: unknown): boolean {
  if (isPipelineError(error, 'RUN_INVALID')) return true;
  return isPipelineError(error, 'RUN_CONFLICT') && error.field !== 'manifest';
}

/** The run `runId` does not exist in this Redis. */
export function runNotFound(runId: string): RunError {
  return new RunError(
    'RUN_NOT_FOUND',
    { runId },
    `Run ${runId} does not exist in this Redis (check REDIS_URL and --prefix)`,
  );
}
