import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { IndexError, type IndexErrorCode } from '../errors.js';
import type { BuilderInit, FromBuilder, ToBuilder } from './builder-protocol.js';
import type { HnswSettings } from './hnsw-settings.js';

type Pending = { resolve: (size: number) => void; reject: (error: Error) => void };

/** A batch of vectors being filled by the caller; at most {@link IndexBuilder.batchVectors} rows. */
export interface BuilderBatch {
  readonly slot: number;
  /** batchVectors × dim, row-major. */
  readonly vectors: Float32Array;
  readonly keys: BigUint64Array;
}

/**
 * Builds one HNSW index in a worker thread, fed through a few batch slots of shared memory: `batch()` waits for a
 * free slot, the caller fills it and hands it over with `add()`, which resolves when the vectors are in the index.
 * Memory stays at the index plus the slots however many vectors pass through. `save` writes the file; `close`
 * ends the thread and frees the index's memory.
 */
export class IndexBuilder {
  readonly batchVectors: number;
  readonly #worker: Worker;
  readonly #slots: BuilderBatch[];
  readonly #free: number[];
  readonly #waiting: ((batch: BuilderBatch) => void)[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #failure: Error | undefined;
  #closed: Promise<void> | undefined;

  private constructor(worker: Worker, slots: BuilderBatch[], batchVectors: number) {
    this.#worker = worker;
    this.#slots = slots;
    this.#free = slots.map((s) => s.slot);
    this.batchVectors = batchVectors;
    worker.on('message', (message: FromBuilder) => {
      const pending = this.#pending.get(message.id);
      if (pending === undefined) return;
      this.#pending.delete(message.id);
      if (message.type === 'done') pending.resolve(message.size);
      else pending.reject(new IndexError(message.code as IndexErrorCode, message.message));
    });
    worker.on('error', (error) => this.#fail(error));
    worker.on('exit', (code) => {
      if (this.#closed === undefined) {
        this.#fail(new IndexError('INDEX_NATIVE', `Index builder thread exited with code ${code}`));
      }
    });
  }

  /** A builder for `dim`-dimensional vectors with `slots` batches of `batchVectors` in flight at most. */
  static create(
    dim: number,
    settings: HnswSettings,
    threads: number,
    options: { slots?: number; batchVectors?: number } = {},
  ): IndexBuilder {
    const batchVectors = options.batchVectors ?? 1024;
    const shared = Array.from({ length: options.slots ?? 2 }, () => ({
      vectors: new SharedArrayBuffer(batchVectors * dim * 4),
      keys: new SharedArrayBuffer(batchVectors * 8),
    }));
    const init: BuilderInit = { dim, settings, threads, slots: shared };
    const slots = shared.map((s, slot) => ({
      slot,
      vectors: new Float32Array(s.vectors),
      keys: new BigUint64Array(s.keys),
    }));
    return new IndexBuilder(new Worker(builderScript(), { workerData: init }), slots, batchVectors);
  }

  /** A free batch slot to fill; waits while every slot is being indexed. */
  batch(): Promise<BuilderBatch> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const slot = this.#free.shift();
    if (slot !== undefined) return Promise.resolve(this.#slots[slot] as BuilderBatch);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Indexes the first `count` rows of a filled batch; the slot is free again once this resolves or fails. */
  add(batch: BuilderBatch, count: number): Promise<number> {
    const done = this.#send({ id: 0, type: 'add', slot: batch.slot, count });
    const release = () => {
      const next = this.#waiting.shift();
      if (next !== undefined) next(batch);
      else this.#free.push(batch.slot);
    };
    done.then(release, release);
    return done;
  }

  /** Saves the index to `file`; resolves with the number of vectors in it. */
  save(file: string): Promise<number> {
    return this.#send({ id: 0, type: 'save', file });
  }

  /** Ends the builder thread; memoised. */
  close(): Promise<void> {
    this.#closed ??= this.#worker.terminate().then(() => {
      this.#fail(new IndexError('INDEX_NATIVE', 'Index builder was closed'));
    });
    return this.#closed;
  }

  #send(message: ToBuilder): Promise<number> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise<number>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...message, id });
    });
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}

/** The compiled worker beside this module, or under dist/ when this module runs from source (tests). */
function builderScript(): URL {
  const candidates = [
    new URL('./builder-worker.js', import.meta.url),
    new URL('../../dist/hnsw/builder-worker.js', import.meta.url),
  ];
  const found = candidates.find((url) => existsSync(url));
  if (found === undefined) {
    throw new IndexError(
      'INDEX_NATIVE',
      `Cannot find the index builder script (looked for ${candidates.map((url) => fileURLToPath(url)).join(' and ')}); build vgg-index with tsc -b`,
    );
  }
  return found;
}
