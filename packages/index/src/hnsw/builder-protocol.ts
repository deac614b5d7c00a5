import type { HnswSettings } from './hnsw-settings.js';

/** workerData of the builder thread. */
export interface BuilderInit {
  dim: number;
  settings: HnswSettings;
  threads: number;
  /**
   * Batch slots shared with the caller: row-major vectors (batchVectors × dim float32) and their keys. The caller
   * fills a free slot and posts its number; the slot is free again when the reply arrives. Reusing the same
   * memory keeps a build from leaving a part's worth of transferred batches for the garbage collector.
   */
  slots: { vectors: SharedArrayBuffer; keys: SharedArrayBuffer }[];
}

/** Messages to the builder thread; each gets exactly one reply with the same id. */
export type ToBuilder =
  | { id: number; type: 'add'; slot: number; count: number }
  | { id: number; type: 'save'; file: string };

/** Replies from the builder thread. */
export type FromBuilder =
  | { id: number; type: 'done'; size: number }
  | { id: number; type: 'error'; code: string; message: string };
