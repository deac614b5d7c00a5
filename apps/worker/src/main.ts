#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ExecutionProviderSetting } from 'vgg-core';
import {
  createRedisConnection,
  createS3Client,
  DEFAULT_KEY_PREFIX,
  DEFAULT_QUEUE_NAME,
  redactUri,
  s3ClientOptionsFromEnv,
} from 'vgg-pipeline';
import { VggWorker } from './vgg-worker.js';
import type { WorkerEvent } from './worker-options.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n <= 0)
    throw new InvalidArgumentError(`Expected positive integer but received ${JSON.stringify(value)}.`);
  return n;
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

function device(value: string): ExecutionProviderSetting {
  if (value === 'cpu' || value === 'cuda' || value === 'auto' || /^cuda:\d+$/.test(value))
    return value as ExecutionProviderSetting;
  throw new InvalidArgumentError(`Expected cpu, cuda, cuda:N or auto but received ${JSON.stringify(value)}.`);
}

interface WorkerCliValues {
  redisUrl: string;
  queue: string;
  prefix: string;
  device: ExecutionProviderSetting;
  threads?: number;
  batchSize?: number;
  chunkConcurrency?: number;
  fetchConcurrency?: number;
  decodeConcurrency?: number;
  maxInputBytes?: number;
  connectTimeoutMs?: number;
  readTimeoutMs?: number;
  lockDurationMs?: number;
  shutdownTimeoutMs?: number;
  cacheDir?: string;
  allowHosts?: string;
  allowCidrs?: string;
  localRoots?: string;
  json?: boolean;
}

const opt = (flags: string, description: string, env: string) => new Option(flags, description).env(env);
const program = new Command('vgg-worker')
  .description(
    'Pull chunk jobs from Redis, run VGG on their images in batches and write Parquet shards. Run one process per GPU (--device cuda:N); CPU workers are fine too. SIGTERM finishes or hands back in-flight chunks, then exits.',
  )
  .showHelpAfterError()
  .addOption(
    opt('--redis-url <url>', 'Redis (redis:// or rediss://, with auth)', 'REDIS_URL').default(
      'redis://127.0.0.1:6379',
    ),
  )
  .addOption(opt('--queue <name>', 'BullMQ queue name', 'VGG_QUEUE').default(DEFAULT_QUEUE_NAME))
  .addOption(opt('--prefix <prefix>', 'Redis key prefix', 'VGG_PREFIX').default(DEFAULT_KEY_PREFIX))
  .addOption(
    opt('--device <provider>', 'cpu, cuda, cuda:N or auto (cuda, else cpu with a warning)', 'VGG_DEVICE')
      .argParser(device)
      .default('cpu'),
  )
  .addOption(
    opt('--threads <n>', 'onnxruntime intra-op threads (default: all cores)', 'VGG_THREADS').argParser(
      positiveInt,
    ),
  )
  .addOption(
    opt(
      '--batch-size <n>',
      'images per inference call (default 16 on cpu, 32 on cuda)',
      'VGG_BATCH_SIZE',
    ).argParser(positiveInt),
  )
  .addOption(
    opt('--chunk-concurrency <n>', 'chunks in flight (default 2)', 'VGG_CHUNK_CONCURRENCY').argParser(
      positiveInt,
    ),
  )
  .addOption(
    opt('--fetch-concurrency <n>', 'concurrent downloads (default 16)', 'VGG_FETCH_CONCURRENCY').argParser(
      positiveInt,
    ),
  )
  .addOption(
    opt(
      '--decode-concurrency <n>',
      'concurrent decodes (default: cores)',
      'VGG_DECODE_CONCURRENCY',
    ).argParser(positiveInt),
  )
  .addOption(
    opt('--max-input-bytes <n>', 'largest input accepted (default 64 MiB)', 'VGG_MAX_INPUT_BYTES').argParser(
      positiveInt,
    ),
  )
  .addOption(
    opt(
      '--connect-timeout-ms <ms>',
      'connect timeout for inputs (default 10000)',
      'VGG_CONNECT_TIMEOUT_MS',
    ).argParser(positiveInt),
  )
  .addOption(
    opt(
      '--read-timeout-ms <ms>',
      'idle read timeout for inputs (default 30000)',
      'VGG_READ_TIMEOUT_MS',
    ).argParser(positiveInt),
  )
  .addOption(
    opt('--lock-duration-ms <ms>', 'BullMQ job lock (default 60000)', 'VGG_LOCK_DURATION_MS').argParser(
      positiveInt,
    ),
  )
  .addOption(
    opt(
      '--shutdown-timeout-ms <ms>',
      'graceful stop deadline before chunks are handed back (default 30000)',
      'VGG_SHUTDOWN_TIMEOUT_MS',
    ).argParser(positiveInt),
  )
  .addOption(
    opt(
      '--allow-hosts <list>',
      'http(s) hosts allowed despite resolving to internal addresses (name or .suffix, comma-separated)',
      'VGG_ALLOW_HOSTS',
    ),
  )
  .addOption(
    opt(
      '--allow-cidrs <list>',
      'internal address ranges http(s) inputs may reach, e.g. 10.1.0.0/16',
      'VGG_ALLOW_CIDRS',
    ),
  )
  .addOption(
    opt(
      '--local-roots <list>',
      'confine local-file inputs to these directories (comma-separated; default: anywhere)',
      'VGG_LOCAL_ROOTS',
    ),
  )
  .addOption(opt('--cache-dir <dir>', 'model file cache (default <tmpdir>/vgg-cache)', 'VGG_CACHE_DIR'))
  .addOption(opt('--json', 'log events as JSON lines', 'VGG_LOG_JSON'))
  .action(async (values: WorkerCliValues) => {
    const log = (event: WorkerEvent) => {
      if (values.json) {
        process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
        return;
      }
      const line =
        event.type === 'chunk-done'
          ? `chunk ${event.runId}#${event.chunkIndex}: ${event.ok}/${event.rows} ok in ${(event.ms / 1000).toFixed(1)}s`
          : event.type === 'chunk-failed'
            ? `chunk ${event.runId}#${event.chunkIndex} attempt ${event.attempt} failed${event.final ? ' (final; recorded as errors)' : ''}: ${event.message}`
            : event.type === 'model-loaded'
              ? `model ${event.variant} loaded on ${event.provider} in ${(event.ms / 1000).toFixed(1)}s${event.untrained ? ' (UNTRAINED: seeded init)' : ''}`
              : event.type === 'run-finalized'
                ? `run ${event.runId} finalised: ${event.manifest}`
                : `warning: ${event.message}`;
      process.stderr.write(`${new Date().toISOString()} ${line}\n`);
    };
    const worker = await VggWorker.create({
      connect: () =>
        createRedisConnection({ url: values.redisUrl, blocking: true, connectionName: 'vgg-worker' }),
      s3: createS3Client(s3ClientOptionsFromEnv(process.env)),
      queueName: values.queue,
      prefix: values.prefix,
      provider: values.device,
      ...(values.threads ? { intraOpNumThreads: values.threads } : {}),
      ...(values.batchSize ? { batchSize: values.batchSize } : {}),
      ...(values.chunkConcurrency ? { chunkConcurrency: values.chunkConcurrency } : {}),
      ...(values.fetchConcurrency ? { fetchConcurrency: values.fetchConcurrency } : {}),
      ...(values.decodeConcurrency ? { decodeConcurrency: values.decodeConcurrency } : {}),
      ...(values.maxInputBytes ? { maxInputBytes: values.maxInputBytes } : {}),
      ...(values.connectTimeoutMs ? { connectTimeoutMs: values.connectTimeoutMs } : {}),
      ...(values.readTimeoutMs ? { readTimeoutMs: values.readTimeoutMs } : {}),
      ...(values.lockDurationMs ? { lockDurationMs: values.lockDurationMs } : {}),
      ...(values.shutdownTimeoutMs ? { shutdownTimeoutMs: values.shutdownTimeoutMs } : {}),
      ...(values.cacheDir ? { cacheDir: values.cacheDir } : {}),
      ...(values.allowHosts ? { allowHosts: list(values.allowHosts) } : {}),
      ...(values.allowCidrs ? { allowCidrs: list(values.allowCidrs) } : {}),
      ...(values.localRoots ? { localRoots: list(values.localRoots) } : {}),
      onEvent: log,
    });
    const note = (type: string, text: string, fields: Record<string, unknown>) =>
      process.stderr.write(
        values.json
          ? `${JSON.stringify({ time: new Date().toISOString(), type, ...fields })}\n`
          : `${new Date().toISOString()} ${text}\n`,
      );
    note(
      'ready',
      `worker ${worker.options.workerId} waiting for chunks on ${redactUri(values.redisUrl)} queue ${values.queue}`,
      { workerId: worker.options.workerId, redis: redactUri(values.redisUrl), queue: values.queue },
    );
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        process.stderr.write(`${signal} again: exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      note(
        'stopping',
        `${signal}: finishing in-flight chunks (deadline ${worker.options.shutdownTimeoutMs} ms)`,
        {
          signal,
          deadlineMs: worker.options.shutdownTimeoutMs,
        },
      );
      worker.close().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`shutdown failed: ${(error as Error).message}\n`);
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`vgg-worker: ${(error as Error).message}`);
  process.exit(1);
});
