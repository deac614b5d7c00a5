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
 * on a later try; the others will not. Messages and `uri` never carry credentials or query strings.
 */
export class FetchError extends Error {
  readonly code = 'FETCH_FAILED' as const;
  readonly reason: FetchErrorReason;
  readonly transient: boolean;
  /** The input URI, redacted with {@link redactUri}. */
  readonly uri: string;
  /** HTTP status of the response that failed the fetch, when there was one. */
  readonly status: number | undefined;
  constructor(
    reason: FetchErrorReason,
    uri: string,
    detail: string,
    options: { transient?: boolean; status?: number | undefined; cause?: unknown } = {},
  ) {
    const redacted = redactUri(uri);
    super(`Could not fetch ${redacted}: ${detail}`, { cause: options.cause });
    this.name = 'FetchError';
    this.reason = reason;
    this.transient = options.transient ?? false;
    this.uri = redacted;
    this.status = options.status;
  }
}

/**
 * Strips what may be secret from a URI for logs and errors: `https://user:pw@host/p?X-Amz-Signature=…#f` becomes
 * `https://host/p`. Local paths and s3:// URIs are returned without query or fragment.
 */
export function redactUri(uri: string): string {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(uri)?.[1];
  if (scheme === undefined) return uri;
  try {
    const url = new URL(uri);
    if (url.protocol === 'http:' || url.protocol === 'https:')
      return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    // Fall through to the textual redaction below.
  }
  const rest = uri.slice(scheme.length + 3).replace(/^[^/@]*@/, '');
  return `${scheme}://${rest.replace(/[?#].*$/s, '')}`;
}
