import type { OpenObjectStoreDeps } from 'vgg-pipeline';
import type { SidecarRow } from '../format/sidecar.js';
import { IndexReader, type OpenIndexOptions } from '../query/index-reader.js';
import { openIndexedRun, partVectors } from '../query/run-vectors.js';
import { IndexLocation } from '../storage/index-location.js';
import { type ClusterMember, type DuplicatePair, encodeClusters, encodePairs } from './dedup-tables.js';
import { UnionFind } from './union-find.js';
import { invalidOption } from '../errors.js';

/** Options of {@link findDuplicates}. */
export interface FindDuplicatesOptions extends Pick<OpenIndexOptions, 'cacheDir' | 'threads' | 'mode'> {
  /** Index location. */
  index: string;
  /**
   * Largest distance (in the index's metric: cosine distance 1 − cos for `cos`) at which two rows are near
   * duplicates. Rows with the same sha256 are duplicates whatever the threshold.
   */
  threshold: number;
  /**
   * Neighbours examined per row. A row with more than this many near duplicates still joins their cluster
   * through its neighbours, but not every pair is listed. Default 10.
   */
  neighbours?: number;
  /** Where pairs.parquet, clusters.parquet and summary.json go. Default `<index>/dedup/`. */
  out?: string;
  onProgress?: (progress: { vectors: number; total: number }) => void;
  signal?: AbortSignal;
}

/** Result of {@link findDuplicates}. */
export interface FindDuplicatesResult {
  out: string;
  pairs: DuplicatePair[];
  /** Members of clusters with two or more rows, by cluster then id. */
  clusters: ClusterMember[];
  summary: {
    vectors: number;
    threshold: number;
    pairs: number;
    exactPairs: number;
    nearPairs: number;
    clusters: number;
    /** Rows in clusters beyond one per cluster: what removing duplicates would save. */
    duplicateRows: number;
  };
}

/**
 * Finds near-duplicate pairs and their clusters (connected components): every row of the run is searched
 * against the whole index (all parts) for its nearest neighbours within `threshold`; rows with equal sha256
 * are joined regardless. Writes `pairs.parquet`, `clusters.parquet` and `summary.json` under `out`.
 */
export async function findDuplicates(
  options: FindDuplicatesOptions,
  deps: OpenObjectStoreDeps,
): Promise<FindDuplicatesResult> {
  if (typeof options.threshold !== 'number' || !Number.isFinite(options.threshold) || options.threshold < 0) {
    throw invalidOption(
      'threshold',
      'non-negative number (a distance in the index metric)',
      options.threshold,
    );
  }
  const neighbours = options.neighbours ?? 10;
  if (!Number.isSafeInteger(neighbours) || neighbours < 1)
    throw invalidOption('neighbours', 'positive integer', neighbours);
  const reader = await IndexReader.open(
    options.index,
    {
      mode: options.mode ?? 'view',
      ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
    },
    deps,
  );
  try {
    const { manifest } = reader;
    const run = await openIndexedRun(manifest, deps);
    const total = manifest.counts.vectors;
    const sets = new UnionFind(total);
    const pairs = new Map<string, DuplicatePair>();
    const addPair = (x: number, y: number, distance: number | null, match: DuplicatePair['match']) => {
      const a = Math.min(x, y);
      const b = Math.max(x, y);
      const key = `${a}:${b}`;
      const known = pairs.get(key);
      if (known === undefined) pairs.set(key, { a, b, distance, match });
      else {
        if (match === 'exact') known.match = 'exact';
        if (distance !== null && (known.distance === null || distance < known.distance))
          known.distance = distance;
      }
      sets.union(a, b);
    };
    // Identical bytes first: the first row with a hash stands for the group.
    const firstWithHash = new Map<string, number>();
    let done = 0;
    for (const part of manifest.parts) {
      const rows = await reader.partRows(part);
      for (const row of rows) {
        if (row.sha256 === null) continue;
        const first = firstWithHash.get(row.sha256);
        if (first === undefined) firstWithHash.set(row.sha256, row.id);
        else addPair(first, row.id, null, 'exact');
      }
      for await (const batch of partVectors(run, manifest, part, rows)) {
        options.signal?.throwIfAborted();
        if (batch.ids.length === 0) continue;
        // One more than asked: a row usually finds itself first.
        const results = await reader.search(
          reader.prepareQueries(batch.vectors),
          Math.min(total, neighbours + 1),
        );
        results.forEach((found, q) => {
          const self = batch.ids[q] as number;
          for (const { id, distance } of found) {
            if (id !== self && distance <= options.threshold) addPair(self, id, distance, 'near');
          }
        });
        done += batch.ids.length;
        options.onProgress?.({ vectors: done, total });
      }
    }
    firstWithHash.clear();

    // Second pass over the sidecars for the rows that are in some pair.
    const involved = new Set<number>();
    for (const p of pairs.values()) {
      involved.add(p.a);
      involved.add(p.b);
    }
    const rowsById = new Map<number, SidecarRow>();
    for (const part of manifest.parts) {
      for (const row of await reader.partRows(part)) if (involved.has(row.id)) rowsById.set(row.id, row);
    }
    const sortedPairs = [...pairs.values()].sort((x, y) => x.a - y.a || x.b - y.b);
    const clusters: ClusterMember[] = [...involved]
      .map((id) => {
        const row = rowsById.get(id) as SidecarRow;
        return {
          cluster: sets.find(id),
          size: sets.sizeOf(id),
          id,
          uri: row.uri,
          sha256: row.sha256,
          key: row.key,
          row: row.row,
        };
      })
      .sort((x, y) => x.cluster - y.cluster || x.id - y.id);
    // Name each cluster by its smallest id, not by the union-find root.
    let name = -1;
    let root = -1;
    for (const member of clusters) {
      if (member.cluster !== root) {
        root = member.cluster;
        name = member.id;
      }
      member.cluster = name;
    }
    const clusterCount = new Set(clusters.map((m) => m.cluster)).size;
    const summary = {
      vectors: total,
      threshold: options.threshold,
      pairs: sortedPairs.length,
      exactPairs: sortedPairs.filter((p) => p.match === 'exact').length,
      nearPairs: sortedPairs.filter((p) => p.match === 'near').length,
      clusters: clusterCount,
      duplicateRows: clusters.length - clusterCount,
    };

    const outUri = options.out ?? `${reader.uri.replace(/\/+$/, '')}/dedup`;
    const out = IndexLocation.open(outUri, deps);
    const metadata = {
      'vgg.index': reader.uri,
      'vgg.run_id': manifest.run.runId,
      'vgg.tap': manifest.tap.name,
      'vgg.metric': manifest.settings.metric,
      'vgg.threshold': String(options.threshold),
    };
    const uriOf = (id: number) => (rowsById.get(id) as SidecarRow).uri;
    await out.store.put('pairs.parquet', encodePairs(sortedPairs, uriOf, metadata));
    await out.store.put('clusters.parquet', encodeClusters(clusters, metadata));
    await out.store.put(
      'summary.json',
      new TextEncoder().encode(
        `${JSON.stringify({ index: reader.uri, runId: manifest.run.runId, tap: manifest.tap.name, metric: manifest.settings.metric, ...summary }, null, 2)}\n`,
      ),
      { contentType: 'application/json' },
    );
    return { out: out.uri, pairs: sortedPairs, clusters, summary };
  } finally {
    reader.close();
  }
}
