import { availableParallelism, hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import { expectedValue, type FlagTable, type FlagValues, withDefaults } from 'vgg-cli-kit';
import { parseExecutionProvider } from 'vgg-core';
import {
  type CommitRefusal,
  DEFAULT_KEY_PREFIX,
  DEFAULT_QUEUE_NAME,
  invalidOption,
  NETWORK_FLAGS,
} from 'vgg-pipeline';

/** The metrics endpoint's port when none is given (infra/README.md's contract; the manifests and probes use it). */
export const DEFAULT_METRICS_PORT = 9464;

/**
 * The worker's tunables, with their flags (`vgg-worker --batch-size` <-> `VGG_BATCH_SIZE`) and documented
 * defaults; {@link resolveWorkerOptions} applies the same defaults to options given in code.
 */
export const WORKER_FLAGS = {
  provider: {
    kind: 'string',
    flag: 'device',
    valueName: 'provider',
    default: 'cpu',
    parse: parseExecutionProvider,
    description: 'cpu, cuda, cuda:N or auto (cuda, else cpu with a warning)',
  },
  intraOpNumThreads: {
    kind: 'integer',
    min: 1,
    flag: 'threads',
    defaultText: 'all cores',
    // The session does not spin, so decoding still gets CPU when it needs it; measured on 2 cores, 2 threads
    // beat 1 for VGG16 (1.7x) and for a decode-bound small VGG alike.
    description: 'onnxruntime intra-op threads',
  },
  batchSize: {
    kind: 'integer',
    min: 1,
    defaultText: '16 on cpu, 32 on cuda',
    description: 'images per inference call',
  },
  chunkConcurrency: {
    kind: 'integer',
    min: 1,
    default: 2,
    description: 'chunks in flight; more than one lets batches fill across chunks',
  },
  fetchConcurrency: { kind: 'integer', min: 1, default: 16, description: 'concurrent downloads' },
  perHostConcurrency: {
    kind: 'integer',
    min: 1,
    default: 8,
    description: 'concurrent downloads from one http(s) host (politeness towards image servers)',
  },
  maxRetryAfterMs: {
    kind: 'integer',
    min: 0,
    default: 60_000,
    valueName: 'ms',
    description:
      "on 429 and 503, wait as the server's Retry-After asks (pausing that host) up to this long; longer waits fail the input (http_error, retry-failed retries it)",
  },
  dedupCacheMb: {
    kind: 'integer',
    min: 0,
    default: 64,
    valueName: 'MiB',
    description: 'results kept by sha256 so identical bytes are inferred once per run (0: off)',
  },
  memoryBudgetMb: {
    kind: 'integer',
    min: 64,
    default: 2048,
    valueName: 'MiB',
    description:
      'resident memory the worker stays under: input bytes (downloads, counted at --max-input-bytes until their size is known; images awaiting decode; tar members read ahead) wait for room beside what the runtime and model use. One input always proceeds, so keep it above the model size plus --max-input-bytes',
  },
  decodeConcurrency: { kind: 'integer', min: 1, defaultText: 'cores', description: 'concurrent decodes' },
  maxInputBytes: {
    kind: 'integer',
    min: 1,
    default: 64 * 1024 * 1024,
    description: 'largest input accepted, in bytes, enforced while streaming',
  },
  maxModelBytes: {
    kind: 'integer',
    min: 1,
    default: 2 * 1024 * 1024 * 1024,
    description:
      'largest model file (--weights, --onnx) fetched by URI, in bytes, enforced while streaming; model fetches also meet --allow-hosts/--allow-cidrs and the timeouts',
  },
  connectTimeoutMs: {
    kind: 'integer',
    min: 1,
    default: 10_000,
    valueName: 'ms',
    description: 'connect timeout for http(s) inputs',
  },
  readTimeoutMs: {
    kind: 'integer',
    min: 1,
    default: 30_000,
    valueName: 'ms',
    description: 'idle read timeout for inputs',
  },
  lockDurationMs: {
    kind: 'integer',
    min: 1,
    default: 60_000,
    valueName: 'ms',
    description: 'BullMQ job lock',
  },
  shutdownTimeoutMs: {
    kind: 'integer',
    min: 1,
    default: 30_000,
    valueName: 'ms',
    description: 'graceful stop deadline before chunks are handed back',
  },
  ...NETWORK_FLAGS,
  localRoots: {
    kind: 'list',
    default: [],
    description:
      'confine local-file inputs to these directories, after resolving .. and symlinks (default: anywhere; set it on workers that take untrusted manifests)',
  },
  cacheDir: {
    kind: 'string',
    valueName: 'dir',
    defaultText: '<tmpdir>/vgg-cache',
    description: 'model file cache',
  },
  metricsPort: {
    kind: 'integer',
    min: 0,
    max: 65_535,
    valueName: 'port',
    // Applied in resolveWorkerOptions: a taken default port only warns (two workers on one machine), a given one fails.
    defaultText: String(DEFAULT_METRICS_PORT),
    description: 'HTTP port of /metrics, /healthz and /readyz (0: no endpoint)',
  },
  metricsHost: {
    kind: 'string',
    valueName: 'address',
    default: '0.0.0.0',
    description: 'address the metrics endpoint listens on',
  },
} as const satisfies FlagTable;

/** The tunables of {@link WORKER_FLAGS}, as values. */
export type WorkerFlagValues = FlagValues<typeof WORKER_FLAGS>;

export type VggWorkerOptions = Partial<WorkerFlagValues> & {
  /** Opens a Redis connection; BullMQ needs several. Connections must have maxRetriesPerRequest null. */
  connect: () => Redis;
  /** S3 client for s3:// inputs, outputs and model files. */
  s3: S3Client;
  /** BullMQ queue name. Default `vgg-chunks`. */
  queueName?: string;
  /** Redis key prefix. Default `vgg`. */
  prefix?: string;
  /** Decoded images waiting for inference, bounding memory. Default 4 × batchSize. */
  maxQueuedImages?: number;
  /** Attempts per input on transient fetch failures (5xx, resets, timeouts). Default 3. */
  fetchAttempts?: number;
  /** Identifies this worker in chunk records. Default `<hostname>:<pid>`. */
  workerId?: string;
  /** Progress and diagnostics. Default: none. */
  onEvent?: (event: WorkerEvent) => void;
};

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
  | {
      /** A chunk attempt was refused its commit (see ChunkFencedError); nothing was written. */
      type: 'chunk-fenced';
      runId: string;
      chunkIndex: number;
      refusal: CommitRefusal;
      message: string;
    }
  | { type: 'run-finalized'; runId: string; manifest: string }
  | { type: 'warning'; message: string };

export type ResolvedWorkerOptions = Required<Omit<VggWorkerOptions, 'onEvent'>> & {
  onEvent: ((event: WorkerEvent) => void) | undefined;
  /** Whether metricsPort was given (a taken port then fails create()) or is the default (it only warns). */
  metricsPortGiven: boolean;
};

export function resolveWorkerOptions(options: VggWorkerOptions): ResolvedWorkerOptions {
  const flags = withDefaults(WORKER_FLAGS, options);
  for (const [key, spec] of Object.entries(WORKER_FLAGS)) {
    const value = (flags as Record<string, unknown>)[key];
    const expected = value === undefined ? null : expectedValue(spec, value);
    if (expected !== null) throw invalidOption(key, expected, value);
  }
  const provider = flags.provider;
  const cores = availableParallelism();
  const batchSize = flags.batchSize ?? (provider.startsWith('cuda') ? 32 : 16);
  return {
    ...flags,
    connect: options.connect,
    s3: options.s3,
    queueName: options.queueName ?? DEFAULT_QUEUE_NAME,
    prefix: options.prefix ?? DEFAULT_KEY_PREFIX,
    intraOpNumThreads: flags.intraOpNumThreads ?? cores,
    batchSize,
    decodeConcurrency: flags.decodeConcurrency ?? cores,
    maxQueuedImages: positiveInt('maxQueuedImages', options.maxQueuedImages ?? 4 * batchSize),
    localRoots: flags.localRoots.map((root) => path.resolve(root)),
    fetchAttempts: positiveInt('fetchAttempts', options.fetchAttempts ?? 3),
    cacheDir: flags.cacheDir ?? path.join(tmpdir(), 'vgg-cache'),
    metricsPort: flags.metricsPort ?? DEFAULT_METRICS_PORT,
    metricsPortGiven: flags.metricsPort !== undefined,
    workerId: options.workerId ?? `${hostname()}:${process.pid}`,
    onEvent: options.onEvent,
  };
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw invalidOption(name, 'positive integer', value);
  return value;
}
