import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  type ChunkJobData,
  connectRuns,
  createRedisConnection,
  type RunConnection,
  type RunStatus,
  type RunStore,
  type SubmitOptions,
  type SubmitResult,
  submitRun,
} from 'vgg-pipeline';
import { VggWorker, type VggWorkerOptions } from 'vgg-chunk-worker';

/** A small custom VGG that runs in milliseconds on CPU but has every layer type (run options). */
export const SMALL_MODEL = {
  model: '[8,M,16,M]',
  classifierWidth: 32,
  numClasses: 1000,
  inputSize: 32,
  poolSize: 2,
} as const;

/** The seed of the small model's initialisation, when no weights are given. */
export const SMALL_SEED = 7;

export const SMALL_PREPROCESS = { resizeSize: 36, cropSize: 32 } as const;

/**
 * VGG16's layers (pair runs need the relu1_2..relu5_3 taps) with a narrow classifier at 64 px, so pair-run tests
 * stay fast; its crop keeps torchvision's 256:224 ratio.
 */
export const PAIR_TEST_MODEL = {
  model: 'vgg16',
  classifierWidth: 16,
  inputSize: 64,
  poolSize: 2,
  resizeSize: 73,
  cropSize: 64,
} as const;

/** A queue name, key prefix and Redis connections private to one test; close() removes every key it made. */
export class PipelineHarness {
  readonly prefix: string;
  readonly queueName = 'vgg-chunks';
  readonly runs: RunConnection;
  readonly redis: Redis;
  readonly queue: Queue<ChunkJobData>;
  readonly runStore: RunStore;
  private readonly workers: VggWorker[] = [];
  private readonly extraConnections: Redis[] = [];

  constructor(
    readonly redisUrl: string,
    readonly s3: S3Client,
    readonly cacheDir: string,
  ) {
    this.prefix = `t-${randomUUID().slice(0, 8)}`;
    this.runs = connectRuns({ redisUrl, queueName: this.queueName, prefix: this.prefix, s3 });
    ({ redis: this.redis, queue: this.queue, runStore: this.runStore } = this.runs);
  }

  static async create(redisUrl: string, s3: S3Client): Promise<PipelineHarness> {
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'vgg-test-cache-'));
    return new PipelineHarness(redisUrl, s3, cacheDir);
  }

  async startWorker(options: Partial<VggWorkerOptions> = {}): Promise<VggWorker> {
    const worker = await VggWorker.create({
      connect: () => {
        const c = createRedisConnection({ url: this.redisUrl, blocking: true });
        this.extraConnections.push(c);
        return c;
      },
      s3: this.s3,
      queueName: this.queueName,
      prefix: this.prefix,
      intraOpNumThreads: 1,
      batchSize: 8,
      cacheDir: this.cacheDir,
      lockDurationMs: 10_000,
      metricsPort: 0,
      ...options,
    });
    this.workers.push(worker);
    return worker;
  }

  /** Submits a run of the small model (seeded unless weights or an ONNX file are given). */
  submit(options: SubmitOptions): Promise<SubmitResult> {
    const seeded = options.weights === undefined && options.onnx === undefined;
    return submitRun(
      { ...SMALL_MODEL, ...SMALL_PREPROCESS, ...(seeded ? { seed: SMALL_SEED } : {}), ...options },
      this.runs,
    );
  }

  /** Polls until the run is finalised; fails with the last status after timeoutMs. */
  async waitForRun(runId: string, timeoutMs = 90_000): Promise<RunStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.runStore.status(runId);
      if (status?.state === 'finalized') return status;
      if (Date.now() > deadline) {
        throw new Error(
          `run ${runId} not finalised after ${timeoutMs} ms: ${JSON.stringify({ ...status, records: status?.records.length })}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close(5_000)));
    await this.queue.obliterate({ force: true }).catch(() => undefined);
    const keys = await this.redis.keys(`${this.prefix}:*`);
    if (keys.length) await this.redis.del(...keys);
    await this.runs.close();
    for (const c of this.extraConnections) c.disconnect();
  }
}

/** Runs a DuckDB query over local Parquet files and returns plain rows. */
export async function duckdbQuery(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

export async function readManifest(runDir: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path.join(runDir, '_manifest.json'), 'utf8')) as Record<string, unknown>;
}

export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.relative(dir, path.join(entry.parentPath, entry.name)));
  }
  return out.sort();
}
