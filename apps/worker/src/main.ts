#!/usr/bin/env node
// The worker's composition root: the only place that reads the environment, handles signals or exits.
import { runCli } from 'vgg-cli-kit';
import { createRedisConnection, createS3Client, redactUri, s3ClientOptionsFromEnv } from 'vgg-pipeline';
import { formatEvent, type WorkerCommand, workerProgram } from './cli.js';
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
