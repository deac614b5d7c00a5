/** Where a chunk's time goes, summed over the worker's life (the benchmark reads these). */
export type Stage = 'fetch' | 'decode' | 'wait' | 'inference' | 'write';

/** A worker's counters: milliseconds per stage and inference batches. */
export interface WorkerStats {
  stageMs: Record<Stage, number>;
  batches: { count: number; images: number };
}

export function newWorkerStats(): WorkerStats {
  return {
    stageMs: { fetch: 0, decode: 0, wait: 0, inference: 0, write: 0 },
    batches: { count: 0, images: 0 },
  };
}
