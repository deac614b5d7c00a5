import { availableParallelism, hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import { type ExecutionProviderSetting, invalidOption } from 'vgg-core';
import { DEFAULT_KEY_PREFIX, DEFAULT_QUEUE_NAME } from 'vgg-pipeline';

export interface VggWorkerOptions {
  /** Opens a Redis connection; BullMQ needs several. Connections must have maxRetriesPerRequest null. */
  connect: () => Redis;
  /** S3 client for s3:// inputs, outputs and model files. */
  s3: S3Client;
  /** BullMQ queue name. Default `vgg-chunks`. */
  queueName?: string;
  /** Redis key prefix. Default `vgg`. */
  prefix?: string;
  /** `cpu`, `cuda`, `cuda:N` or `auto`. Default `cpu`. */
  provider?: ExecutionProviderSetting;
  /**
   * onnxruntime intra-op threads. Default: all cores. The session does not spin, so decoding still gets CPU when it
   * needs it; measured on 2 cores, 2 threads beat 1 for VGG16 (1.7×) and for a decode-bound small VGG alike.
   */
  intraOpNumThreads?: number;
  /** Images per inference call. Default 16 on CPU, 32 on CUDA. */
  batchSize?: number;
  /** Chunks processed at once; more than one lets batches fill across chunks. Default 2. */
  chunkConcurrency?: number;
  /** Concurrent input downloads. Default 16. */
  fetchConcurrency?: number;
  /** Concurrent sharp decodes. Default: cores. */
  decodeConcurrency?: number;
  /** Decoded images waiting for inference, bounding memory. Default 4 × batchSize. */
  maxQueuedImages?: number;
  /** Largest input accepted, in bytes, enforced while streaming. Default 64 MiB. */
  maxInputBytes?: number;
  /** Connect timeout for http(s) inputs, in ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** Idle read timeout for inputs, in ms. Default 30 000. */
  readTimeoutMs?: number;
  /**
   * http(s) inputs may reach these hosts even if they resolve to loopback, private or link-local addresses
   * (refused by default against server-side request forgery): exact names or `.suffix`. Default none.
   */
  allowHosts?: string[];
  /** Address ranges (CIDR) that http(s) inputs may reach although refused by default. Default none. */
  allowCidrs?: string[];
  /**
   * Directories local-file inputs must lie in, checked after resolving `..` and symlinks; other local inputs end
   * as `forbidden` rows. Default: no confinement (set it on shared workers that take untrusted manifests).
   */
  localRoots?: string[];
  /** Attempts per input on transient fetch failures (5xx, resets, timeouts). Default 3. */
  fetchAttempts?: number;
  /** BullMQ job lock duration, in ms. Default 60 000. */
  lockDurationMs?: number;
  /** Graceful-stop deadline for close(), in ms; then in-flight chunks are handed back. Default 30 000. */
  shutdownTimeoutMs?: number;
  /** Local cache for model files and generated graphs. Default `<tmpdir>/vgg-cache`. */
  cacheDir?: string;
  /** Identifies this worker in chunk records. Default `<hostname>:<pid>`. */
  workerId?: string;
  /** Progress and diagnostics. Default: none. */
  onEvent?: (event: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'model-loaded'; runId: string; variant: string; provider: string; untrained: boolean; ms: number }
  | {
      type: 'chunk-done';
      runId: string;
      chunkIndex: number;
      rows: number;
      ok: number;
      error: number;
      ms: number;
    }
  | {
      type: 'chunk-failed';
      runId: string;
      chunkIndex: number;
      attempt: number;
      final: boolean;
      message: string;
    }
  | { type: 'run-finalized'; runId: string; manifest: string }
  | { type: 'warning'; message: string };

export type ResolvedWorkerOptions = Required<Omit<VggWorkerOptions, 'onEvent'>> & {
  onEvent: ((event: WorkerEvent) => void) | undefined;
};

export function resolveWorkerOptions(options: VggWorkerOptions): ResolvedWorkerOptions {
  const provider = options.provider ?? 'cpu';
  const cores = availableParallelism();
  const batchSize = positiveInt('batchSize', options.batchSize ?? (provider.startsWith('cuda') ? 32 : 16));
  return {
    connect: options.connect,
    s3: options.s3,
    queueName: options.queueName ?? DEFAULT_QUEUE_NAME,
    prefix: options.prefix ?? DEFAULT_KEY_PREFIX,
    provider,
    intraOpNumThreads: positiveInt('intraOpNumThreads', options.intraOpNumThreads ?? cores),
    batchSize,
    chunkConcurrency: positiveInt('chunkConcurrency', options.chunkConcurrency ?? 2),
    fetchConcurrency: positiveInt('fetchConcurrency', options.fetchConcurrency ?? 16),
    decodeConcurrency: positiveInt('decodeConcurrency', options.decodeConcurrency ?? cores),
    maxQueuedImages: positiveInt('maxQueuedImages', options.maxQueuedImages ?? 4 * batchSize),
    maxInputBytes: positiveInt('maxInputBytes', options.maxInputBytes ?? 64 * 1024 * 1024),
    connectTimeoutMs: positiveInt('connectTimeoutMs', options.connectTimeoutMs ?? 10_000),
    readTimeoutMs: positiveInt('readTimeoutMs', options.readTimeoutMs ?? 30_000),
    allowHosts: options.allowHosts ?? [],
    allowCidrs: options.allowCidrs ?? [],
    localRoots: (options.localRoots ?? []).map((root) => path.resolve(root)),
    fetchAttempts: positiveInt('fetchAttempts', options.fetchAttempts ?? 3),
    lockDurationMs: positiveInt('lockDurationMs', options.lockDurationMs ?? 60_000),
    shutdownTimeoutMs: positiveInt('shutdownTimeoutMs', options.shutdownTimeoutMs ?? 30_000),
    cacheDir: options.cacheDir ?? path.join(tmpdir(), 'vgg-cache'),
    workerId: options.workerId ?? `${hostname()}:${process.pid}`,
    onEvent: options.onEvent,
  };
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw invalidOption(name, 'positive integer', value);
  return value;
}
