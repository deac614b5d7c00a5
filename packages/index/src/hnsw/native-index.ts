import { createRequire } from 'node:module';
import path from 'node:path';
import type { Index as UsearchIndex } from 'usearch';
import { IndexError } from '../errors.js';
import type { HnswSettings, IndexMetric } from './hnsw-settings.js';

type UsearchModule = typeof import('usearch').default;

let usearchModule: UsearchModule | undefined;
const require = createRequire(import.meta.url);

/**
 * usearch 2.25's ES module finds its native binary through `__dirname`, which ES modules lack; its fallback then
 * recurses without end on Node 24 ("Maximum call stack size exceeded"). Its CommonJS build has `__dirname` and
 * loads the prebuilt binary shipped in the package on Node 20, 22 and 24, so it is required, not imported.
 */
function usearch(): UsearchModule {
  if (usearchModule === undefined) {
    try {
      usearchModule = require('usearch') as UsearchModule;
    } catch (cause) {
      throw new IndexError(
        'INDEX_NATIVE',
        `Could not load usearch's native binary for ${process.platform}-${process.arch} on Node ${process.version}: ${(cause as Error).message}. ` +
          'Its prebuilt binaries cover linux-x64, linux-arm64 and macOS; elsewhere, reinstall with a C++ toolchain so node-gyp can build it.',
        { cause },
      );
    }
  }
  return usearchModule;
}

/** Version of the usearch package in use, for index manifests. */
export function usearchVersion(): string {
  // The package's exports map hides package.json; it sits three folders above the CommonJS entry point.
  const entry = require.resolve('usearch');
  return (require(path.join(path.dirname(entry), '..', '..', '..', 'package.json')) as { version: string })
    .version;
}

/** A usearch HNSW index. Its methods are synchronous native calls: they use native threads but block the caller. */
export type NativeIndex = UsearchIndex;

/** An empty index for `dim`-dimensional vectors. */
export function createNativeIndex(dim: number, settings: HnswSettings): NativeIndex {
  const { Index } = usearch();
  try {
    return new Index({
      dimensions: dim,
      metric: (settings.metric === 'l2' ? 'l2sq' : settings.metric) as never,
      quantization: settings.quantization as never,
      connectivity: settings.connectivity,
      expansion_add: settings.expansionAdd,
      expansion_search: settings.expansionSearch,
      multi: false,
    });
  } catch (cause) {
    throw new IndexError('INDEX_NATIVE', `Could not create an index: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Opens a saved index file: `view` memory-maps it (the OS pages it in as queries touch it, so parts larger than
 * RAM still open), `load` reads it into memory.
 */
export function openNativeIndex(
  file: string,
  dim: number,
  settings: HnswSettings,
  mode: 'view' | 'load',
): NativeIndex {
  const index = createNativeIndex(dim, settings);
  try {
    if (mode === 'view') index.view(file);
    else index.load(file);
  } catch (cause) {
    throw new IndexError('INDEX_FORMAT', `Could not open index file ${file}: ${(cause as Error).message}`, {
      cause,
      uri: file,
    });
  }
  if (index.dimensions() !== dim) {
    throw new IndexError(
      'INDEX_FORMAT',
      `Index file ${file} holds ${index.dimensions()}-dimensional vectors, but its manifest says ${dim}`,
      { uri: file },
    );
  }
  return index;
}

/** Adds `keys.length` row-major vectors. */
export function addToNativeIndex(
  index: NativeIndex,
  keys: BigUint64Array,
  vectors: Float32Array,
  threads: number,
): void {
  try {
    index.add(keys, vectors, threads);
  } catch (cause) {
    throw new IndexError(
      'INDEX_NATIVE',
      `Adding ${keys.length} vectors failed: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}

/** Nearest neighbours of `n` row-major queries: up to k per query, row i at [i·k, i·k + counts[i]). */
export interface NativeMatches {
  k: number;
  keys: BigUint64Array;
  /** In the metric's user units (see {@link toUserDistance}). */
  distances: Float32Array;
  counts: Uint32Array;
}

/** Searches `vectors.length / dim` queries at once (one native call; usearch spreads them over threads). */
export function searchNativeIndex(
  index: NativeIndex,
  vectors: Float32Array,
  k: number,
  metric: IndexMetric,
  threads: number,
): NativeMatches {
  const dim = index.dimensions();
  const n = vectors.length / dim;
  let result: { keys: BigUint64Array; distances: Float32Array; counts?: BigUint64Array };
  try {
    result = index.search(vectors, k, threads) as typeof result;
  } catch (cause) {
    throw new IndexError('INDEX_NATIVE', `Search failed: ${(cause as Error).message}`, { cause });
  }
  const keys = new BigUint64Array(n * k);
  const distances = new Float32Array(n * k);
  const counts = new Uint32Array(n);
  if (result.counts === undefined) {
    // One query: usearch returns the found matches only.
    keys.set(result.keys);
    distances.set(result.distances);
    counts[0] = result.keys.length;
  } else {
    keys.set(result.keys.subarray(0, n * k));
    distances.set(result.distances.subarray(0, n * k));
    for (let i = 0; i < n; i++) counts[i] = Number(result.counts[i]);
  }
  if (metric === 'l2')
    for (let i = 0; i < distances.length; i++) distances[i] = toUserDistance('l2', distances[i]!);
  return { k, keys, distances, counts };
}

/** usearch orders `l2` by the squared distance; users read the distance itself. */
export function toUserDistance(metric: IndexMetric, native: number): number {
  return metric === 'l2' ? Math.sqrt(Math.max(0, native)) : native;
}
