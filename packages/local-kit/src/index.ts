// Public API of vgg-local-kit: what a run on one machine (vgg-local, the test suite, the benchmark) starts.
export { RedisServerMissingError } from './errors.js';
export { findRedisServer, freePort, RedisServerProcess } from './redis-server-process.js';
export type { RedisServerProcessOptions } from './redis-server-process.js';
export { ensureSampleImages } from './sample-images.js';
export type { SampleImagesOptions } from './sample-images.js';
