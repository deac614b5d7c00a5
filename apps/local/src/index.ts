export { formatSummary, type LocalRunOptions, type LocalRunSummary, runLocal } from './local-run.js';
export {
  findRedisServer,
  freePort,
  RedisServerMissingError,
  RedisServerProcess,
} from './redis-server-process.js';
export { ensureSampleImages, type SampleImagesOptions } from './sample-images.js';
