import { Redis, type RedisOptions } from 'ioredis';
import { invalidOption } from '../errors.js';
import { redactUri } from '../uri.js';

export interface RedisConnectionOptions {
  /**
   * `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. Default `redis://127.0.0.1:6379`.
   * Credentials in the URL are never logged: use {@link redactUri} for display.
   */
  url?: string;
  /**
   * Blocking connections (BullMQ workers) must retry forever: a worker whose command gives up after N retries
   * drops its job locks. Default false (commands fail fast, which suits the producer CLI).
   */
  blocking?: boolean;
  /** Name shown in `CLIENT LIST`, for operators. Default none. */
  connectionName?: string;
  /**
   * Receives connection errors (only the message is safe to show). Default: ignored, since commands fail with
   * their own errors and reconnects are automatic.
   */
  onError?: (message: string) => void;
}

/** Opens an ioredis connection with the options BullMQ requires. */
export function createRedisConnection(options: RedisConnectionOptions = {}): Redis {
  const url = options.url ?? 'redis://127.0.0.1:6379';
  let protocol: string | undefined;
  try {
    protocol = new URL(url).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw invalidOption('REDIS_URL', 'redis:// or rediss:// URL', redactUri(url));
  }
  const extra: RedisOptions = {
    maxRetriesPerRequest: options.blocking ? null : 3,
    enableReadyCheck: true,
    // Redis restarts are survivable: reconnect with capped backoff instead of giving up.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5_000),
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
  };
  // ioredis parses rediss:// into a TLS connection and user:password into AUTH.
  const redis = new Redis(url, extra);
  // Without a listener ioredis prints unhandled error events with the failing command's arguments, which for
  // AUTH is the password.
  redis.on('error', (error: Error) => options.onError?.(error.message));
  return redis;
}
