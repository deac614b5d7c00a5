#!/usr/bin/env node
// Committed launcher, so npm links the bin at install time even before dist/ is built.
import('../dist/cli.js').catch((error) => {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('/dist/cli.js')) {
    console.error('vgg-model: not built yet; run "npm run build" (or "npx tsc -b") in the repository first.');
    process.exit(2);
  }
  throw error;
});
