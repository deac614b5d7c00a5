export { BatchScheduler, type BatchSchedulerOptions, type ImageInference } from './batch-scheduler.js';
export { type ChunkJobResult, ModelMismatchError, VggWorker } from './vgg-worker.js';
export { resolveWorkerOptions, type VggWorkerOptions, type WorkerEvent } from './worker-options.js';
