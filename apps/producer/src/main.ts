#!/usr/bin/env node
// The producer's composition root: the only place that reads the process's environment or sets its exit status.
import { runCli } from 'vgg-cli-kit';
import { isPipelineError } from 'vgg-pipeline';
import { producerProgram } from './cli.js';

const io = { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
// Options that cannot work (checked at submit against vgg-core) are usage errors, like a bad flag: exit 2.
process.exitCode = await runCli(producerProgram(io), process.argv, {
  stderr: process.stderr,
  isUsage: (error) => isPipelineError(error, 'RUN_INVALID'),
});
