export { BatchScheduler, type BatchSchedulerOptions, type ImageInference } from './batch-scheduler.js';
export { type ChunkJobResult, ModelMismatchError, VggWorker } from './vgg-worker.js';
export {
  resolveWorkerOptions,
  type VggWorkerOptions,
  WORKER_FLAGS,
  type WorkerEvent,
  type WorkerFlagValues,
} from './worker-options.js';
