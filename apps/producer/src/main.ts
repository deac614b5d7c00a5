#!/usr/bin/env node
// The producer's composition root: the only place that reads the process's environment or sets its exit status.
import { createLogger, type LogLevel, runCli } from 'vgg-cli-kit';
import { isRunUsageError, redactUri } from 'vgg-pipeline';
import { producerProgram } from './cli.js';

// At a terminal stdout already says what happened, so only warnings are logged unless --log-level asks for more;
// elsewhere (a Kubernetes Job, CI) every command leaves an info record, as JSON lines.
const tty = process.stderr.isTTY;
const logger = (level: LogLevel | undefined) =>
  createLogger({
    name: 'vgg-producer',
    stream: process.stderr,
    format: tty ? 'pretty' : 'json',
    level: level ?? (tty ? 'warn' : 'info'),
    redactUri,
  });
const io = { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, logger };
// Options that cannot work (checked at submit against vgg-core) and a run id resubmitted with other options or
// another listing are usage errors, like a bad flag: exit 2.
process.exitCode = await runCli(producerProgram(io), process.argv, {
  stderr: process.stderr,
  isUsage: isRunUsageError,
});
