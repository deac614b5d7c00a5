import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { SourceError } from '../errors.js';
import { formatS3Uri, schemeOf } from '../uri.js';
import type { ManifestFormat } from './source-kinds.js';
import { csvRecords, textLines } from './text-records.js';

/** Where relative manifest entries resolve: a local folder or an S3 folder prefix. */
export type ManifestBase = { kind: 'local'; dir: string } | { kind: 's3'; bucket: string; prefix: string };

/**
 * Yields the input URIs of a manifest stream in file order: `lines` one per line (`#` comments and blank lines
 * skipped), `csv` the `uri` column, `jsonl` the `uri` field. Relative paths resolve against `base`.
 */
export async function* listLines(
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
