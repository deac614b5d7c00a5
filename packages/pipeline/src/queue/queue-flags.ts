import type { FlagTable } from 'vgg-cli-kit';
import { DEFAULT_KEY_PREFIX, DEFAULT_QUEUE_NAME } from './chunk-jobs.js';

/** Where the chunk queue and run state live: the flags every command that talks to Redis takes. */
export const QUEUE_FLAGS = {
  redisUrl: {
    kind: 'string',
    valueName: 'url',
    env: 'REDIS_URL',
    default: 'redis://127.0.0.1:6379',
    description: 'Redis (redis:// or rediss://, with auth)',
  },
  queueName: {
    kind: 'string',
    flag: 'queue',
    valueName: 'name',
    default: DEFAULT_QUEUE_NAME,
    description: 'BullMQ queue name',
  },
  prefix: {
    kind: 'string',
    valueName: 'prefix',
    default: DEFAULT_KEY_PREFIX,
    description: 'Redis key prefix; use a hash tag like {vgg} on Redis Cluster',
  },
} as const satisfies FlagTable;
