import { SourceError } from '../errors.js';
import { ManifestColumns } from './manifest-columns.js';
import { type ManifestBase, readFailure, resolveEntry } from './manifest-source.js';
import type { RangeReader } from './source-bytes.js';
import type { ListInputOptions, SourceEntry } from './source-entry.js';

/**
 * Yields the entries of a Parquet manifest (as img2dataset and Hugging Face datasets write them) in row order,
 * reading only the columns it needs, one row group at a time, through byte ranges: the file is never loaded whole.
 * Pages may be compressed with any codec Parquet writers use (snappy, gzip, zstd, brotli, lz4).
 */
export async function* listParquetManifest(
  source: string,
  file: RangeReader,
  base: ManifestBase,
  options: ListInputOptions,
  signal: AbortSignal | undefined,
): AsyncGenerator<SourceEntry> {
  const columns = new ManifestColumns(source, options);
  try {
    if (file.byteLength < 12) {
      throw new SourceError('SOURCE_INVALID', source, 'is not a Parquet file (too short)');
    }
    const tail = new Uint8Array(await file.slice(file.byteLength - 4));
    if (new TextDecoder().decode(tail) !== 'PAR1') {
      throw new SourceError(
        'SOURCE_INVALID',
        source,
        'is not a Parquet file (no PAR1 footer); Parquet manifests cannot be gzip- or zstd-compressed as a whole (Parquet compresses its own pages)',
      );
    }
    // Loaded here, not at import: only Parquet manifests need them.
    const [{ parquetMetadataAsync, parquetReadObjects, parquetSchema }, { compressors }] = await Promise.all([
      import('hyparquet'),
      import('hyparquet-compressors'),
    ]);
    const metadata = await parquetMetadataAsync(file);
    const available = parquetSchema(metadata).children.map((child) => child.element.name);
    const { url, columns: wanted } = columns.wanted(available, 'Parquet file');
    let rowStart = 0;
    for (const group of metadata.row_groups) {
      signal?.throwIfAborted();
      const rowEnd = rowStart + Number(group.num_rows);
      const rows = (await parquetReadObjects({
        file,
        metadata,
        columns: wanted,
        rowStart,
        rowEnd,
        compressors,
      })) as Record<string, unknown>[];
      for (const [i, row] of rows.entries()) {
        const entry = columns.entry(
          (name) => row[name],
          `row ${rowStart + i + 1}`,
          (uri) => resolveEntry(uri, base),
          url,
        );
        if (entry) yield entry;
      }
      rowStart = rowEnd;
    }
  } catch (cause) {
    throw readFailure(source, cause, signal);
  } finally {
    await file.close();
  }
}
