#!/usr/bin/env node
// vgg-index's composition root: the only place that reads the process's environment, handles signals or sets
// its exit status.
import { homedir } from 'node:os';
import path from 'node:path';
import { runCli } from 'vgg-cli-kit';
import { isIndexError } from 'vgg-index';
import { indexProgram } from './cli.js';

// Ctrl-C stops a build cleanly (what it wrote is removed); a second one exits at once.
const abort = new AbortController();
const stop = (reason: string) => () => {
  if (abort.signal.aborted) process.exit(130);
  abort.abort(new Error(`${reason}: stopped`));
};
process.on('SIGINT', stop('interrupted'));
process.on('SIGTERM', stop('terminated'));

const cacheHome = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
process.exitCode = await runCli(
  indexProgram({
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    cacheDir: path.join(cacheHome, 'vgg-index'),
    signal: abort.signal,
  }),
  process.argv,
  {
    stderr: process.stderr,
    // Options the library refuses are usage errors, like a bad flag: exit 2.
    isUsage: (error) => isIndexError(error, 'INDEX_OPTION_INVALID'),
  },
);
