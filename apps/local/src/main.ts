#!/usr/bin/env node
// vgg-local's composition root: the only place that reads the environment or sets the exit status.
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createLogger, type LogLevel, runCli } from 'vgg-cli-kit';
import { isRunUsageError, redactUri } from 'vgg-pipeline';
import { localProgram } from './cli.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const tty = process.stdout.isTTY;
// Logs share stdout with the progress bar: on a terminal each record first clears the bar's line (the next update
// redraws it) and reads as a sentence; elsewhere records are JSON lines.
const logStream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    if (tty) process.stdout.write('\r\x1b[2K');
    process.stdout.write(chunk, () => done());
  },
});
const logger = (level: LogLevel | undefined) =>
  createLogger({
    name: 'vgg-local',
    stream: logStream,
    format: tty ? 'pretty' : 'json',
    ...(level ? { level } : {}),
    redactUri,
  });
process.exitCode = await runCli(
  localProgram({ env: process.env, stdout: process.stdout, repoRoot, logger }),
  process.argv,
  { stderr: process.stderr, isUsage: isRunUsageError },
);
