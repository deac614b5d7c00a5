import type { InferenceEngine, InferenceRequest, InferenceResult } from 'vgg-core';
import type { BatchObservation } from './stats.js';

export interface BatchSchedulerOptions {
  engine: Pick<InferenceEngine, 'run'>;
  request: InferenceRequest;
  /** Images per inference call. Default 16. */
  batchSize?: number;
  /**
   * How long a partial batch may wait for more images when the engine is idle, in ms. Default 25. While the
   * engine is busy, batches fill without waiting.
   */
  maxWaitMs?: number;
  /**
   * Pad partial batches with blank images to batchSize. On CUDA, cuDNN searches for kernels on every new input
   * shape, so one fixed shape beats a smaller last batch. Default false.
   */
  padBatches?: boolean;
  /** Called after each inference call, for stats. */
  onBatch?: (stats: BatchObservation & { waitMs: number }) => void;
}

/** The result of one image, sliced out of its batch. */
export interface ImageInference {
  classIds: Int32Array;
  probs: Float32Array;
  embeddings: Record<string, Float32Array | Uint16Array>;
}

interface Pending {
  pixels: Uint8Array;
  enqueuedAt: number;
  resolve: (value: ImageInference) => void;
  reject: (reason: unknown) => void;
}

/**
 * Fills inference batches from whichever chunks have decoded images ready, so the model never waits on one slow
 * chunk. One batch runs at a time; the next fills while it runs.
 */
export class BatchScheduler {
  private readonly engine: Pick<InferenceEngine, 'run'>;
  private readonly request: InferenceRequest;
  private readonly batchSize: number;
  private readonly maxWaitMs: number;
  private readonly onBatch: BatchSchedulerOptions['onBatch'];
  private readonly padBatches: boolean;
  private readonly queue: Pending[] = [];
  private running = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(options: BatchSchedulerOptions) {
    this.engine = options.engine;
    this.request = options.request;
    this.batchSize = options.batchSize ?? 16;
    this.maxWaitMs = options.maxWaitMs ?? 25;
    this.onBatch = options.onBatch;
    this.padBatches = options.padBatches ?? false;
  }

  /** Queues one preprocessed image (HWC uint8 crop). Its buffer is transferred to the engine. */
  infer(pixels: Uint8Array): Promise<ImageInference> {
    return new Promise((resolve, reject) => {
      this.queue.push({ pixels, enqueuedAt: performance.now(), resolve, reject });
      this.pump();
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  private pump(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queue.length >= this.batchSize) {
      this.dispatch();
      return;
    }
    const waited = performance.now() - this.queue[0]!.enqueuedAt;
    if (waited >= this.maxWaitMs) {
      this.dispatch();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, this.maxWaitMs - waited);
    }
  }

  private dispatch(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.queue.splice(0, this.batchSize);
    this.running = true;
    const startedAt = performance.now();
    const waitsMs = batch.map((p) => startedAt - p.enqueuedAt);
    const waitMs = waitsMs[0] ?? 0;
    const images = batch.map((p) => p.pixels);
    if (this.padBatches) {
      const size = images[0]!.byteLength;
      while (images.length < this.batchSize) images.push(new Uint8Array(size));
    }
    this.engine
      .run(images, this.request)
      .then(
        (result) => {
          this.onBatch?.({
            size: batch.length,
            capacity: this.batchSize,
            inferenceMs: result.inferenceMs,
            waitMs,
            waitsMs,
          });
          batch.forEach((p, i) => {
            p.resolve(sliceResult(result, i));
          });
        },
        (error: unknown) => {
          for (const p of batch) p.reject(error);
        },
      )
      .finally(() => {
        this.running = false;
        this.pump();
      });
  }
}

function sliceResult(result: InferenceResult, i: number): ImageInference {
  const k = result.topK.k;
  const embeddings: Record<string, Float32Array | Uint16Array> = {};
  for (const [tap, emb] of Object.entries(result.embeddings)) {
    embeddings[tap] = emb.data.subarray(i * emb.dim, (i + 1) * emb.dim);
  }
  return {
    classIds: result.topK.classIds.subarray(i * k, (i + 1) * k),
    probs: result.topK.probs.subarray(i * k, (i + 1) * k),
    embeddings,
  };
}
