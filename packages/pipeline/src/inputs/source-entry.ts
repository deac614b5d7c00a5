import type { InputFormat } from './source-kinds.js';
import { isTarName } from './source-kinds.js';

/**
 * One input a source lists. An `image` is one row of the run's outputs; a `tar` shard is read by the worker, and
 * each of its image members is one row (plus error rows for what cannot be read): the producer never opens shards.
 */
export type SourceEntry = ImageEntry | { kind: 'tar'; uri: string };

/** An image input: one row. */
export interface ImageEntry {
  kind: 'image';
  uri: string;
  /** The manifest's `--key-col` value, or null. */
  key: string | null;
  /** The manifest's `--keep-cols` values by column name, or null when the source has no columns. */
  cols: Readonly<Record<string, string | null>> | null;
}

/** How manifests are read: the run's input options (see RUN_OPTIONS, section `input`). */
export interface ListInputOptions {
  /** Read every file source in this format instead of going by its extension. */
  format?: InputFormat;
  /** Column (CSV, TSV, Parquet) or field (JSON lines) holding the URI. Default: `uri`, else `url`. */
  urlCol?: string;
  /** Column or field carried into each row's `key`. Default none. */
  keyCol?: string;
  /** Columns or fields carried into output columns of the same names. Default none. */
  keepCols?: readonly string[];
  /**
   * Kept columns that hold image URIs and resolve against the manifest as the URI column does (a pair run's `b`).
   * Default none.
   */
  uriCols?: readonly string[];
}

/** The URL columns tried, in order, when no `--url-col` is given. */
export const DEFAULT_URL_COLUMNS = ['uri', 'url'] as const;

/** An entry for a URI listed without columns: a tar shard by its name, else an image. */
export function entryOf(
  uri: string,
  key: string | null = null,
  cols: ImageEntry['cols'] = null,
): SourceEntry {
  return isTarName(uri.replace(/[?#].*$/, '')) ? { kind: 'tar', uri } : { kind: 'image', uri, key, cols };
}

/**
 * A cell of a manifest as output text: strings as they are, numbers and booleans as written, dates in ISO 8601,
 * anything else (lists, structs) as JSON; null and missing as null. Kept columns are text so that every shard of a
 * run has the same schema whatever each manifest held.
 */
export function cellText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
