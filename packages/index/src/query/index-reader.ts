import { availableParallelism } from 'node:os';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { isPipelineError, type OpenObjectStoreDeps } from 'vgg-pipeline';
import { IndexError, invalidOption } from '../errors.js';
import {
  INDEX_MANIFEST_KEY,
  type IndexManifest,
  type IndexPart,
  parseIndexManifest,
} from '../format/index-manifest.js';
import { readParquetTable } from '../format/parquet-table.js';
import { decodeSidecar, type SidecarRow } from '../format/sidecar.js';
import { type NativeIndex, openNativeIndex, searchNativeIndex } from '../hnsw/native-index.js';
import { IndexLocation } from '../storage/index-location.js';
import { type Neighbour, mergeNeighbours } from './merge-neighbours.js';

/** Options of {@link IndexReader.open}. */
export interface OpenIndexOptions {
  /**
   * `view` memory-maps each part (opens at once; pages load as queries touch them, so parts need not fit in RAM);
   * `load` reads parts into memory (slower to open, steadier latency). Default `view`.
   */
  mode?: 'view' | 'load';
  /** Where parts of an s3:// index are downloaded to (named by sha256, so reused across runs). Required for S3. */
  cacheDir?: string;
  /** Candidates per query (`ef`); overrides the index's setting for this reader. Default: the index's. */
  expansionSearch?: number;
  /** Native threads per search call. Default: available parallelism. */
  threads?: number;
}

/** Queries searched per native call when many are given; the event loop runs between calls. */
const QUERIES_PER_CALL = 256;

/**
 * An opened index: its manifest and every part. `search` fans each query out to all parts and merges their
 * nearest neighbours. Native searches are synchronous: each call blocks the event loop for its duration
 * (about a millisecond per query and part at default settings), so servers should batch or use a worker thread.
 */
export class IndexReader {
  readonly uri: string;
  readonly manifest: IndexManifest;
  readonly location: IndexLocation;
  readonly #parts: { part: IndexPart; index: NativeIndex }[];
  readonly #threads: number;
  readonly #sidecars = new Map<number, Uint8Array>();
  #closed = false;

  private constructor(
    location: IndexLocation,
    manifest: IndexManifest,
    parts: { part: IndexPart; index: NativeIndex }[],
    threads: number,
  ) {
    this.uri = location.uri;
    this.location = location;
    this.manifest = manifest;
    this.#parts = parts;
    this.#threads = threads;
  }

  static async open(uri: string, options: OpenIndexOptions, deps: OpenObjectStoreDeps): Promise<IndexReader> {
    const mode = options.mode ?? 'view';
    if (mode !== 'view' && mode !== 'load') throw invalidOption('mode', "'view' or 'load'", mode);
    const threads = options.threads ?? availableParallelism();
    if (!Number.isSafeInteger(threads) || threads < 1)
      throw invalidOption('threads', 'positive integer', threads);
    const location = IndexLocation.open(uri, deps);
    const manifest = await readManifestAt(location);
    const settings = { ...manifest.settings };
    if (options.expansionSearch !== undefined) {
      if (!Number.isSafeInteger(options.expansionSearch) || options.expansionSearch < 1) {
        throw invalidOption('expansionSearch', 'positive integer', options.expansionSearch);
      }
      settings.expansionSearch = options.expansionSearch;
    }
    if (!location.isLocal && options.cacheDir === undefined) {
      throw invalidOption('cacheDir', `local directory for the parts of ${location.uri}`, options.cacheDir);
    }
    const parts: { part: IndexPart; index: NativeIndex }[] = [];
    for (const part of manifest.parts) {
      const file = await location.localFile(
        part.indexKey,
        { bytes: part.indexBytes, sha256: part.indexSha256 },
        options.cacheDir ?? '',
      );
      const index = openNativeIndex(file, manifest.tap.dim, settings, mode);
      if (index.size() !== part.vectors) {
        throw new IndexError(
          'INDEX_FORMAT',
          `${location.describe(part.indexKey)} holds ${index.size()} vectors but the manifest says ${part.vectors}`,
          { uri: location.describe(part.indexKey) },
        );
      }
      parts.push({ part, index });
    }
    return new IndexReader(location, manifest, parts, threads);
  }

  get dim(): number {
    return this.manifest.tap.dim;
  }

  get size(): number {
    return this.manifest.counts.vectors;
  }

  /**
   * Checks query vectors (`n × dim`, row-major) and prepares them as the index's vectors were: when the run
   * L2-normalised its embeddings, queries are normalised too (cos ignores scale either way).
   */
  prepareQueries(vectors: Float32Array): Float32Array {
    const dim = this.dim;
    if (vectors.length === 0 || vectors.length % dim !== 0) {
      throw new IndexError(
        'INDEX_QUERY_INVALID',
        `Expected query vectors of ${dim} values each (the index's ${this.manifest.tap.name}) but received ${vectors.length} values`,
      );
    }
    const out = Float32Array.from(vectors);
    for (let q = 0; q < out.length / dim; q++) {
      const row = out.subarray(q * dim, (q + 1) * dim);
      let sum = 0;
      for (const v of row) sum += v * v;
      if (!Number.isFinite(sum))
        throw new IndexError('INDEX_QUERY_INVALID', `Query vector ${q} has NaN or infinite values`);
      if (sum === 0 && this.manifest.settings.metric === 'cos') {
        throw new IndexError(
          'INDEX_QUERY_INVALID',
          `Query vector ${q} is all zeros, which has no cosine distance`,
        );
      }
      if (this.manifest.l2Normalized && sum > 0) {
        const scale = 1 / Math.sqrt(sum);
        for (let j = 0; j < dim; j++) row[j] = (row[j] as number) * scale;
      }
    }
    return out;
  }

  /**
   * The k nearest neighbours of each query (`n × dim`, prepared by {@link prepareQueries}), searched in every part
   * and merged. Yields to the event loop between batches of queries.
   */
  async search(queries: Float32Array, k: number): Promise<Neighbour[][]> {
    this.#assertOpen();
    if (!Number.isSafeInteger(k) || k < 1) throw invalidOption('k', 'positive integer', k);
    const dim = this.dim;
    const n = queries.length / dim;
    const results: Neighbour[][] = [];
    for (let start = 0; start < n; start += QUERIES_PER_CALL) {
      const end = Math.min(n, start + QUERIES_PER_CALL);
      const batch = queries.subarray(start * dim, end * dim);
      const perPart = this.#parts.map(({ part, index }) =>
        searchNativeIndex(
          index,
          batch,
          Math.min(k, part.vectors),
          this.manifest.settings.metric,
          this.#threads,
        ),
      );
      for (let q = 0; q < end - start; q++) {
        const lists = perPart.map((m) => {
          const list: Neighbour[] = [];
          for (let i = q * m.k; i < q * m.k + (m.counts[q] as number); i++) {
            list.push({ id: Number(m.keys[i] as bigint), distance: m.distances[i] as number });
          }
          return list;
        });
        results.push(mergeNeighbours(lists, k));
      }
      if (end < n) await yieldToEventLoop();
    }
    return results;
  }

  /** The sidecar rows of `ids` (uri, sha256, shard key, chunk index, row), keyed by id. */
  async rows(ids: readonly number[]): Promise<Map<number, SidecarRow>> {
    this.#assertOpen();
    const byPart = new Map<IndexPart, number[]>();
    for (const id of ids) {
      const part = this.partOf(id);
      byPart.set(part, [...(byPart.get(part) ?? []), id]);
    }
    const out = new Map<number, SidecarRow>();
    for (const [part, wanted] of byPart) {
      const rows = decodeSidecar(
        await this.#sidecar(part),
        part.firstId,
        this.location.describe(part.rowsKey),
        wanted,
      );
      const want = new Set(wanted);
      for (const row of rows) if (want.has(row.id)) out.set(row.id, row);
    }
    return out;
  }

  /** All sidecar rows of one part, in id order (for scans such as dedup). */
  async partRows(part: IndexPart): Promise<SidecarRow[]> {
    return decodeSidecar(await this.#sidecar(part), part.firstId, this.location.describe(part.rowsKey));
  }

  /** The row whose input URI is `uri`, scanning the sidecars' uri columns; null when the run did not index it. */
  async findUri(uri: string): Promise<SidecarRow | null> {
    for (const { part } of this.#parts) {
      const table = readParquetTable(await this.#sidecar(part), { columns: ['uri'] });
      const column = table.getChild('uri');
      for (let i = 0; column !== null && i < table.numRows; i++) {
        if (column.get(i) === uri) return (await this.rows([part.firstId + i])).get(part.firstId + i) ?? null;
      }
    }
    return null;
  }

  /** The part holding `id`. */
  partOf(id: number): IndexPart {
    const part = this.manifest.parts.find((p) => id >= p.firstId && id < p.firstId + p.vectors);
    if (part === undefined) throw invalidOption('id', `id below ${this.size}`, id);
    return part;
  }

  /** Releases the parts (their memory maps go when the native objects are collected). Memoised. */
  close(): void {
    this.#closed = true;
    this.#parts.length = 0;
    this.#sidecars.clear();
  }

  async #sidecar(part: IndexPart): Promise<Uint8Array> {
    let bytes = this.#sidecars.get(part.part);
    if (bytes === undefined) {
      bytes = await this.location.store.get(part.rowsKey);
      this.#sidecars.set(part.part, bytes);
    }
    return bytes;
  }

  #assertOpen(): void {
    if (this.#closed) throw new IndexError('INDEX_FORMAT', `Index ${this.uri} is closed`);
  }
}

/** Reads and checks an index's `index.json` without opening its parts. */
export async function readIndexManifest(uri: string, deps: OpenObjectStoreDeps): Promise<IndexManifest> {
  return readManifestAt(IndexLocation.open(uri, deps));
}

async function readManifestAt(location: IndexLocation): Promise<IndexManifest> {
  let bytes: Uint8Array;
  try {
    bytes = await location.store.get(INDEX_MANIFEST_KEY);
  } catch (cause) {
    if (isPipelineError(cause, 'STORAGE_NOT_FOUND')) {
      throw new IndexError(
        'INDEX_FORMAT',
        `No index at ${location.uri} (no ${INDEX_MANIFEST_KEY}); build one with vgg-index build, or wait for a running build to finish`,
        { cause, uri: location.uri },
      );
    }
    throw cause;
  }
  return parseIndexManifest(bytes, location.describe(INDEX_MANIFEST_KEY));
}
