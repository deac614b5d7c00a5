/**
 * Errors of vgg-index: one class, IndexError, whose stable `code` says what went wrong. Other packages match on the
 * code with {@link isIndexError}, not on `instanceof`. Storage failures pass through as vgg-pipeline's
 * StorageErrors (codes `STORAGE_*`).
 */
export type IndexErrorCode =
  /** An option or argument failed validation: "Expected positive integer for k but received 0". */
  | 'INDEX_OPTION_INVALID'
  /** The run output cannot be indexed: no manifest, the tap is missing, a shard disagrees with the manifest. */
  | 'INDEX_RUN_INVALID'
  /** An index (its manifest, a part or a sidecar) is missing, unreadable or inconsistent. */
  | 'INDEX_FORMAT'
  /** The run's `_manifest.json` changed after the index was built, so rows may no longer match. */
  | 'INDEX_STALE'
  /** An index already exists at the output location and overwriting was not asked for. */
  | 'INDEX_EXISTS'
  /** A query input (vector file, URI, image) cannot be used with this index. */
  | 'INDEX_QUERY_INVALID'
  /** The native index library failed (out of memory, a corrupt file, a missing binary). */
  | 'INDEX_NATIVE';

export class IndexError extends Error {
  readonly code: IndexErrorCode;
  /** The URI or path the error is about, when there is one. */
  readonly uri: string | undefined;
  constructor(code: IndexErrorCode, message: string, options: { cause?: unknown; uri?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'IndexError';
    this.code = code;
    this.uri = options.uri;
  }
}

const CODES: ReadonlySet<string> = new Set<IndexErrorCode>([
  'INDEX_OPTION_INVALID',
  'INDEX_RUN_INVALID',
  'INDEX_FORMAT',
  'INDEX_STALE',
  'INDEX_EXISTS',
  'INDEX_QUERY_INVALID',
  'INDEX_NATIVE',
]);

/** Whether `error` is an index error (from any copy of this package) with one of `codes`, or any code if none. */
export function isIndexError(error: unknown, ...codes: IndexErrorCode[]): error is IndexError {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    error instanceof Error &&
    typeof code === 'string' &&
    (codes.length === 0 ? CODES.has(code) : (codes as string[]).includes(code))
  );
}

/** Builds the standard validation error: "Expected positive integer for k but received 0". */
export function invalidOption(option: string, expected: string, received: unknown): IndexError {
  return new IndexError(
    'INDEX_OPTION_INVALID',
    `Expected ${expected} for ${option} but received ${describe(received)}`,
  );
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  return String(value);
}
