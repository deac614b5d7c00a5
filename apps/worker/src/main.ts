#!/usr/bin/env node
// The worker's composition root: the only place that reads the environment, handles signals or exits.
import { availableParallelism } from 'node:os';
import { runCli } from 'vgg-cli-kit';
import { createRedisConnection, createS3Client, redactUri, s3ClientOptionsFromEnv } from 'vgg-pipeline';
import { formatEvent, type WorkerCommand, workerProgram } from './cli.js';
import { GpuLauncher, resolveGpus, workerArgsForGpu } from './gpu-launcher.js';
import { VggWorker } from 'vgg-chunk-worker';

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
  process.exitCode = launch(command.gpus);
} else {
  await start(command).catch((error: unknown) => {
    process.stderr.write(`vgg-worker: ${(error as Error).message}\n`);
    process.exit(1);
  });
}

async function start({ redisUrl, queueName, prefix, tunables, json }: WorkerCommand): Promise<void> {
  const log = (event: Parameters<typeof formatEvent>[0]) => process.stderr.write(formatEvent(event, json));
  const worker = await VggWorker.create({
    ...tunables,
    connect: () => createRedisConnection({ url: redisUrl, blocking: true, connectionName: 'vgg-worker' }),
    s3: createS3Client(s3ClientOptionsFromEnv(process.env)),
    queueName,
    prefix,
    onEvent: log,
  });
  const { workerId, shutdownTimeoutMs } = worker.options;
  const redis = redactUri(redisUrl);
  log({
    type: 'ready',
    text: `worker ${workerId} waiting for chunks on ${redis} queue ${queueName}`,
    workerId,
    redis,
    queue: queueName,
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting now\n`);
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
      process.stderr.write(
        `vgg-worker: still closing ${shutdownTimeoutMs + 5_000} ms after ${signal}; exiting\n`,
      );
      process.exit(1);
    }, shutdownTimeoutMs + 5_000).unref();
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
}

/** `--gpus`: this process only starts and supervises one worker per GPU; returns the exit status on failure. */
function launch(spec: string): number | undefined {
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
      env: process.env,
      log: (line) => process.stderr.write(`${line}\n`),
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
