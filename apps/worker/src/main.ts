#!/usr/bin/env node
// The worker's composition root: the only place that reads the environment, handles signals or exits.
import { availableParallelism, hostname } from 'node:os';
import { createLogger, redactUrisIn, runCli } from 'vgg-cli-kit';
import { createRedisConnection, createS3Client, redactUri, s3ClientOptionsFromEnv } from 'vgg-pipeline';
import { type LifecycleEvent, logEvent, type WorkerCommand, workerProgram } from './cli.js';
import { GpuLauncher, resolveGpus, workerArgsForGpu } from './gpu-launcher.js';
import { DEFAULT_METRICS_PORT, VggWorker, type WorkerEvent } from 'vgg-chunk-worker';

let command: WorkerCommand | undefined;
const status = await runCli(
  workerProgram(process.env, (parsed) => {
    command = parsed;
  }),
  process.argv,
  { stderr: process.stderr },
);
if (command === undefined) {
  process.exitCode = status;
} else if (command.gpus !== undefined) {
  process.exitCode = launch(command.gpus, command);
} else {
  await start(command).catch((error: unknown) => {
    process.stderr.write(`vgg-worker: ${redactUrisIn((error as Error).message, redactUri)}\n`);
    process.exit(1);
  });
}

async function start(command: WorkerCommand): Promise<void> {
  const { redisUrl, queueName, prefix, tunables, json, logLevel } = command;
  const workerId = `${hostname()}:${process.pid}`;
  // JSON lines for log collectors; readable lines when a person watches the terminal.
  const logger = createLogger({
    name: 'vgg-worker',
    stream: process.stderr,
    format: json || !process.stderr.isTTY ? 'json' : 'pretty',
    ...(logLevel ? { level: logLevel } : {}),
    base: { worker: workerId },
    redactUri,
  });
  const log = (event: WorkerEvent | LifecycleEvent) => logEvent(logger, event);
  const worker = await VggWorker.create({
    workerId,
    ...tunables,
    connect: () => createRedisConnection({ url: redisUrl, blocking: true, connectionName: 'vgg-worker' }),
    s3: createS3Client(s3ClientOptionsFromEnv(process.env)),
    queueName,
    prefix,
    onEvent: log,
  });
  const { shutdownTimeoutMs } = worker.options;
  const metrics = worker.metricsPort === null ? 'no metrics endpoint' : `metrics on :${worker.metricsPort}`;
  log({
    type: 'ready',
    text: `waiting for chunks on ${redisUrl} queue ${queueName}; ${metrics}`,
    redis: redisUrl,
    queue: queueName,
    metricsPort: worker.metricsPort,
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, `${signal} again: exiting now`);
      process.exit(130);
    }
    stopping = true;
    log({
      type: 'stopping',
      text: `${signal}: finishing in-flight chunks (deadline ${shutdownTimeoutMs} ms)`,
      signal,
      deadlineMs: shutdownTimeoutMs,
    });
    // close() settles within the deadline plus a short overrun whatever Redis, S3 or input hosts do; this backstop
    // only catches a bug there, so that a stopping worker never outlives its orchestrator's grace period.
    setTimeout(() => {
      logger.error({ signal }, `still closing ${shutdownTimeoutMs + 5_000} ms after ${signal}; exiting`);
      process.exit(1);
    }, shutdownTimeoutMs + 5_000).unref();
    worker.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, `shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** `--gpus`: this process only starts and supervises one worker per GPU; returns the exit status on failure. */
function launch(spec: string, { json, logLevel, tunables }: WorkerCommand): number | undefined {
  const logger = createLogger({
    name: 'vgg-worker',
    stream: process.stderr,
    format: json || !process.stderr.isTTY ? 'json' : 'pretty',
    ...(logLevel ? { level: logLevel } : {}),
    base: { worker: `${hostname()}:${process.pid}`, type: 'launcher' },
    redactUri,
  });
  let launcher: GpuLauncher;
  try {
    const gpus = resolveGpus(spec, { cudaVisibleDevices: process.env.CUDA_VISIBLE_DEVICES });
    launcher = GpuLauncher.start({
      gpus,
      command: process.execPath,
      args: [
        process.argv[1] as string,
        ...workerArgsForGpu(process.argv.slice(2), { cores: availableParallelism(), gpus: gpus.length }),
      ],
      metricsPort: tunables.metricsPort ?? DEFAULT_METRICS_PORT,
      env: process.env,
      log: (line) => logger.info(line),
    });
  } catch (error) {
    process.stderr.write(`vgg-worker: ${(error as Error).message}\n`);
    return 2;
  }
  process.on('SIGTERM', () => launcher.stop('SIGTERM'));
  process.on('SIGINT', () => launcher.stop('SIGINT'));
  launcher.exited.then((code) => {
    process.exitCode = code;
  });
  return undefined;
}
