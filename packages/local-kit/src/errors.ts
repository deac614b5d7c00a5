/**
 * Errors of vgg-local-kit, each with a stable `code` that callers match on.
 * - `REDIS_SERVER_MISSING`: no redis-server binary was found.
 */
export class RedisServerMissingError extends Error {
  readonly code = 'REDIS_SERVER_MISSING' as const;
  constructor() {
    super(
      'redis-server was not found. Install it (Debian/Ubuntu: sudo apt-get install -y redis-server), or set REDIS_URL to use an existing Redis.',
    );
    this.name = 'RedisServerMissingError';
  }
}
