/** Where a chunk's time goes, summed over the worker's life (the benchmark reads these). */
export type Stage = 'fetch' | 'decode' | 'wait' | 'inference' | 'write';

/** One inference call, as the batch scheduler saw it. */
export interface BatchObservation {
  /** Images in the call (padding excluded). */
  size: number;
  /** The scheduler's batch size. */
  capacity: number;
  inferenceMs: number;
  /** Per image: from being queued for inference until the call started. */
  waitsMs: readonly number[];
}

/** Receives each observation as it is counted (the metrics endpoint turns them into histograms). */
export interface StatsObserver {
  stage(stage: Stage, ms: number): void;
  batch(batch: BatchObservation): void;
}

/** A worker's counters: milliseconds per stage and inference batches, and who else wants to hear of them. */
export interface WorkerStats {
  stageMs: Record<Stage, number>;
  batches: { count: number; images: number };
  observer?: StatsObserver;
}

export function newWorkerStats(observer?: StatsObserver): WorkerStats {
  return {
    stageMs: { fetch: 0, decode: 0, wait: 0, inference: 0, write: 0 },
    batches: { count: 0, images: 0 },
    ...(observer ? { observer } : {}),
  };
}

/** Adds one image's, batch's or chunk's time in a stage. */
export function addStageMs(stats: WorkerStats, stage: Stage, ms: number): void {
  stats.stageMs[stage] += ms;
  stats.observer?.stage(stage, ms);
}

/** Counts one inference call. */
export function addBatch(stats: WorkerStats, batch: BatchObservation): void {
  stats.batches.count += 1;
  stats.batches.images += batch.size;
  addStageMs(stats, 'inference', batch.inferenceMs);
  stats.observer?.batch(batch);
}
