/**
 * URIs as the pipeline reads them: local paths (no scheme), `file://`, `s3://bucket/key` and `http(s)://` URLs, plus
 * `redis(s)://` for connections. Every part of the package asks this module for a URI's scheme, splits S3 URIs
 * here, and redacts here, so there is one rule for each.
 */

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;

/** The lowercase scheme of `scheme://…`, or undefined for a local path. */
export function schemeOf(uri: string): string | undefined {
  return SCHEME.exec(uri)?.[1]?.toLowerCase();
}

/** True for `http://` and `https://` URLs. */
export function isHttpUri(uri: string): boolean {
  const scheme = schemeOf(uri);
  return scheme === 'http' || scheme === 'https';
}

/** True for URIs read over the network (S3 or HTTP), as opposed to local files. */
export function isRemoteUri(uri: string): boolean {
  return schemeOf(uri) === 's3' || isHttpUri(uri);
}

/**
 * Splits `s3://bucket/some/key` into bucket and key (key may be empty). The key is kept verbatim: S3 keys may
 * contain `//`, spaces, `?`, `#` and `%`, so no URL decoding is applied.
 */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/is.exec(uri);
  const bucket = match?.[1];
  if (
    match === null ||
    bucket === undefined ||
    !/^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/.test(bucket)
  ) {
    throw new TypeError(
      `Expected s3://bucket/key with a valid bucket name for S3 URI but received ${JSON.stringify(uri)}`,
    );
  }
  return { bucket, key: match[2] ?? '' };
}

/** Formats a bucket and key as `s3://bucket/key`. */
export function formatS3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/**
 * Query parameters that carry credentials, matched after lowercasing and splitting the name into words at `-`, `_`
 * and `.`: a name with any word of {@link SECRET_WORDS}, or one of {@link SECRET_NAMES} (short names of Azure SAS
 * and legacy signing schemes). This covers AWS SigV4/SigV2 (`X-Amz-Signature`, `X-Amz-Credential`,
 * `X-Amz-Security-Token`, `Signature`, `AWSAccessKeyId`), Google Cloud Storage (`X-Goog-Signature`,
 * `GoogleAccessId`), Azure SAS (`sig`, `se`, `sp`, …) and API keys and tokens (`api_key`, `api-key`,
 * `access_token`, `client_secret`, `jwt`, `id_token`, `password`, …).
 */
export const SECRET_WORDS: ReadonlySet<string> = new Set([
  'signature',
  'sig',
  'credential',
  'credentials',
  'token',
  'secret',
  'password',
  'passwd',
  'pwd',
  'key',
  'apikey',
  'auth',
  'authorization',
  'jwt',
  'session',
]);

/** Whole parameter names (lowercase) that are secret although no word of theirs is. */
export const SECRET_NAMES: ReadonlySet<string> = new Set([
  'awsaccesskeyid',
  'googleaccessid',
  'se',
  'sp',
  'sv',
  'st',
  'sr',
  'skoid',
  'sktid',
  'skt',
  'ske',
  'sks',
  'skv',
]);

/** Whether a query parameter name carries a credential, by the rule of {@link SECRET_WORDS}. */
export function isSecretParam(name: string): boolean {
  const lower = name.toLowerCase();
  return SECRET_NAMES.has(lower) || lower.split(/[-_.]/).some((word) => SECRET_WORDS.has(word));
}

/**
 * The one redaction policy, for logs, error messages and outputs alike. A URI loses what may be a credential and
 * keeps what identifies the resource, so distinct inputs stay distinct in the outputs' `uri` column:
 * - the user-info (`user:password@`) is removed;
 * - query parameters for which {@link isSecretParam} holds are removed, and those named in `extraParams` (a run's
 *   `--redact-params`, matched ignoring case), the others kept in order;
 * - the fragment is removed.
 *
 * Local paths and `s3://` URIs carry no credentials (S3 keys may hold `?` and `#` literally) and are returned
 * unchanged. A URI that does not parse loses everything up to the last `@` of its authority, its query and its
 * fragment.
 */
export function redactUri(uri: string, extraParams: readonly string[] = []): string {
  const scheme = schemeOf(uri);
  if (scheme === undefined || scheme === 's3') return uri;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return redactUnparsed(uri, scheme);
  }
  url.username = '';
  url.password = '';
  const extra = new Set(extraParams.map((name) => name.toLowerCase()));
  for (const name of [...url.searchParams.keys()]) {
    if (isSecretParam(name) || extra.has(name.toLowerCase())) url.searchParams.delete(name);
  }
  url.hash = '';
  return url.toString();
}

function redactUnparsed(uri: string, scheme: string): string {
  const rest = uri.slice(scheme.length + 3).replace(/[?#].*$/s, '');
  // A password may itself hold '/' or '@', so the user-info ends at the last '@'.
  const at = rest.lastIndexOf('@');
  return `${scheme}://${at < 0 ? rest : rest.slice(at + 1)}`;
}
