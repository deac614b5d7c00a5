import { redactUri } from './fetch-error.js';

/**
 * A source of inputs could not be listed.
 * - `SOURCE_NOT_FOUND`: the path, bucket, prefix or manifest does not exist.
 * - `SOURCE_INVALID`: it exists but is not usable (unknown kind, manifest without a `uri` column, bad line).
 * - `SOURCE_READ`: listing or reading it failed (permissions, network, S3 errors).
 */
export type SourceErrorCode = 'SOURCE_NOT_FOUND' | 'SOURCE_INVALID' | 'SOURCE_READ';

export class SourceError extends Error {
  readonly code: SourceErrorCode;
  /** The source as given, redacted of credentials and query strings. */
  readonly source: string;
  constructor(code: SourceErrorCode, source: string, detail: string, options: { cause?: unknown } = {}) {
    const redacted = redactUri(source);
    super(`Source ${redacted}: ${detail}`, options);
    this.name = 'SourceError';
    this.code = code;
    this.source = redacted;
  }
}
