import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { type Env, FlagSet, type FlagTable, LOG_FLAGS, type Logger, type LogLevel } from 'vgg-cli-kit';
import {
  cancelRun,
  collectRunReport,
  compactRun,
  connectRuns,
  createS3Client,
  formatProgressBar,
  formatStatus,
  progressOf,
  NETWORK_FLAGS,
  QUEUE_FLAGS,
  renderRunReport,
  RUN_OPTIONS,
  type RunConnection,
  requestedModelIdentity,
  retryFailed,
  rowNoun,
  runNotFound,
  s3ClientOptionsFromEnv,
  submitRun,
} from 'vgg-pipeline';

/** What the producer reads and writes besides its arguments. */
export interface ProducerIo {
  env: Env;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** The log, at `--log-level` (the composition root picks its format, stream and default level). */
  logger: (level: LogLevel | undefined) => Logger;
}

const STATUS_FLAGS = {
  watch: { kind: 'boolean', description: 'refresh until the run is finalised or cancelled' },
  interval: {
    kind: 'integer',
    min: 1,
    default: 1000,
    valueName: 'ms',
    description: 'refresh interval for --watch',
  },
  json: { kind: 'boolean', description: 'machine-readable output' },
} as const satisfies FlagTable;

const RETRY_FLAGS = {
  reasons: {
    kind: 'list',
    defaultText: 'chunk_failed,timeout,network,http_error',
    description: 'error reasons to retry',
  },
} as const satisfies FlagTable;

const COMPACT_FLAGS = {
  targetMb: {
    kind: 'integer',
    min: 1,
    default: 128,
    valueName: 'MiB',
    description: 'size of each new file, by the sizes of the shards it joins',
  },
  prune: {
    kind: 'boolean',
    description:
      'delete the old shards once the new manifest is written (readers of the old manifest then fail; retry-failed no longer works for the run)',
  },
} as const satisfies FlagTable;

const REPORT_FLAGS = {
  out: {
    kind: 'string',
    valueName: 'file',
    defaultText: 'report-<run>.html',
    description: 'where to write the HTML page',
  },
} as const satisfies FlagTable;

/** `vgg-producer`: submit runs and follow, cancel or retry them. */
export function producerProgram(io: ProducerIo): Command {
  const queueFlags = new FlagSet(QUEUE_FLAGS, { envPrefix: 'VGG_' });
  const runFlags = new FlagSet(RUN_OPTIONS, { envPrefix: 'VGG_' });
  const networkFlags = new FlagSet(NETWORK_FLAGS, { envPrefix: 'VGG_' });
  const statusFlags = new FlagSet(STATUS_FLAGS);
  const retryFlags = new FlagSet(RETRY_FLAGS);
  const compactFlags = new FlagSet(COMPACT_FLAGS);
  const logFlags = new FlagSet(LOG_FLAGS);
  const reportFlags = new FlagSet(REPORT_FLAGS);
  const out = (line: string) => io.stdout.write(`${line}\n`);

  const program = logFlags.addTo(
    queueFlags.addTo(
      new Command('vgg-producer')
        .description(
          'Enqueue images for VGG batch inference and follow runs. Results go to stdout; the log (JSON lines unless stderr is a terminal) to stderr.',
        )
        .showHelpAfterError()
        .configureHelp({ showGlobalOptions: true }),
    ),
  );
  let logger: Logger | undefined;
  /** What a command did, for the log: a record with the run and the numbers. */
  const log = (fields: Record<string, unknown>, text: string) => {
    logger ??= io.logger(logFlags.read(program, io.env).logLevel);
    logger.info(fields, text);
  };

  /** Runs `action` with a connection to the queue and run state, closing it afterwards. */
  const connected = async (action: (runs: RunConnection) => Promise<void>) => {
    const { redisUrl, queueName, prefix } = queueFlags.read(program, io.env);
    const runs = connectRuns({
      redisUrl,
      queueName,
      prefix,
      connectionName: 'vgg-producer',
      s3: () => createS3Client(s3ClientOptionsFromEnv(io.env)),
    });
    try {
      await action(runs);
    } finally {
      await runs.close();
    }
  };

  networkFlags
    .addTo(
      runFlags.addTo(
        program
          .command('submit')
          .description(
            'Enqueue a run. Sources: local dirs/files, s3://bucket/prefix/, manifests (.txt/.lst, .csv, .tsv, .jsonl, each optionally .gz/.zst, and .parquet; local, s3:// or https://), WebDataset tar shards (.tar, .tar.gz) and brace ranges like s3://b/shards/{00000..00999}.tar, http(s) image URLs, or - for stdin. Submitting an existing --run resumes it. With --pairs FILE, no sources: the file lists the pairs.',
          )
          .argument('[source...]', 'where the images are'),
      ),
    )
    .action(async (sources: string[], _options: unknown, command: Command) => {
      const options = runFlags.read(command, io.env);
      const network = networkFlags.read(command, io.env);
      await connected(async (runs) => {
        const tty = io.stderr.isTTY;
        const listed = options.pairs === undefined ? 'images' : 'pairs';
        const result = await submitRun(
          { ...options, sources },
          {
            ...runs,
            stdin: io.stdin,
            network,
            onProgress: ({ inputs, enqueued }) => {
              if (tty) io.stderr.write(`\rlisted ${inputs} ${listed}, enqueued ${enqueued} chunks`);
            },
          },
        );
        if (tty) io.stderr.write('\n');
        const noun = rowNoun(result.spec);
        log(
          {
            type: result.created ? 'submitted' : 'resumed',
            run: result.runId,
            inputs: result.totalInputs,
            chunks: result.totalChunks,
            enqueued: result.enqueued,
            skipped: result.skipped,
            sources,
            out: result.spec.output.out,
          },
          `${result.created ? 'submitted' : 'resumed'}: ${result.totalInputs} ${noun} in ${result.totalChunks} chunks`,
        );
        out(
          `${result.created ? 'submitted' : 'resumed'} run ${result.runId}: ${result.totalInputs} ${noun} in ${result.totalChunks} chunks, ` +
            `${result.enqueued} enqueued, ${result.skipped} already done${result.finalized ? '; run is complete' : ''}`,
        );
        if (requestedModelIdentity(result.spec.model).untrained) {
          out(
            'note: no --weights or --onnx given: the model is UNTRAINED (seeded init); outputs are marked so.',
          );
        }
        out(`follow it with: vgg-producer status ${result.runId} --watch`);
      });
    });

  statusFlags
    .addTo(
      program
        .command('status')
        .description('Show a run: totals, done, failed, images/s and ETA.')
        .argument('<run>', 'run id'),
    )
    .action(async (runId: string, _options: unknown, command: Command) => {
      const { watch, interval, json } = statusFlags.read(command, io.env);
      await connected(async ({ runStore }) => {
        const live = watch && io.stdout.isTTY;
        for (;;) {
          const status = await runStore.status(runId);
          if (!status) throw runNotFound(runId);
          const progress = progressOf(status);
          // A stuck run waits for a resubmission: watching it longer shows nothing new.
          const done =
            status.state === 'finalized' || status.state === 'cancelled' || status.stuck.length > 0;
          if (json) {
            const { records: _records, ...summary } = status;
            out(
              JSON.stringify({
                ...summary,
                imagesPerSecond: progress.imagesPerSecond,
                etaSeconds: progress.etaSeconds,
              }),
            );
          } else if (live && !done) {
            io.stdout.write(`\r\x1b[2K${formatProgressBar(progress, io.stdout.columns)}`);
          } else {
            if (live) io.stdout.write('\r\x1b[2K');
            out(formatStatus(progress));
          }
          if (!watch || done) break;
          await new Promise((r) => setTimeout(r, interval));
        }
      });
    });

  program
    .command('cancel')
    .description('Stop a run: waiting chunks are removed and workers skip the rest.')
    .argument('<run>', 'run id')
    .action(async (runId: string) => {
      await connected(async (runs) => {
        const { removed } = await cancelRun(runId, runs);
        log({ type: 'cancelled', run: runId, removed }, `cancelled; removed ${removed} waiting chunks`);
        out(`cancelled run ${runId}; removed ${removed} waiting chunks`);
      });
    });

  retryFlags
    .addTo(
      program
        .command('retry-failed')
        .description(
          'Enqueue again the chunks of a run that failed, or whose images failed for network reasons.',
        )
        .argument('<run>', 'run id'),
    )
    .action(async (runId: string, _options: unknown, command: Command) => {
      const { reasons } = retryFlags.read(command, io.env);
      await connected(async (runs) => {
        const result = await retryFailed(runId, runs, reasons ? { reasons } : {});
        log(
          { type: 'retried', run: runId, chunks: result.chunks, images: result.images },
          `re-enqueued ${result.chunks} chunks (${result.images} images)`,
        );
        out(
          result.chunks === 0
            ? `run ${runId}: nothing to retry`
            : `run ${runId}: re-enqueued ${result.chunks} chunks (${result.images} images)`,
        );
      });
    });

  compactFlags
    .addTo(
      program
        .command('compact')
        .description(
          "Rewrite a finalised run's small shards into files of about --target-mb, then point _manifest.json at them in one write (version + 1). Readers of the old manifest keep reading the old shards, which stay unless --prune.",
        )
        .argument('<run>', 'run id'),
    )
    .action(async (runId: string, _options: unknown, command: Command) => {
      const { targetMb, prune } = compactFlags.read(command, io.env);
      await connected(async (runs) => {
        const tty = io.stderr.isTTY;
        const result = await compactRun(runId, runs, {
          targetBytes: targetMb * 1024 * 1024,
          prune,
          onProgress: ({ files, shards, totalShards }) => {
            if (tty) io.stderr.write(`\rwrote ${files} files from ${shards}/${totalShards} shards`);
          },
        });
        if (tty) io.stderr.write('\n');
        log(
          {
            type: 'compacted',
            run: runId,
            shards: result.shardsBefore,
            files: result.filesAfter,
            rows: result.rows,
          },
          `${result.shardsBefore} shards -> ${result.filesAfter} files`,
        );
        out(
          `run ${runId}: ${result.shardsBefore} shards -> ${result.filesAfter} files (${result.rows} rows); manifest v${result.version} at ${result.manifest}` +
            (prune ? `; deleted ${result.pruned} old shards` : ''),
        );
      });
    });

  reportFlags
    .addTo(
      program
        .command('report')
        .description(
          'Write one self-contained HTML page about a run: counts, throughput over time, error reasons with example URIs, thumbnails of the top labels, workers and model provenance. Reads the run from Redis and its outputs.',
        )
        .argument('<run>', 'run id'),
    )
    .action(async (runId: string, _options: unknown, command: Command) => {
      const file = path.resolve(reportFlags.read(command, io.env).out ?? `report-${runId}.html`);
      await connected(async (runs) => {
        const report = await collectRunReport(runId, { runStore: runs.runStore, s3: runs.s3 });
        await writeFile(file, renderRunReport(report));
        log({ type: 'reported', run: runId, file }, `report written to ${file}`);
        out(file);
      });
    });

  return program;
}
