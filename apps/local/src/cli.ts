import path from 'node:path';
import { Command } from 'commander';
import { type Env, FlagSet, type FlagTable, LOG_FLAGS, type Logger, type LogLevel } from 'vgg-cli-kit';
import { parseExecutionProvider } from 'vgg-core';
import { ensureSampleImages } from 'vgg-local-kit';
import { formatProgressBar, RUN_OPTIONS, s3ClientOptionsFromEnv } from 'vgg-pipeline';
import { formatSummary, runLocal } from './local-run.js';

const LOCAL_FLAGS = {
  workers: {
    kind: 'integer',
    min: 0,
    default: 1,
    env: 'VGG_LOCAL_WORKERS',
    description: 'worker processes to start here (0: use workers elsewhere)',
  },
  samples: {
    kind: 'integer',
    min: 1,
    default: 96,
    env: false,
    description: 'generated sample images when no source is given',
  },
  device: {
    kind: 'string',
    valueName: 'provider',
    parse: parseExecutionProvider,
    description: 'worker device: cpu, cuda[:N] or auto',
  },
  workerArgs: {
    kind: 'string',
    valueName: 'args',
    env: false,
    description: 'extra vgg-worker flags, space-separated',
  },
  redisUrl: {
    kind: 'string',
    valueName: 'url',
    env: 'REDIS_URL',
    description: 'use this Redis instead of a private one',
  },
  verbose: { kind: 'boolean', env: false, description: 'log every committed chunk' },
} as const satisfies FlagTable;

/** What vgg-local reads and writes besides its arguments. */
export interface LocalIo {
  env: Env;
  stdout: NodeJS.WriteStream;
  /** The repository checkout, for the sample images and the corpus of awkward real files. */
  repoRoot: string;
  /** The logger, at `--log-level` (the composition root picks the format and the stream). */
  logger: (level: LogLevel | undefined) => Logger;
}

/** `vgg-local`: a whole run on this machine. */
export function localProgram(io: LocalIo): Command {
  // One machine gains nothing from big chunks, and small ones make progress visible.
  const runFlags = new FlagSet(RUN_OPTIONS, { envPrefix: 'VGG_', defaults: { chunkSize: 16, out: './out' } });
  const localFlags = new FlagSet(LOCAL_FLAGS, { envPrefix: 'VGG_' });
  const logFlags = new FlagSet(LOG_FLAGS);
  const program = new Command('vgg-local')
    .description(
      'Run a whole VGG batch job on this machine: a private redis-server, worker processes, the producer, a progress bar and a summary. ' +
        "With no sources it labels a generated sample set plus the repository's corpus of awkward real images. " +
        'Set REDIS_URL and an s3:// --out to use shared infrastructure instead (distributed mode).',
    )
    .argument('[source...]', 'image sources, as for vgg-producer submit (default: sample images)')
    .showHelpAfterError();
  runFlags.addTo(program);
  localFlags.addTo(program);
  logFlags.addTo(program);
  return program.action(async (sources: string[], _options: unknown, command: Command) => {
    const run = runFlags.read(command, io.env);
    const local = localFlags.read(command, io.env);
    const logger = io.logger(logFlags.read(command, io.env).logLevel);
    const out = (line: string) => io.stdout.write(`${line}\n`);
    let inputs = sources;
    if (inputs.length === 0 && run.pairs === undefined) {
      const dir = path.join(io.repoRoot, '.vgg', 'samples');
      await ensureSampleImages({
        dir,
        count: local.samples,
        extraDir: path.join(io.repoRoot, 'packages', 'vgg-core', 'test-fixtures', 'images'),
      });
      inputs = [dir];
      out(`using sample images in ${dir}`);
    }
    const workerArgs = [
      ...(local.device ? ['--device', local.device] : []),
      ...(local.workerArgs ? local.workerArgs.split(/\s+/).filter(Boolean) : []),
    ];
    const tty = io.stdout.isTTY;
    let lastLine = 0;
    const summary = await runLocal({
      sources: inputs,
      run,
      workers: local.workers,
      workerArgs,
      ...(local.redisUrl ? { redisUrl: local.redisUrl } : {}),
      redisSearchPath: io.env.PATH ?? '',
      workerEnv: io.env,
      verbose: local.verbose,
      s3: s3ClientOptionsFromEnv(io.env),
      logger,
      onProgress: (progress) => {
        if (tty) io.stdout.write(`\r\x1b[2K${formatProgressBar(progress, io.stdout.columns)}`);
        else if (Date.now() - lastLine > 5_000) {
          lastLine = Date.now();
          out(formatProgressBar(progress));
        }
      },
    });
    if (tty) io.stdout.write('\r\x1b[2K');
    out(formatSummary(summary));
  });
}
