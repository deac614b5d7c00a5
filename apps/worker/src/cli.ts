import { Command } from 'commander';
import { type Env, FlagSet, type FlagTable } from 'vgg-cli-kit';
import { QUEUE_FLAGS } from 'vgg-pipeline';
import { WORKER_FLAGS, type WorkerEvent, type WorkerFlagValues } from 'vgg-chunk-worker';

const LOG_FLAGS = {
  json: { kind: 'boolean', env: 'VGG_LOG_JSON', description: 'log events as JSON lines' },
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
  /** --gpus: launch one worker per GPU instead of being one. */
  gpus: string | undefined;
}

/** `vgg-worker`; `onStart` receives the parsed command (the composition root starts the worker). */
export function workerProgram(env: Env, onStart: (command: WorkerCommand) => void): Command {
  const queueFlags = new FlagSet(QUEUE_FLAGS, { envPrefix: 'VGG_' });
  const workerFlags = new FlagSet(WORKER_FLAGS, { envPrefix: 'VGG_' });
  const logFlags = new FlagSet(LOG_FLAGS);
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
      json: logFlags.read(command, env).json,
      gpus: launchFlags.read(command, env).gpus,
    });
  });
}

/** One log line for an event: JSON with a timestamp, or a sentence for people. */
export function formatEvent(
  event: WorkerEvent | { type: string; text: string; [field: string]: unknown },
  json: boolean,
): string {
  const time = new Date().toISOString();
  if (json) {
    const { text: _text, ...fields } = event as Record<string, unknown>;
    return `${JSON.stringify({ time, ...fields })}\n`;
  }
  return `${time} ${describe(event)}\n`;
}

function describe(event: WorkerEvent | { type: string; text: string }): string {
  if ('text' in event) return event.text;
  switch (event.type) {
    case 'chunk-done':
      return `chunk ${event.runId}#${event.chunkIndex}: ${event.ok}/${event.rows} ok in ${(event.ms / 1000).toFixed(1)}s`;
    case 'chunk-failed':
      return `chunk ${event.runId}#${event.chunkIndex} attempt ${event.attempt} failed${event.final ? ' (final; recorded as errors)' : ''}: ${event.message}`;
    case 'model-loaded':
      return `model ${event.variant} loaded on ${event.provider} in ${(event.ms / 1000).toFixed(1)}s${event.untrained ? ' (UNTRAINED: seeded init)' : ''}`;
    case 'run-finalized':
      return `run ${event.runId} finalised: ${event.manifest}`;
    case 'warning':
      return `warning: ${event.message}`;
  }
}
