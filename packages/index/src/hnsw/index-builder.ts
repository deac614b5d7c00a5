import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { IndexError, type IndexErrorCode } from '../errors.js';
import type { BuilderInit, FromBuilder, ToBuilder } from './builder-protocol.js';
import type { HnswSettings } from './hnsw-settings.js';

type Pending = { resolve: (size: number) => void; reject: (error: Error) => void };

/**
 * Builds one HNSW index in a worker thread. `add` hands vectors over without copying (their buffers are
 * transferred, so callers must not reuse them) and resolves when they are in the index; `save` writes the file;
 * `close` ends the thread and frees the index's memory.
 */
export class IndexBuilder {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #failure: Error | undefined;
  #closed: Promise<void> | undefined;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (message: FromBuilder) => {
      const pending = this.#pending.get(message.id);
      if (pending === undefined) return;
      this.#pending.delete(message.id);
      if (message.type === 'done') pending.resolve(message.size);
      else pending.reject(new IndexError(message.code as IndexErrorCode, message.message));
    });
    worker.on('error', (error) => this.#fail(error));
    worker.on('exit', (code) => {
      if (this.#closed === undefined)
        this.#fail(new IndexError('INDEX_NATIVE', `Index builder thread exited with code ${code}`));
    });
  }

  static create(dim: number, settings: HnswSettings, threads: number): IndexBuilder {
    const init: BuilderInit = { dim, settings, threads };
    return new IndexBuilder(new Worker(builderScript(), { workerData: init }));
  }

  /** Adds row-major vectors under `keys`; their buffers move to the builder thread. */
  add(keys: BigUint64Array, vectors: Float32Array): Promise<number> {
    return this.#send({ id: 0, type: 'add', keys, vectors }, [
      keys.buffer as ArrayBuffer,
      vectors.buffer as ArrayBuffer,
    ]);
  }

  /** Saves the index to `file`; resolves with the number of vectors in it. */
  save(file: string): Promise<number> {
    return this.#send({ id: 0, type: 'save', file }, []);
  }

  /** Ends the builder thread; memoised. */
  close(): Promise<void> {
    this.#closed ??= this.#worker.terminate().then(() => {
      this.#fail(new IndexError('INDEX_NATIVE', 'Index builder was closed'));
    });
    return this.#closed;
  }

  #send(message: ToBuilder, transfer: ArrayBuffer[]): Promise<number> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise<number>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...message, id }, transfer);
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
