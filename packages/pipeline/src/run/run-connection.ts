import type { S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type ChunkJobData, DEFAULT_KEY_PREFIX, DEFAULT_QUEUE_NAME } from '../queue/chunk-jobs.js';
import { createRedisConnection } from '../queue/redis-connection.js';
import { RunStore } from './run-store.js';

/** Options of {@link connectRuns}. */
export interface RunConnectionOptions {
  /** Redis URL (see createRedisConnection). Default `redis://127.0.0.1:6379`. */
  redisUrl?: string;
  /** BullMQ queue name. Default `vgg-chunks`. */
  queueName?: string;
  /** Redis key prefix of the queue and run state. Default `vgg`. */
  prefix?: string;
  /** Client for s3:// sources and outputs; a function is called only when needed. */
  s3: S3Client | (() => S3Client);
  /** Name shown in `CLIENT LIST`. Default none. */
  connectionName?: string;
}

/** What submitting and controlling runs needs: the chunk queue, the run state and S3. */
export interface RunConnection {
  redis: Redis;
  queue: Queue<ChunkJobData>;
  runStore: RunStore;
  s3: S3Client | (() => S3Client);
  /** Closes the queue and the Redis connection. */
  close(): Promise<void>;
}

/** Connects to the queue and run state of one prefix, for producers, vgg-local, tests and benchmarks. */
export function connectRuns(options: RunConnectionOptions): RunConnection {
  const prefix = options.prefix ?? DEFAULT_KEY_PREFIX;
  const redis = createRedisConnection({
    ...(options.redisUrl !== undefined ? { url: options.redisUrl } : {}),
    ...(options.connectionName !== undefined ? { connectionName: options.connectionName } : {}),
  });
  const queue = new Queue<ChunkJobData>(options.queueName ?? DEFAULT_QUEUE_NAME, {
    connection: redis,
    prefix,
  });
  // BullMQ prints unhandled 'error' events with the failing command, which for AUTH is the password; commands
  // reject with their own (safe) errors anyway.
  queue.on('error', () => undefined);
  return {
    redis,
    queue,
    runStore: new RunStore({ redis, prefix }),
    s3: options.s3,
    close: async () => {
      // A connection that is not ready (a wrong password, a server gone) has nothing to flush, and BullMQ's close()
      // and QUIT would wait for it to become ready, forever: it is dropped instead.
      if (redis.status !== 'ready') {
        redis.disconnect();
        await queue.close().catch(() => undefined);
        return;
      }
      await queue.close();
      await redis.quit().catch(() => undefined);
    },
  };
}
