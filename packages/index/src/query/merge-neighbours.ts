/** One search result: an id of the index and its distance to the query (smaller is nearer). */
export interface Neighbour {
  id: number;
  distance: number;
}

/**
 * Merges per-part result lists (each sorted by distance) into the k nearest overall, ties broken by id so
 * results do not depend on the order parts answered in.
 */
export function mergeNeighbours(lists: readonly (readonly Neighbour[])[], k: number): Neighbour[] {
  const all: Neighbour[] = [];
  for (const list of lists) all.push(...list);
  all.sort((a, b) => a.distance - b.distance || a.id - b.id);
  return all.slice(0, k);
}
