#!/usr/bin/env node
import { Queue } from 'bullmq';
import { Command, Option } from 'commander';
import {
  type ChunkJobData,
  createRedisConnection,
  createS3Client,
  DEFAULT_KEY_PREFIX,
  DEFAULT_QUEUE_NAME,
  RunStore,
  s3ClientOptionsFromEnv,
} from 'vgg-pipeline';
import { addRunOptions, parsePositiveInt, type RunCliValues, runSpecFromCli } from './cli-options.js';
import { cancelRun, progressOf, retryFailed } from './run-control.js';
import { formatProgressBar, formatStatus } from './status-format.js';
import { submitRun } from './submit.js';

interface ConnectionValues {
  redisUrl: string;
  queue: string;
  prefix: string;
}

const program = new Command('vgg-producer')
  .description('Enqueue images for VGG batch inference and follow runs.')
  .showHelpAfterError()
  .configureHelp({ showGlobalOptions: true })
  .addOption(
    new Option('--redis-url <url>', 'Redis (redis:// or rediss://, with auth)')
      .env('REDIS_URL')
      .default('redis://127.0.0.1:6379'),
  )
  .addOption(new Option('--queue <name>', 'BullMQ queue name').env('VGG_QUEUE').default(DEFAULT_QUEUE_NAME))
  .addOption(
    new Option('--prefix <prefix>', 'Redis key prefix; use a hash tag like {vgg} on Redis Cluster')
      .env('VGG_PREFIX')
      .default(DEFAULT_KEY_PREFIX),
  );

function connect() {
  const values = program.opts<ConnectionValues>();
  const redis = createRedisConnection({ url: values.redisUrl, connectionName: 'vgg-producer' });
  const queue = new Queue<ChunkJobData>(values.queue, { connection: redis, prefix: values.prefix });
  // BullMQ prints unhandled 'error' events with the failing command, which for AUTH is the password; commands
  // reject with their own (safe) errors anyway.
  queue.on('error', () => undefined);
  const runStore = new RunStore({ redis, prefix: values.prefix });
  const s3 = () => createS3Client(s3ClientOptionsFromEnv(process.env));
  return {
    queue,
    runStore,
    s3,
    close: async () => {
      await queue.close();
      await redis.quit().catch(() => undefined);
    },
  };
}

addRunOptions(
  program
    .command('submit')
    .description(
      'Enqueue a run. Sources: local dirs/files, s3://bucket/prefix/, manifests (.txt/.csv/.jsonl, local or s3://), http(s) URLs, or - for stdin. Submitting an existing --run resumes it.',
    )
    .argument('<source...>', 'where the images are')
    .addOption(
      new Option('--out <uri>', 'output: s3://bucket/prefix or a local directory')
        .env('VGG_OUT')
        .makeOptionMandatory(),
    )
    .option('--run <id>', 'run id (default: generated); reuse it to resume'),
).action(async (sources: string[], values: RunCliValues & { out: string; run?: string }) => {
  const spec = runSpecFromCli(values);
  const deps = connect();
  try {
    const result = await submitRun(
      {
        sources,
        out: values.out,
        ...(values.run ? { runId: values.run } : {}),
        model: spec.model,
        preprocess: spec.preprocess,
        output: spec.output,
        chunkSize: spec.chunkSize,
        attempts: spec.attempts,
      },
      {
        ...deps,
        stdin: process.stdin,
        onProgress: ({ inputs, enqueued }) => {
          if (process.stderr.isTTY)
            process.stderr.write(`\rlisted ${inputs} images, enqueued ${enqueued} chunks`);
        },
      },
    );
    if (process.stderr.isTTY) process.stderr.write('\n');
    console.log(
      `${result.created ? 'submitted' : 'resumed'} run ${result.runId}: ${result.totalInputs} images in ${result.totalChunks} chunks, ` +
        `${result.enqueued} enqueued, ${result.skipped} already done${result.finalized ? '; run is complete' : ''}`,
    );
    if (!spec.model.weights && !spec.model.onnx) {
      console.log(
        'note: no --weights or --onnx given: the model is UNTRAINED (seeded init); outputs are marked so.',
      );
    }
    console.log(`follow it with: vgg-producer status ${result.runId} --watch`);
  } finally {
    await deps.close();
  }
});

program
  .command('status')
  .description('Show a run: totals, done, failed, images/s and ETA.')
  .argument('<run>', 'run id')
  .option('--watch', 'refresh until the run is finalised or cancelled')
  .addOption(
    new Option('--interval <ms>', 'refresh interval for --watch').argParser(parsePositiveInt).default(1000),
  )
  .option('--json', 'machine-readable output')
  .action(async (runId: string, values: { watch?: boolean; json?: boolean; interval: number }) => {
    const deps = connect();
    try {
      for (;;) {
        const status = await deps.runStore.status(runId);
        if (!status) {
          throw new Error(`Run ${runId} does not exist in this Redis (check REDIS_URL and --prefix)`);
        }
        const progress = progressOf(status);
        const done = status.state === 'finalized' || status.state === 'cancelled';
        if (values.json) {
          const { records: _records, ...summary } = status;
          console.log(
            JSON.stringify({
              ...summary,
              imagesPerSecond: progress.imagesPerSecond,
              etaSeconds: progress.etaSeconds,
            }),
          );
        } else if (values.watch && process.stdout.isTTY && !done) {
          process.stdout.write(`\r\x1b[2K${formatProgressBar(progress, process.stdout.columns)}`);
        } else {
          if (values.watch && process.stdout.isTTY) process.stdout.write('\r\x1b[2K');
          console.log(formatStatus(progress));
        }
        if (!values.watch || done) break;
        await new Promise((r) => setTimeout(r, values.interval));
      }
    } finally {
      await deps.close();
    }
  });

program
  .command('cancel')
  .description('Stop a run: waiting chunks are removed and workers skip the rest.')
  .argument('<run>', 'run id')
  .action(async (runId: string) => {
    const deps = connect();
    try {
      const { removed } = await cancelRun(runId, deps);
      console.log(`cancelled run ${runId}; removed ${removed} waiting chunks`);
    } finally {
      await deps.close();
    }
  });

program
  .command('retry-failed')
  .description('Enqueue again the chunks of a run that failed, or whose images failed for network reasons.')
  .argument('<run>', 'run id')
  .option('--reasons <list>', 'error reasons to retry (default chunk_failed,timeout,network,http_error)')
  .action(async (runId: string, values: { reasons?: string }) => {
    const deps = connect();
    try {
      const reasons = values.reasons
        ?.split(',')
        .map((r) => r.trim())
        .filter(Boolean);
      const result = await retryFailed(runId, deps, reasons ? { reasons } : {});
      console.log(
        result.chunks === 0
          ? `run ${runId}: nothing to retry`
          : `run ${runId}: re-enqueued ${result.chunks} chunks (${result.images} images)`,
      );
    } finally {
      await deps.close();
    }
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`vgg-producer: ${(error as Error).message}`);
  process.exit(1);
});
