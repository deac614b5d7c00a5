/**
 * Errors of object stores (S3 or local). `code` says what a caller can do about it:
 * - `STORAGE_TRANSIENT`: a retry later may succeed (5xx, throttling, network, timeouts).
 * - `STORAGE_PERMANENT`: retrying will not help (access denied, missing bucket, invalid request, full disk).
 * - `STORAGE_NOT_FOUND`: the key does not exist.
 */
export type StorageErrorCode = 'STORAGE_TRANSIENT' | 'STORAGE_PERMANENT' | 'STORAGE_NOT_FOUND';

/** The store operation that failed. */
export type StorageOperation = 'put' | 'get' | 'exists' | 'list' | 'delete';

export class StorageError extends Error {
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
