/**
 * Errors of vgg-index. Option validation uses vgg-core's `invalidOption` (code `VGG_INVALID_OPTION`) like the
 * other packages; storage failures are vgg-pipeline's `StorageError`s. Everything else is an IndexError, whose
 * `code` says what went wrong:
 */
export type IndexErrorCode =
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
  /** The native index library failed (out of memory, a corrupt file). */
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
