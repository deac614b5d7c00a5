#!/usr/bin/env node
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import {
  addRunOptions,
  formatProgressBar,
  parsePositiveInt,
  type RunCliValues,
  runSpecFromCli,
} from 'vgg-producer';
import { s3ClientOptionsFromEnv } from 'vgg-pipeline';
import { formatSummary, runLocal } from './local-run.js';
import { ensureSampleImages } from 'vgg-local-kit';

interface LocalCliValues extends RunCliValues {
  out: string;
  run?: string;
  workers: number;
  samples: number;
  device?: string;
  workerArgs?: string;
  redisUrl?: string;
  verbose?: boolean;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const program = addRunOptions(
  new Command('vgg-local')
    .description(
      'Run a whole VGG batch job on this machine: a private redis-server, worker processes, the producer, a progress bar and a summary. ' +
        "With no sources it labels a generated sample set plus the repository's corpus of awkward real images. " +
        'Set REDIS_URL and an s3:// --out to use shared infrastructure instead (distributed mode).',
    )
    .argument('[source...]', 'image sources, as for vgg-producer submit (default: sample images)')
    .addOption(
      new Option('--out <uri>', 'local directory or s3://bucket/prefix').env('VGG_OUT').default('./out'),
    )
    .option('--run <id>', 'run id; reuse it to resume')
    .addOption(
      new Option('--workers <n>', 'worker processes to start here (0: use workers elsewhere)')
        .env('VGG_LOCAL_WORKERS')
        .argParser((v) => (v === '0' ? 0 : parsePositiveInt(v)))
        .default(1),
    )
    .addOption(
      new Option('--samples <n>', 'generated sample images when no source is given')
        .argParser(parsePositiveInt)
        .default(96),
    )
    .addOption(new Option('--device <provider>', 'worker device: cpu, cuda[:N] or auto').env('VGG_DEVICE'))
    .addOption(new Option('--worker-args <args>', 'extra vgg-worker flags, space-separated'))
    .addOption(new Option('--redis-url <url>', 'use this Redis instead of a private one').env('REDIS_URL'))
    .option('--verbose', 'log every committed chunk')
    .showHelpAfterError(),
).action(async (sources: string[], values: LocalCliValues, command: Command) => {
  // One machine gains nothing from big chunks, and small ones make progress visible; keep an explicit choice.
  const chunkSize = command.getOptionValueSource('chunkSize') === 'default' ? 16 : values.chunkSize;
  const spec = runSpecFromCli({ ...values, chunkSize });
  let inputs = sources;
  if (inputs.length === 0) {
    const dir = path.join(repoRoot, '.vgg', 'samples');
    await ensureSampleImages({
      dir,
      count: values.samples,
      extraDir: path.join(repoRoot, 'packages', 'vgg-core', 'test-fixtures', 'images'),
    });
    inputs = [dir];
    console.log(`using sample images in ${dir}`);
  }
  const workerArgs = [
    ...(values.device ? ['--device', values.device] : []),
    ...(values.workerArgs ? values.workerArgs.split(/\s+/).filter(Boolean) : []),
  ];
  const tty = process.stdout.isTTY;
  let lastLine = 0;
  const summary = await runLocal({
    sources: inputs,
    out: values.out,
    ...(values.run ? { runId: values.run } : {}),
    spec,
    workers: values.workers,
    workerArgs,
    ...(values.redisUrl ? { redisUrl: values.redisUrl } : {}),
    redisSearchPath: process.env.PATH ?? '',
    workerEnv: process.env,
    verbose: Boolean(values.verbose),
    s3: s3ClientOptionsFromEnv(process.env),
    log: (line) => {
      if (tty) process.stdout.write('\r\x1b[2K');
      console.log(line);
    },
    onProgress: (progress) => {
      if (tty) process.stdout.write(`\r\x1b[2K${formatProgressBar(progress, process.stdout.columns)}`);
      else if (Date.now() - lastLine > 5_000) {
        lastLine = Date.now();
        console.log(formatProgressBar(progress));
      }
    },
  });
  if (tty) process.stdout.write('\r\x1b[2K');
  console.log(formatSummary(summary));
});

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`\nvgg-local: ${(error as Error).message}`);
  process.exit(1);
});
