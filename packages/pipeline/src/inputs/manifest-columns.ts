import { SourceError } from '../errors.js';
import {
  cellText,
  DEFAULT_URL_COLUMNS,
  entryOf,
  type ListInputOptions,
  type SourceEntry,
} from './source-entry.js';

/**
 * Picks a manifest record's URI, key and kept columns as the run's input options say (`--url-col`, `--key-col`,
 * `--keep-cols`), the same way for every format. Formats with a header (CSV, TSV, Parquet) check the columns once
 * and name the columns found when one is missing; JSON lines check the URI field per line and take a missing
 * key or kept field as null.
 */
export class ManifestColumns {
  readonly #source: string;
  readonly #urlCol: string | undefined;
  readonly #keyCol: string | undefined;
  readonly #keepCols: readonly string[];
  readonly #uriCols: ReadonlySet<string>;

  constructor(source: string, options: ListInputOptions) {
    this.#source = source;
    this.#urlCol = options.urlCol;
    this.#keyCol = options.keyCol;
    this.#keepCols = options.keepCols ?? [];
    this.#uriCols = new Set(options.uriCols ?? []);
  }

  /** The columns a reader needs, for formats that read columns selectively (Parquet). */
  wanted(available: readonly string[], kind: string): { url: string; columns: string[] } {
    const url = this.#urlColumn(available, kind);
    const needed = [this.#keyCol, ...this.#keepCols].filter((name): name is string => name !== undefined);
    const missing = needed.filter((name) => !available.includes(name));
    if (missing.length > 0) throw this.#missing(missing, available, kind);
    return { url, columns: [...new Set([url, ...needed])] };
  }

  /** A picker for records laid out as `header` (CSV and TSV). URL column names match case-insensitively. */
  forHeader(
    header: readonly string[],
    kind: string,
    resolve: (uri: string) => string,
  ): (record: readonly string[], where: string) => SourceEntry | null {
    const { url } = this.wanted(header, kind);
    const index = new Map<string, number>();
    header.forEach((name, i) => {
      if (!index.has(name)) index.set(name, i);
    });
    const urlIndex = header.indexOf(url);
    return (record, where) => {
      const get = (name: string) => {
        const i = name === url ? urlIndex : index.get(name);
        return i === undefined ? undefined : record[i];
      };
      return this.entry(get, where, resolve, url);
    };
  }

  /**
   * The entry of one record, or null when its URI is empty. `get` reads a field by name; `urlField` is the URI's
   * column when the format resolved it already.
   */
  entry(
    get: (name: string) => unknown,
    where: string,
    resolve: (uri: string) => string,
    urlField?: string,
  ): SourceEntry | null {
    const field = urlField ?? this.#urlCol ?? DEFAULT_URL_COLUMNS.find((name) => get(name) !== undefined);
    const raw = field === undefined ? undefined : get(field);
    if (raw === undefined && urlField === undefined) {
      const names = this.#urlCol ?? DEFAULT_URL_COLUMNS.join('" or "');
      throw new SourceError('SOURCE_INVALID', this.#source, `${where} has no string "${names}" field`);
    }
    if (raw !== null && raw !== undefined && typeof raw !== 'string') {
      throw new SourceError('SOURCE_INVALID', this.#source, `${where}: "${field}" is not a string`);
    }
    const uri = (raw ?? '').trim();
    if (uri === '') return null;
    const key = this.#keyCol === undefined ? null : cellText(get(this.#keyCol));
    let cols: Record<string, string | null> | null = null;
    if (this.#keepCols.length > 0) {
      cols = {};
      for (const name of this.#keepCols) {
        const text = cellText(get(name));
        cols[name] =
          this.#uriCols.has(name) && text !== null && text.trim() !== '' ? resolve(text.trim()) : text;
      }
    }
    return entryOf(resolve(uri), key, cols);
  }

  #urlColumn(available: readonly string[], kind: string): string {
    if (this.#urlCol !== undefined) {
      if (!available.includes(this.#urlCol)) throw this.#missing([this.#urlCol], available, kind);
      return this.#urlCol;
    }
    for (const candidate of DEFAULT_URL_COLUMNS) {
      const found = available.find((name) => name.toLowerCase() === candidate);
      if (found !== undefined) return found;
    }
    throw new SourceError(
      'SOURCE_INVALID',
      this.#source,
      `${kind} header has no "uri" or "url" column (found: ${quoted(available)}); name it with --url-col`,
    );
  }

  #missing(names: readonly string[], available: readonly string[], kind: string): SourceError {
    return new SourceError(
      'SOURCE_INVALID',
      this.#source,
      `${kind} has no column ${quoted(names)} (found: ${quoted(available)}); check --url-col, --key-col and --keep-cols`,
    );
  }
}

function quoted(names: readonly string[]): string {
  return names.map((name) => JSON.stringify(name)).join(', ');
}
