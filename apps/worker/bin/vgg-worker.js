#!/usr/bin/env node
// Committed launcher, so npm links the bin at install time even before dist/ is built.
import { availableParallelism } from 'node:os';

// sharp decodes on libuv's thread pool, one pool per process shared by every decode thread, and Node sizes it at 4
// unless told otherwise before its first use: on a 32-core GPU host that would cap decoding at 4 cores. So the pool
// gets a thread per core, plus 4 for file and DNS work, unless the environment already chose (set before any
// module runs, because the pool is sized once, on first use).
process.env.UV_THREADPOOL_SIZE ??= String(Math.min(1024, availableParallelism() + 4));

import('../dist/main.js').catch((error) => {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('/dist/main.js')) {
    console.error(
      'vgg-worker: not built yet; run "npm run build" (or "npx tsc -b") in the repository first.',
    );
    process.exit(2);
  }
  throw error;
});
