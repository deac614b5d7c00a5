import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { formatS3Uri, parseS3Uri } from './location.js';
import { classifyS3Error } from './s3-client.js';
import { SourceError } from './source-error.js';

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
 * File extensions treated as images when walking directories and prefixes. Deliberately broad: a file that
 * turns out not to decode becomes one error row, while a skipped image would silently vanish from the run.
 */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  'jpg',
  'jpeg',
  'jpe',
  'jfif',
  'pjpeg',
  'pjp',
  'png',
  'apng',
  'webp',
  'gif',
  'tif',
  'tiff',
  'avif',
  'heic',
  'heif',
  'svg',
  'bmp',
  'dib',
  'jp2',
  'j2k',
  'jpf',
  'jpx',
  'jpm',
  'jxl',
  'ico',
  'pbm',
  'pgm',
  'ppm',
  'pnm',
  'pam',
  'hdr',
  'exr',
  'dng',
  'raw',
  'tga',
  'psd',
]);

/** Manifest formats by extension: one URI per line, CSV with a `uri` column, or JSON lines with a `uri` field. */
export type ManifestFormat = 'lines' | 'csv' | 'jsonl';

const MANIFEST_FORMATS: Readonly<Record<string, ManifestFormat>> = {
  txt: 'lines',
  lst: 'lines',
  csv: 'csv',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
};

const SOURCE_HELP =
  'expected a directory of images, an image file, a manifest (.txt, .lst, .csv, .jsonl, .ndjson), ' +
  's3://bucket/prefix/, s3://bucket/manifest.csv, an http(s):// URL, or - for stdin';

/** True when the name's extension is one of {@link IMAGE_EXTENSIONS} (case-insensitive). */
export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.has(extensionOf(name));
}

/** The manifest format a file name implies, or undefined. */
export function manifestFormatOf(name: string): ManifestFormat | undefined {
  return MANIFEST_FORMATS[extensionOf(name)];
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

// ---------------------------------------------------------------- local

async function* listLocal(
  source: string,
  file: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<string> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new SourceError('SOURCE_NOT_FOUND', source, `${file} does not exist; ${SOURCE_HELP}`, { cause });
    }
    throw new SourceError('SOURCE_READ', source, `cannot access ${file} (${String(code)})`, { cause });
  }
  if (info.isDirectory()) {
    yield* walkDirectory(source, file, signal);
    return;
  }
  const format = manifestFormatOf(file);
  if (format === undefined) {
    yield file;
    return;
  }
  const stream = createReadStream(file);
  yield* listLines(source, stream, format, { kind: 'local', dir: path.dirname(file) }, signal);
}

async function* walkDirectory(
  source: string,
  dir: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<string> {
  signal?.throwIfAborted();
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    throw new SourceError('SOURCE_READ', source, `cannot read directory ${dir} (${String(code)})`, { cause });
  }
  const sorted = entries
    .filter((entry) => !entry.name.startsWith('.'))
    .map((entry) => ({ entry, sortKey: Buffer.from(entry.isDirectory() ? `${entry.name}/` : entry.name) }))
    .sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
  for (const { entry } of sorted) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      yield* walkDirectory(source, full, signal);
    } else if (isImageName(entry.name)) {
      if (entry.isFile()) {
        yield full;
      } else if (entry.isSymbolicLink()) {
        // A link to an image file is kept; links to folders are never followed, so the walk cannot leave the
        // tree or loop.
        const target = await stat(full).catch(() => undefined);
        if (target?.isFile()) yield full;
      }
    }
  }
}

// ---------------------------------------------------------------- s3

async function* listS3(source: string, deps: ListSourceDeps): AsyncGenerator<string> {
  let bucket: string;
  let key: string;
  try {
    ({ bucket, key } = parseS3Uri(source));
  } catch (cause) {
    throw new SourceError('SOURCE_INVALID', source, 'expected s3://bucket/prefix/ or s3://bucket/key', {
      cause,
    });
  }
  const client = typeof deps.s3 === 'function' ? deps.s3() : deps.s3;
  const format = key.endsWith('/') ? undefined : manifestFormatOf(key);
  if (format !== undefined) {
    let body: Readable;
    try {
      const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), {
        ...(deps.signal !== undefined ? { abortSignal: deps.signal } : {}),
      });
      body = response.Body as Readable;
    } catch (cause) {
      throw s3SourceError(source, cause, deps.signal);
    }
    const slash = key.lastIndexOf('/');
    yield* listLines(
      source,
      body,
      format,
      { kind: 's3', bucket, prefix: key.slice(0, slash + 1) },
      deps.signal,
    );
    return;
  }
  if (key !== '' && !key.endsWith('/') && isImageName(key)) {
    try {
      await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), {
        ...(deps.signal !== undefined ? { abortSignal: deps.signal } : {}),
      });
    } catch (cause) {
      throw s3SourceError(source, cause, deps.signal);
    }
    yield source;
    return;
  }
  // Anything else is a folder-like prefix: "s3://b/photos" lists photos/, not photos2/.
  const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
  let continuationToken: string | undefined;
  let seenAny = false;
  do {
    deps.signal?.throwIfAborted();
    let page: ListObjectsV2CommandOutput;
    try {
      page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(continuationToken !== undefined ? { ContinuationToken: continuationToken } : {}),
        }),
        { ...(deps.signal !== undefined ? { abortSignal: deps.signal } : {}) },
      );
    } catch (cause) {
      throw s3SourceError(source, cause, deps.signal);
    }
    for (const object of page.Contents ?? []) {
      if (object.Key === undefined) continue;
      seenAny = true;
      const relative = object.Key.slice(prefix.length);
      if (relative.split('/').some((segment) => segment.startsWith('.'))) continue;
      if (isImageName(object.Key)) yield formatS3Uri(bucket, object.Key);
    }
    continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (continuationToken !== undefined);
  if (!seenAny) {
    throw new SourceError(
      'SOURCE_NOT_FOUND',
      source,
      `no objects under s3://${bucket}/${prefix}; check the bucket and prefix (S3 prefixes are case-sensitive)`,
    );
  }
}

function s3SourceError(source: string, cause: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  const info = classifyS3Error(cause);
  if (info.noSuchBucket) {
    return new SourceError('SOURCE_NOT_FOUND', source, 'the bucket does not exist', { cause });
  }
  if (info.notFound) {
    return new SourceError('SOURCE_NOT_FOUND', source, `the object does not exist; ${SOURCE_HELP}`, {
      cause,
    });
  }
  if (info.forbidden) {
    return new SourceError('SOURCE_READ', source, 'access denied; check the credentials and bucket policy', {
      cause,
    });
  }
  return new SourceError('SOURCE_READ', source, `S3 request failed (${info.name})`, { cause });
}

// ---------------------------------------------------------------- manifests

/** Where relative manifest entries resolve: a local folder or an S3 folder prefix. */
type ManifestBase = { kind: 'local'; dir: string } | { kind: 's3'; bucket: string; prefix: string };

async function* listLines(
  source: string,
  input: NodeJS.ReadableStream,
  format: ManifestFormat,
  base: ManifestBase,
  signal: AbortSignal | undefined,
): AsyncGenerator<string> {
  try {
    if (format === 'csv') {
      yield* listCsv(source, input, base, signal);
      return;
    }
    let lineNumber = 0;
    for await (const raw of textLines(input)) {
      lineNumber++;
      if (lineNumber % 4096 === 0) signal?.throwIfAborted();
      const line = (lineNumber === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
      if (line === '') continue;
      if (format === 'lines') {
        if (line.startsWith('#')) continue;
        yield resolveEntry(line, base);
      } else {
        yield resolveEntry(jsonLineUri(source, line, lineNumber), base);
      }
    }
  } catch (cause) {
    if (cause instanceof SourceError || signal?.aborted) throw cause;
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new SourceError('SOURCE_READ', source, `reading failed: ${detail}`, { cause });
  } finally {
    (input as Partial<Readable>).destroy?.();
  }
}

function jsonLineUri(source: string, line: string, lineNumber: number): string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (cause) {
    throw new SourceError('SOURCE_INVALID', source, `line ${lineNumber} is not valid JSON`, { cause });
  }
  const uri = (value as { uri?: unknown } | null)?.uri;
  if (typeof uri !== 'string' || uri.trim() === '') {
    throw new SourceError('SOURCE_INVALID', source, `line ${lineNumber} has no string "uri" field`);
  }
  return uri.trim();
}

async function* listCsv(
  source: string,
  input: NodeJS.ReadableStream,
  base: ManifestBase,
  signal: AbortSignal | undefined,
): AsyncGenerator<string> {
  let column: number | undefined;
  let records = 0;
  for await (const record of csvRecords(input)) {
    records++;
    if (records % 4096 === 0) signal?.throwIfAborted();
    if (column === undefined) {
      const header = record.map((name, index) => (index === 0 ? name.replace(/^\uFEFF/, '') : name).trim());
      column = header.findIndex((name) => name.toLowerCase() === 'uri');
      if (column < 0) {
        throw new SourceError(
          'SOURCE_INVALID',
          source,
          `CSV header has no "uri" column (found: ${header.map((name) => JSON.stringify(name)).join(', ')})`,
        );
      }
      continue;
    }
    const value = record[column]?.trim();
    if (value !== undefined && value !== '') yield resolveEntry(value, base);
  }
}

/** Streams the lines of a UTF-8 byte stream (LF or CRLF), without loading it whole; stream errors propagate. */
export async function* textLines(
  input: AsyncIterable<unknown> | NodeJS.ReadableStream,
): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n', start)) {
      yield stripCr(pending.slice(start, newline));
      start = newline + 1;
    }
    pending = pending.slice(start);
  }
  pending += decoder.decode();
  if (pending !== '') yield stripCr(pending);
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/**
 * Streams RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks; CRLF or LF endings.
 * Blank lines are skipped.
 */
export async function* csvRecords(
  input: AsyncIterable<unknown> | NodeJS.ReadableStream,
): AsyncGenerator<string[]> {
  const decoder = new TextDecoder('utf-8');
  let field = '';
  let record: string[] = [];
  let inQuotes = false;
  let quotePending = false;
  let fieldStarted = false;
  const done: string[][] = [];
  const endRecord = () => {
    if (fieldStarted || record.length > 0 || field !== '') {
      record.push(field);
      done.push(record);
    }
    record = [];
    field = '';
    fieldStarted = false;
  };
  const consume = (text: string) => {
    for (let i = 0; i < text.length; i++) {
      const c = text[i] as string;
      if (inQuotes) {
        if (quotePending) {
          quotePending = false;
          if (c === '"') {
            field += '"';
            continue;
          }
          inQuotes = false;
        } else if (c === '"') {
          quotePending = true;
          continue;
        } else {
          field += c;
          continue;
        }
      }
      if (c === '"' && field === '') {
        inQuotes = true;
        fieldStarted = true;
      } else if (c === ',') {
        record.push(field);
        field = '';
        fieldStarted = true;
      } else if (c === '\n') {
        endRecord();
      } else if (c !== '\r') {
        field += c;
      }
    }
  };
  for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
    consume(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    yield* done.splice(0);
  }
  consume(decoder.decode());
  endRecord();
  yield* done.splice(0);
}

/** Turns a manifest entry into an input URI: URIs pass through, relative paths resolve against the base. */
function resolveEntry(entry: string, base: ManifestBase): string {
  const scheme = schemeOf(entry);
  if (scheme === 'file') {
    try {
      return fileURLToPath(entry);
    } catch {
      return entry;
    }
  }
  // Other schemes pass through; an unsupported one fails that row alone, at fetch time, as invalid_uri.
  if (scheme !== undefined) return entry;
  if (path.isAbsolute(entry)) return entry;
  if (base.kind === 'local') return path.resolve(base.dir, entry);
  return formatS3Uri(base.bucket, path.posix.normalize(base.prefix + entry).replace(/^(\.\.\/)+/, ''));
}

function schemeOf(uri: string): string | undefined {
  return /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(uri)?.[1]?.toLowerCase();
}

function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1).toLowerCase();
}
