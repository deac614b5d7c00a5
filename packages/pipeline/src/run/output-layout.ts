import { openObjectStore, type OpenObjectStoreDeps } from '../storage/open-object-store.js';
import { parseLocation } from '../storage/location.js';
import type { ObjectStore } from '../storage/object-store.js';

/**
 * Where a run's outputs live under `<out>/<runId>/`: one Parquet shard per chunk, optional clip-retrieval `.npy`
 * files per tap, and the manifest, written last. Keys are pure functions of the chunk, so a chunk delivered twice
 * overwrites its own outputs.
 */

/** The manifest's key; it is written once, after every shard. */
export const MANIFEST_KEY = '_manifest.json';

/** `shards/chunk-000012.parquet`. */
export function shardKeyFor(chunkIndex: number): string {
  return `shards/chunk-${chunkName(chunkIndex)}.parquet`;
}

/**
 * clip-retrieval's layout per tap, which autofaiss reads: `embeddings/<tap>/img_emb/img_emb_<N>.npy` and the
 * row-aligned `embeddings/<tap>/metadata/metadata_<N>.parquet`.
 */
export function npyKeysFor(tap: string, chunkIndex: number): { embeddings: string; metadata: string } {
  const name = chunkName(chunkIndex);
  // A Gram tap's ':' becomes '_' in paths (gram:relu2_2 -> embeddings/gram_relu2_2/...).
  const dir = tap.replace(':', '_');
  return {
    embeddings: `embeddings/${dir}/img_emb/img_emb_${name}.npy`,
    metadata: `embeddings/${dir}/metadata/metadata_${name}.parquet`,
  };
}

/** The tap an npy key belongs to (see {@link npyKeysFor}). */
export function tapOfNpyKey(key: string): string {
  const dir = key.split('/')[1] ?? '';
  return dir.startsWith('gram_') ? `gram:${dir.slice('gram_'.length)}` : dir;
}

function chunkName(chunkIndex: number): string {
  return String(chunkIndex).padStart(6, '0');
}

/**
 * Opens the output directory of one run, `<out>/<runId>/`, where its shards and manifest live. Producers, workers
 * and run control all address a run's outputs through this one function.
 */
export function openRunOutput(out: string, runId: string, deps: OpenObjectStoreDeps): ObjectStore {
  return openObjectStore(parseLocation(`${out.replace(/\/+$/, '')}/${runId}`), deps);
}
