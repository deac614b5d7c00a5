import type { Dispatcher } from 'undici';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { SourceError } from '../errors.js';
import { schemeOf } from '../uri.js';
import { countBraces, expandBraces, hasBraces } from './brace-range.js';
import { listFile } from './list-file.js';
import { listLocal } from './local-source.js';
import { listTextManifest } from './manifest-source.js';
import { listS3 } from './s3-source.js';
import { entryOf, type ListInputOptions, type SourceEntry } from './source-entry.js';
import { inputFormatOf, manifestFormatOf, SOURCE_HELP } from './source-kinds.js';

/** Dependencies of {@link listSource}. */
export interface ListSourceDeps {
  /** Client for s3:// sources; a function is called only when an s3:// source is listed. */
  s3: S3Client | (() => S3Client);
  /** Read for the source `-`. Default none: `-` is then an error. */
  stdin?: NodeJS.ReadableStream;
  /** Stops listing; the iterator then throws the signal's reason. Default none. */
  signal?: AbortSignal;
  /**
   * undici dispatcher for http(s) manifests: an InputGuard's, so they meet the network policy (submitRun passes
   * one). Default: Node's global dispatcher, with no address policy.
   */
  dispatcher?: Dispatcher;
}

/**
 * Lists the inputs of a source, streaming, in a deterministic order (so chunks are numbered the same when a run
 * resumes): images (absolute local paths, `s3://bucket/key`, `http(s)://` URLs) and WebDataset tar shards, whose
 * members the worker reads.
 *
 * - A local directory is walked recursively (entries sorted by UTF-8 bytes, folders as `name/`), keeping images
 *   and tar shards by extension (with `--input-format F`: its files of format F, each listed), skipping dot files
 *   and dot folders and never following symlinked folders. `s3://bucket/prefix/` is listed page by page alike.
 * - A file (local, `s3://` or `http(s)://`) is read by its format, from `options.format` or its extension: a
 *   manifest (`.txt`/`.lst` one URI per line, `.csv`, `.tsv`, `.jsonl`/`.ndjson`, each optionally gzip- or
 *   zstd-compressed, and `.parquet`) yields its rows in file order with the columns `options` pick; a tar shard
 *   (`.tar`, `.tar.gz`, `.tgz`) and an image yield themselves. A local or S3 file of unknown extension is an
 *   error naming the formats; an http(s) URL of no known format is taken as an image.
 * - Brace patterns as WebDataset writes them (`s3://b/shards/{00000..00999}.tar`, `{a,b}`) expand in order; each
 *   URI is an input (a manifest by its name is listed), not checked for existence: a missing one is an error row.
 * - `-` reads URIs from `deps.stdin`, one per line (or in `options.format`); relative paths resolve against the
 *   cwd, and relative manifest entries against the manifest's folder.
 *
 * Missing sources throw {@link SourceError} `SOURCE_NOT_FOUND`; unreadable ones `SOURCE_INVALID` or `SOURCE_READ`.
 */
export async function* listSource(
  source: string,
  deps: ListSourceDeps,
  options: ListInputOptions = {},
): AsyncGenerator<SourceEntry> {
  deps.signal?.throwIfAborted();
  if (typeof source !== 'string' || source.trim() === '') {
    throw new SourceError('SOURCE_INVALID', String(source), `empty source; ${SOURCE_HELP}`);
  }
  if (source === '-') {
    if (deps.stdin === undefined) throw new SourceError('SOURCE_INVALID', source, 'stdin is not available');
    const format = options.format === undefined ? 'lines' : options.format;
    if (format === 'parquet' || format === 'tar') {
      throw new SourceError('SOURCE_INVALID', source, `stdin cannot be read as ${format}; save it to a file`);
    }
    const base = { kind: 'local', dir: process.cwd() } as const;
    yield* listTextManifest(source, deps.stdin, format, base, options, deps.signal);
    return;
  }
  if (hasBraces(source)) {
    countBraces(source);
    for (const uri of expandBraces(source)) {
      const resolved = schemeOf(uri) === undefined ? path.resolve(uri) : uri;
      if (manifestFormatOf(uri) !== undefined && options.format !== 'tar') {
        yield* listSource(resolved, deps, options);
      } else if (options.format === 'tar') {
        yield { kind: 'tar', uri: resolved };
      } else {
        yield entryOf(resolved);
      }
    }
    return;
  }
  const scheme = schemeOf(source);
  if (scheme === 'http' || scheme === 'https') {
    let url: URL;
    try {
      url = new URL(source);
    } catch (cause) {
      throw new SourceError('SOURCE_INVALID', source, 'not a valid URL', { cause });
    }
    // URLs of images often have no extension: only a name of a known format is read as one.
    if ((options.format ?? inputFormatOf(url.pathname)) === undefined) {
      yield { kind: 'image', uri: source, key: null, cols: null };
      return;
    }
    const file = {
      kind: 'http' as const,
      url: source,
      ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
    };
    yield* listFile(source, file, source, options, deps.signal);
    return;
  }
  if (scheme === 's3') {
    yield* listS3(source, deps, options);
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
  yield* listLocal(source, file, deps.signal, options);
}
