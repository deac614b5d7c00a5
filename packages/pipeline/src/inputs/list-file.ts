import path from 'node:path';
import { SourceError } from '../errors.js';
import { listTextManifest, type ManifestBase } from './manifest-source.js';
import { listParquetManifest } from './parquet-manifest.js';
import { openRangeReader, openSourceStream, type SourceFile } from './source-bytes.js';
import type { ListInputOptions, SourceEntry } from './source-entry.js';
import { FORMAT_NAMES, inputFormatOf, isImageName } from './source-kinds.js';

/**
 * Lists one file source by its format (`--input-format`, else its extension): a manifest's entries, a tar shard,
 * or an image (the URI itself, yielded as `uri`). A name of no known format is an error naming the formats, not a
 * one-image run.
 */
export async function* listFile(
  source: string,
  file: SourceFile,
  uri: string,
  options: ListInputOptions,
  signal: AbortSignal | undefined,
): AsyncGenerator<SourceEntry> {
  const name = nameOf(file);
  const format = options.format ?? inputFormatOf(name);
  if (format === 'tar') {
    yield { kind: 'tar', uri };
    return;
  }
  if (format === undefined) {
    if (isImageName(name)) {
      yield { kind: 'image', uri, key: null, cols: null };
      return;
    }
    const extension = path.posix.extname(name);
    throw new SourceError(
      'SOURCE_INVALID',
      source,
      `${extension === '' ? 'no file extension' : `unknown file extension ${extension}`}: expected an image, ${FORMAT_NAMES}; ` +
        'name the format with --input-format lines|csv|tsv|jsonl|parquet|tar',
    );
  }
  const base = baseOf(file);
  if (format === 'parquet') {
    yield* listParquetManifest(source, await openRangeReader(source, file, signal), base, options, signal);
    return;
  }
  yield* listTextManifest(
    source,
    await openSourceStream(source, file, signal),
    format,
    base,
    options,
    signal,
  );
}

function nameOf(file: SourceFile): string {
  if (file.kind === 'local') return file.path;
  if (file.kind === 's3') return file.key;
  return new URL(file.url).pathname;
}

function baseOf(file: SourceFile): ManifestBase {
  if (file.kind === 'local') return { kind: 'local', dir: path.dirname(file.path) };
  if (file.kind === 's3')
    return { kind: 's3', bucket: file.bucket, prefix: file.key.slice(0, file.key.lastIndexOf('/') + 1) };
  return { kind: 'http', url: file.url };
}
