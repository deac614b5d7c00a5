import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { invalidOption } from 'vgg-core';

/** Where outputs go or inputs come from, parsed from a user-given URI. */
export type Location =
  /** `s3://bucket/prefix/`: `prefix` has no leading slash; it is empty or ends in `/`. */
  | { kind: 's3'; bucket: string; prefix: string }
  /** A local directory, resolved to an absolute path. */
  | { kind: 'local'; dir: string }
  /** An `http(s)://` URL; valid for inputs only. */
  | { kind: 'http'; url: string };

/**
 * Parses `s3://bucket/a/b/`, `file:///abs/dir`, `http(s)://…` or a local path (resolved against the current
 * directory). S3 prefixes are treated as folders: `s3://b/a/b` and `s3://b/a/b/` both give prefix `a/b/`.
 */
export function parseLocation(uri: string): Location {
  if (typeof uri !== 'string' || uri.trim() === '') {
    throw invalidOption('location', 'non-empty s3://, http(s)://, file:// URI or local path', uri);
  }
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'local', dir: path.resolve(uri) };
  if (scheme === 's3') {
    const { bucket, key } = parseS3Uri(uri);
    const trimmed = key.replace(/^\/+/, '').replace(/\/+$/, '');
    return { kind: 's3', bucket, prefix: trimmed === '' ? '' : `${trimmed}/` };
  }
  if (scheme === 'file') {
    try {
      return { kind: 'local', dir: path.resolve(fileURLToPath(uri)) };
    } catch {
      throw invalidOption('location', 'file:///absolute/path URI', uri);
    }
  }
  if (scheme === 'http' || scheme === 'https') {
    try {
      return { kind: 'http', url: new URL(uri).toString() };
    } catch {
      throw invalidOption('location', 'valid http(s):// URL', uri);
    }
  }
  throw invalidOption('location', 's3://, http(s)://, file:// URI or local path', uri);
}

/**
 * Splits `s3://bucket/some/key` into bucket and key (key may be empty). The key is kept verbatim: S3 keys may
 * contain `//`, spaces and `%`, so no URL decoding is applied.
 */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/is.exec(uri);
  const bucket = match?.[1];
  if (
    match === null ||
    bucket === undefined ||
    !/^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/.test(bucket)
  ) {
    throw invalidOption('S3 URI', 's3://bucket/key with a valid bucket name', uri);
  }
  return { bucket, key: match[2] ?? '' };
}

/** Formats a bucket and key as `s3://bucket/key`. */
export function formatS3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}
