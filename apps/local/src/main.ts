#!/usr/bin/env node
// vgg-local's composition root: the only place that reads the environment or sets the exit status.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from 'vgg-cli-kit';
import { isPipelineError } from 'vgg-pipeline';
import { localProgram } from './cli.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
process.exitCode = await runCli(
  localProgram({ env: process.env, stdout: process.stdout, repoRoot }),
  process.argv,
  { stderr: process.stderr, isUsage: (error) => isPipelineError(error, 'RUN_INVALID') },
);
