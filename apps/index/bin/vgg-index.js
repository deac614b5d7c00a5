#!/usr/bin/env node
// Committed launcher, so npm links the bin at install time even before dist/ is built.
import('../dist/main.js').catch((error) => {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('/dist/main.js')) {
    console.error('vgg-index: not built yet; run "npm run build" (or "npx tsc -b") in the repository first.');
    process.exit(2);
  }
  throw error;
});
