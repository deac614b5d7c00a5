// Public API of vgg-chunk-worker: the worker, its options (and their flags), and its parts.
export { BatchScheduler } from './batch-scheduler.js';
export type { BatchSchedulerOptions, ImageInference } from './batch-scheduler.js';
export { ChunkCommitter, columnLayout } from './chunk-commit.js';
export type { ChunkCommit, ChunkCommitterOptions, CommitModel } from './chunk-commit.js';
export { errorRow, rowsToColumns } from './chunk-rows.js';
export type { ColumnLayout, RowResult } from './chunk-rows.js';
export {
  ChunkFencedError,
  isWorkerError,
  MetricsEndpointError,
  ModelLoadError,
  ModelMismatchError,
  RedisRefusedError,
} from './errors.js';
export { isPermanentLoadFailure } from './model-load-failure.js';
export { ImageStages } from './image-stages.js';
export type { ImageRequest, ImageStagesOptions } from './image-stages.js';
export { Lifecycle } from './lifecycle.js';
export type { CloseSteps, LifecycleOptions, LifecycleState } from './lifecycle.js';
export { ModelFiles } from './model-files.js';
export type { ModelFilesOptions } from './model-files.js';
export { ModelSlot } from './model-slot.js';
export type { ModelLease, ModelSlotOptions } from './model-slot.js';
export { failedRows, rowsOfChunk } from './chunk-inputs.js';
export type { ChunkFacts, ChunkOutcome } from './chunk-inputs.js';
export { RunContexts } from './run-contexts.js';
export { TarShardRows } from './tar-shard-rows.js';
export type { TarShardResult, TarShardRowsOptions } from './tar-shard-rows.js';
export type { RunContext, RunContextsOptions } from './run-contexts.js';
export type { BatchObservation, Stage, StatsObserver, WorkerStats } from './stats.js';
export { MetricsEndpoint } from './telemetry/metrics-endpoint.js';
export type { MetricsEndpointOptions, Readiness } from './telemetry/metrics-endpoint.js';
export { WorkerMetrics } from './telemetry/worker-metrics.js';
export type { MetricStage, ModelInfo, ModelState } from './telemetry/worker-metrics.js';
export { VggWorker } from './vgg-worker.js';
export type { ChunkJobResult } from './failed-chunks.js';
export { DEFAULT_METRICS_PORT, resolveWorkerOptions, WORKER_FLAGS } from './worker-options.js';
export type {
  ResolvedWorkerOptions,
  VggWorkerOptions,
  WorkerEvent,
  WorkerFlagValues,
} from './worker-options.js';
