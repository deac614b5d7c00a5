import type { OpenObjectStoreDeps } from 'vgg-pipeline';
import type { SidecarRow } from '../format/sidecar.js';
import type { IndexReader } from './index-reader.js';
import type { Neighbour } from './merge-neighbours.js';
import { openIndexedRun, vectorsOfRows } from './run-vectors.js';

/** One neighbour with the row it stands for. */
export interface QueryMatch extends SidecarRow {
  rank: number;
  distance: number;
}

/**
 * The stored vector of an input URI the index holds (read from the run's shard), or null when the run did not
 * index that URI (then embed the image instead).
 */
export async function storedVectorOf(
  reader: IndexReader,
  uri: string,
  deps: OpenObjectStoreDeps,
): Promise<{ row: SidecarRow; vector: Float32Array } | null> {
  const row = await reader.findUri(uri);
  if (row === null) return null;
  const run = await openIndexedRun(reader.manifest, deps);
  return { row, vector: await vectorsOfRows(run, reader.manifest, [row]) };
}

/** Attaches sidecar rows (uri, sha256, shard key, chunk, row) to search results. */
export async function describeNeighbours(
  reader: IndexReader,
  results: readonly Neighbour[][],
): Promise<QueryMatch[][]> {
  const rows = await reader.rows(results.flatMap((list) => list.map((n) => n.id)));
  return results.map((list) =>
    list.map((n, i) => ({ rank: i + 1, distance: n.distance, ...(rows.get(n.id) as SidecarRow) })),
  );
}
