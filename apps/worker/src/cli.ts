import { Command } from 'commander';
import { type Env, FlagSet, type FlagTable, LOG_FLAGS, type Logger, type LogLevel } from 'vgg-cli-kit';
import { QUEUE_FLAGS } from 'vgg-pipeline';
import { WORKER_FLAGS, type WorkerEvent, type WorkerFlagValues } from 'vgg-chunk-worker';

const WORKER_LOG_FLAGS = {
  json: {
    kind: 'boolean',
    env: 'VGG_LOG_JSON',
    description: 'log JSON lines even on a terminal (they are the default elsewhere)',
  },
  ...LOG_FLAGS,
} as const satisfies FlagTable;

const LAUNCH_FLAGS = {
  gpus: {
    kind: 'string',
    valueName: 'all|0,1,...',
    env: 'VGG_GPUS',
    description:
      'start one worker process per GPU (each with its own CUDA_VISIBLE_DEVICES and --device cuda:0) and supervise them: all = every visible GPU',
  },
} as const satisfies FlagTable;

/** What `vgg-worker` was asked to do: where the queue is, the worker's tunables, and how to log. */
export interface WorkerCommand {
  redisUrl: string;
  queueName: string;
  prefix: string;
  tunables: WorkerFlagValues;
  json: boolean;
  logLevel?: LogLevel;
  /** --gpus: launch one worker per GPU instead of being one. */
  gpus: string | undefined;
}

/** `vgg-worker`; `onStart` receives the parsed command (the composition root starts the worker). */
export function workerProgram(env: Env, onStart: (command: WorkerCommand) => void): Command {
  const queueFlags = new FlagSet(QUEUE_FLAGS, { envPrefix: 'VGG_' });
  const workerFlags = new FlagSet(WORKER_FLAGS, { envPrefix: 'VGG_' });
  const logFlags = new FlagSet(WORKER_LOG_FLAGS);
  const launchFlags = new FlagSet(LAUNCH_FLAGS, { envPrefix: 'VGG_' });
  const program = new Command('vgg-worker')
    .description(
      'Pull chunk jobs from Redis, run VGG on their images in batches and write Parquet shards. Run one process per GPU (--device cuda:N, or --gpus all to start and supervise one per visible GPU); CPU workers are fine too. SIGTERM finishes or hands back in-flight chunks, then exits.',
    )
    .showHelpAfterError();
  for (const flags of [queueFlags, workerFlags, logFlags, launchFlags]) flags.addTo(program);
  return program.action((_options: unknown, command: Command) => {
    onStart({
      ...queueFlags.read(command, env),
      tunables: workerFlags.read(command, env),
      ...logFlags.read(command, env),
      gpus: launchFlags.read(command, env).gpus,
    });
  });
}

/** Events of main.ts itself, with their sentence. */
export type LifecycleEvent = { type: 'ready' | 'stopping'; text: string; [field: string]: unknown };

/**
 * Logs a worker event: its level, the fields `run` and `chunk` where it has them (the logger adds `worker`), and a
 * sentence for people.
 */
export function logEvent(logger: Logger, event: WorkerEvent | LifecycleEvent): void {
  switch (event.type) {
    case 'ready':
    case 'stopping': {
      const { text, ...fields } = event;
      logger.info(fields, text);
      return;
    }
    case 'chunk-done': {
      const { runId: run, chunkIndex: chunk, ...fields } = event;
      logger.info(
        { ...fields, run, chunk },
        `${event.ok}/${event.rows} ok in ${(event.ms / 1000).toFixed(1)}s`,
      );
      return;
    }
    case 'chunk-failed': {
      const { runId: run, chunkIndex: chunk, ...fields } = event;
      const text = `attempt ${event.attempt} failed${event.final ? ' (final; recorded as errors)' : ''}: ${event.message}`;
      logger[event.final ? 'error' : 'warn']({ ...fields, run, chunk }, text);
      return;
    }
    case 'model-loaded': {
      const { runId: run, ...fields } = event;
      logger.info(
        { ...fields, run },
        `model ${event.variant} loaded on ${event.provider} in ${(event.ms / 1000).toFixed(1)}s${event.untrained ? ' (UNTRAINED: seeded init)' : ''}`,
      );
      return;
    }
    case 'chunk-fenced': {
      const { runId: run, chunkIndex: chunk, ...fields } = event;
      logger.warn({ ...fields, run, chunk }, `not written: ${event.message}`);
      return;
    }
    case 'run-finalized': {
      const { runId: run, ...fields } = event;
      logger.info({ ...fields, run }, `run finalised: ${event.manifest}`);
      return;
    }
    case 'warning':
      logger.warn(event, event.message);
      return;
  }
}
