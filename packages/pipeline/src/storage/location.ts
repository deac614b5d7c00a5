import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { invalidOption } from '../errors.js';
import { parseS3Uri, schemeOf } from '../uri.js';

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
  const scheme = schemeOf(uri);
  if (scheme === undefined) return { kind: 'local', dir: path.resolve(uri) };
  if (scheme === 's3') {
    let key: string;
    let bucket: string;
    try {
      ({ bucket, key } = parseS3Uri(uri));
    } catch {
      throw invalidOption('S3 URI', 's3://bucket/key with a valid bucket name', uri);
    }
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
