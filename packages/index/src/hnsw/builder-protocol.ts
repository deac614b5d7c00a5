import type { HnswSettings } from './hnsw-settings.js';

/** workerData of the builder thread. */
export interface BuilderInit {
  dim: number;
  settings: HnswSettings;
  threads: number;
}

/** Messages to the builder thread; each gets exactly one reply with the same id. */
export type ToBuilder =
  | { id: number; type: 'add'; keys: BigUint64Array; vectors: Float32Array }
  | { id: number; type: 'save'; file: string };

/** Replies from the builder thread. */
export type FromBuilder =
  | { id: number; type: 'done'; size: number }
  | { id: number; type: 'error'; code: string; message: string };
