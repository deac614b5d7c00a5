import { Worker } from 'node:worker_threads';
import type { ShardColumns } from 'vgg-pipeline';
import type { EncodeRequest, EncodeResponse } from './shard-encoder-thread.js';

type Job = { resolve: (bytes: Uint8Array) => void; reject: (error: Error) => void };
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/**
 * Encodes Parquet and .npy shards in a worker thread. parquet-wasm is synchronous and takes hundreds of ms for a
 * shard of fc7 embeddings; on the main thread that would stall BullMQ's lock renewals and the fetch pipeline.
 */
export class ShardEncoder {
  private readonly worker: Worker;
  private readonly jobs = new Map<number, Job>();
  private nextId = 0;
  private failure: Error | null = null;

  constructor() {
    this.worker = new Worker(new URL('./shard-encoder-thread.js', import.meta.url));
    this.worker.unref();
    this.worker.on('message', (message: EncodeResponse) => {
      const job = this.jobs.get(message.id);
      if (!job) return;
      this.jobs.delete(message.id);
      if ('error' in message) job.reject(new Error(`shard encoding failed: ${message.error}`));
      else job.resolve(message.bytes);
    });
    const fail = (error: Error) => {
      this.failure = error;
      for (const job of this.jobs.values()) job.reject(error);
      this.jobs.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`shard encoder thread exited with code ${code}`)));
  }

  /** Encodes a Parquet shard; the columns' typed arrays are transferred (the caller gives them up). */
  parquet(columns: ShardColumns): Promise<Uint8Array> {
    const transfer = [
      columns.topK.classIds.buffer,
      columns.topK.probs.buffer,
      ...columns.embeddings.map((e) => e.data.buffer),
    ] as ArrayBuffer[];
    return this.send({ kind: 'parquet', columns }, transfer);
  }

  npy(
    data: Float32Array | Uint16Array,
    shape: [number, number],
    dtype: 'float32' | 'float16',
  ): Promise<Uint8Array> {
    return this.send({ kind: 'npy', data, shape, dtype }, [data.buffer as ArrayBuffer]);
  }

  private send(request: DistributiveOmit<EncodeRequest, 'id'>, transfer: ArrayBuffer[]): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      // Distinct buffers only: transferring one twice throws.
      this.worker.postMessage({ ...request, id }, [...new Set(transfer)]);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
