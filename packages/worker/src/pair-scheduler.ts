import type { ImageSize, InferenceEngine, PairInferenceResult } from 'vgg-core';
import type { BatchObservation } from './stats.js';

export interface PairSchedulerOptions {
  engine: Pick<InferenceEngine, 'runPairs'>;
  /** Pairs per inference call (each pair is two images of the batch). Default 8. */
  pairsPerBatch?: number;
  /** How long a partial batch may wait for more pairs when the engine is idle, in ms. Default 25. */
  maxWaitMs?: number;
  /** Called after each inference call, for stats (sizes in images: two per pair). */
  onBatch?: (stats: BatchObservation) => void;
}

interface Pending {
  a: Uint8Array;
  b: Uint8Array;
  /** Whole images of this size (`--pair-size native`); absent for crops. Only pairs of one size share a batch. */
  size: ImageSize | undefined;
  enqueuedAt: number;
  resolve: (scores: Float32Array) => void;
  reject: (reason: unknown) => void;
}

/**
 * Fills pair batches from whichever chunks have both crops of a pair decoded, as BatchScheduler does for images:
 * one batch runs at a time, the next fills meanwhile. Each pair resolves to its row of scores.
 */
export class PairScheduler {
  readonly #engine: Pick<InferenceEngine, 'runPairs'>;
  readonly #pairsPerBatch: number;
  readonly #maxWaitMs: number;
  readonly #onBatch: PairSchedulerOptions['onBatch'];
  readonly #queue: Pending[] = [];
  #running = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: PairSchedulerOptions) {
    this.#engine = options.engine;
    this.#pairsPerBatch = Math.max(1, options.pairsPerBatch ?? 8);
    this.#maxWaitMs = options.maxWaitMs ?? 25;
    this.#onBatch = options.onBatch;
  }

  /**
   * Queues one pair of crops, or of whole images of `size`; their buffers are transferred to the engine. A batch
   * holds pairs of one size: the oldest pair's, and whichever queued pairs share it.
   */
  score(a: Uint8Array, b: Uint8Array, size?: ImageSize): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ a, b, size, enqueuedAt: performance.now(), resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#running || this.#queue.length === 0) return;
    const waited = performance.now() - this.#queue[0]!.enqueuedAt;
    if (this.#sameSize().length >= this.#pairsPerBatch || waited >= this.#maxWaitMs) {
      this.#dispatch();
      return;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      this.#pump();
    }, this.#maxWaitMs - waited);
  }

  /** The queued pairs of the oldest pair's size, oldest first. */
  #sameSize(): Pending[] {
    const first = this.#queue[0]?.size;
    return this.#queue.filter((p) => p.size?.width === first?.width && p.size?.height === first?.height);
  }

  #dispatch(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const batch = this.#sameSize().slice(0, this.#pairsPerBatch);
    for (const pair of batch) this.#queue.splice(this.#queue.indexOf(pair), 1);
    const size = batch[0]?.size;
    this.#running = true;
    const started = performance.now();
    const waitsMs = batch.flatMap((p) => [started - p.enqueuedAt, started - p.enqueuedAt]);
    this.#engine
      .runPairs(
        batch.map((p) => p.a),
        batch.map((p) => p.b),
        size,
      )
      .then(
        (result: PairInferenceResult) => {
          this.#onBatch?.({
            size: batch.length * 2,
            capacity: this.#pairsPerBatch * 2,
            inferenceMs: result.inferenceMs,
            waitsMs,
          });
          const dim = result.columns.length;
          batch.forEach((p, i) => {
            p.resolve(result.values.slice(i * dim, (i + 1) * dim));
          });
        },
        (error: unknown) => {
          for (const p of batch) p.reject(error);
        },
      )
      .finally(() => {
        this.#running = false;
        this.#pump();
      });
  }
}
