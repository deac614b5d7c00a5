import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parse as parseCsv } from 'csv-parse';
import { SourceError } from '../errors.js';
import { formatS3Uri, schemeOf } from '../uri.js';
import { decompressed } from './decompress.js';
import { ManifestColumns } from './manifest-columns.js';
import type { ListInputOptions, SourceEntry } from './source-entry.js';
import { entryOf } from './source-entry.js';
import type { ManifestFormat } from './source-kinds.js';
import { textLines } from './text-records.js';

/** Where relative manifest entries resolve: a local folder, an S3 folder prefix, or an http(s) folder URL. */
export type ManifestBase =
  | { kind: 'local'; dir: string }
  | { kind: 's3'; bucket: string; prefix: string }
  | { kind: 'http'; url: string };

/**
 * Yields the entries of a text manifest stream in file order, decompressing gzip or zstd (by magic bytes):
 * `lines` one URI per line (`#` comments and blank lines skipped); `csv` and `tsv` with a header row; `jsonl` one
 * JSON object per line. Relative paths resolve against `base`; entries named like tar shards are shards. Columns
 * are picked as `options` say (see {@link ManifestColumns}); rows with an empty URI are skipped.
 */
export async function* listTextManifest(
  source: string,
  input: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  format: Exclude<ManifestFormat, 'parquet'>,
  base: ManifestBase,
  options: ListInputOptions,
  signal: AbortSignal | undefined,
): AsyncGenerator<SourceEntry> {
  const columns = new ManifestColumns(source, options);
  const bytes = decompressed(input);
  try {
    if (format === 'csv' || format === 'tsv') {
      yield* listDelimited(source, bytes, format, columns, base, signal);
      return;
    }
    let lineNumber = 0;
    for await (const raw of textLines(bytes)) {
      lineNumber++;
      if (lineNumber % 4096 === 0) signal?.throwIfAborted();
      const line = (lineNumber === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
      if (line === '') continue;
      if (format === 'lines') {
        if (!line.startsWith('#')) yield entryOf(resolveEntry(line, base));
        continue;
      }
      const record = jsonRecord(source, line, lineNumber);
      const entry = columns.entry((name) => record[name], `line ${lineNumber}`, resolveWith(base));
      if (entry) yield entry;
    }
  } catch (cause) {
    throw readFailure(source, cause, signal);
  } finally {
    await bytes.return(undefined);
    (input as Partial<Readable>).destroy?.();
  }
}

/** A listing failure as a SourceError naming the source (abort reasons and SourceErrors pass through). */
export function readFailure(source: string, cause: unknown, signal: AbortSignal | undefined): unknown {
  if (cause instanceof SourceError || signal?.aborted) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new SourceError('SOURCE_READ', source, `reading failed: ${detail}`, { cause });
}

function jsonRecord(source: string, line: string, lineNumber: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (cause) {
    throw new SourceError('SOURCE_INVALID', source, `line ${lineNumber} is not valid JSON`, { cause });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SourceError('SOURCE_INVALID', source, `line ${lineNumber} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

async function* listDelimited(
  source: string,
  bytes: AsyncIterable<Uint8Array>,
  format: 'csv' | 'tsv',
  columns: ManifestColumns,
  base: ManifestBase,
  signal: AbortSignal | undefined,
): AsyncGenerator<SourceEntry> {
  // RFC 4180 quoting for both (pandas quotes TSV fields that hold tabs, quotes or line breaks); quotes inside an
  // unquoted field are kept as text, and short rows are allowed (missing cells are empty).
  const parser = parseCsv({
    delimiter: format === 'tsv' ? '\t' : ',',
    bom: true,
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: true,
    // Files mixing CRLF and LF exist; csv-parse would otherwise keep to the first ending it sees.
    record_delimiter: ['\r\n', '\n'],
  });
  const reader = Readable.from(bytes, { objectMode: false });
  reader.on('error', (error) => parser.destroy(error));
  reader.pipe(parser);
  let picker: ((record: string[], where: string) => SourceEntry | null) | undefined;
  let records = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      records++;
      if (records % 4096 === 0) signal?.throwIfAborted();
      if (picker === undefined) {
        const header = record.map((name) => name.trim());
        picker = columns.forHeader(header, format.toUpperCase(), resolveWith(base));
        continue;
      }
      const entry = picker(record, `row ${records}`);
      if (entry) yield entry;
    }
  } catch (cause) {
    const lines = (cause as { lines?: unknown }).lines;
    if ((cause as { code?: unknown }).code?.toString().startsWith('CSV_')) {
      throw new SourceError(
        'SOURCE_INVALID',
        source,
        `${format.toUpperCase()} line ${String(lines)}: ${(cause as Error).message}`,
        { cause },
      );
    }
    throw cause;
  } finally {
    reader.destroy();
  }
}

function resolveWith(base: ManifestBase): (entry: string) => string {
  return (entry) => resolveEntry(entry, base);
}

/** Turns a manifest entry into an input URI: URIs pass through, relative paths resolve against the base. */
export function resolveEntry(entry: string, base: ManifestBase): string {
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
  if (base.kind === 'http') return path.isAbsolute(entry) ? entry : new URL(entry, base.url).toString();
  if (path.isAbsolute(entry)) return entry;
  if (base.kind === 'local') return path.resolve(base.dir, entry);
  return formatS3Uri(base.bucket, path.posix.normalize(base.prefix + entry).replace(/^(\.\.\/)+/, ''));
}
