import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { SourceError } from '../errors.js';
import { schemeOf } from '../uri.js';
import { listLocal } from './local-source.js';
import { listLines } from './manifest-source.js';
import { listS3 } from './s3-source.js';
import { SOURCE_HELP } from './source-kinds.js';

/** Dependencies of {@link listSource}. */
export interface ListSourceDeps {
  /** Client for s3:// sources; a function is called only when an s3:// source is listed. */
  s3: S3Client | (() => S3Client);
  /** Read for the source `-`. Default none: `-` is then an error. */
  stdin?: NodeJS.ReadableStream;
  /** Stops listing; the iterator then throws the signal's reason. Default none. */
  signal?: AbortSignal;
}

/**
 * Lists the input URIs of a source, streaming: absolute local paths, `s3://bucket/key` and `http(s)://` URLs.
 *
 * - A local directory is walked recursively in a deterministic order (entries sorted by UTF-8 bytes, folders as
 *   `name/`), keeping image files by extension, skipping dot files and dot folders and never following symlinked
 *   folders (a symlinked image file is kept).
 * - A local image file (or any file that is not a manifest) yields itself.
 * - `s3://bucket/prefix/` lists image keys page by page; `s3://bucket/key.jpg` yields itself after a HEAD.
 * - A manifest (local or s3://, by extension) yields its entries in file order: `.txt`/`.lst` one per line with
 *   `#` comments and blank lines skipped, `.csv` the `uri` column, `.jsonl`/`.ndjson` the `uri` field. Relative
 *   paths resolve against the manifest's folder. Entries are not expanded further.
 * - `http(s)://` yields itself; `-` yields the lines of `deps.stdin` (relative paths resolve against the cwd).
 *
 * Missing sources throw {@link SourceError} `SOURCE_NOT_FOUND`.
 */
export async function* listSource(source: string, deps: ListSourceDeps): AsyncGenerator<string> {
  deps.signal?.throwIfAborted();
  if (typeof source !== 'string' || source.trim() === '') {
    throw new SourceError('SOURCE_INVALID', String(source), `empty source; ${SOURCE_HELP}`);
  }
  if (source === '-') {
    if (deps.stdin === undefined) throw new SourceError('SOURCE_INVALID', source, 'stdin is not available');
    yield* listLines(source, deps.stdin, 'lines', { kind: 'local', dir: process.cwd() }, deps.signal);
    return;
  }
  const scheme = schemeOf(source);
  if (scheme === 'http' || scheme === 'https') {
    try {
      new URL(source);
    } catch (cause) {
      throw new SourceError('SOURCE_INVALID', source, 'not a valid URL', { cause });
    }
    yield source;
    return;
  }
  if (scheme === 's3') {
    yield* listS3(source, deps);
    return;
  }
  let file: string;
  if (scheme === 'file') {
    try {
      file = fileURLToPath(source);
    } catch (cause) {
      throw new SourceError('SOURCE_INVALID', source, 'not a valid file:// URL', { cause });
    }
  } else if (scheme === undefined) {
    file = path.resolve(source);
  } else {
    throw new SourceError('SOURCE_INVALID', source, `unsupported scheme ${scheme}://; ${SOURCE_HELP}`);
  }
  yield* listLocal(source, file, deps.signal);
}
