import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRedisConnection } from 'vgg-pipeline';

export interface RedisServerProcessOptions {
  /** redis-server binary. Default: found on `searchPath` or in /usr/sbin, /usr/bin. */
  binary?: string;
  /** PATH-style list of directories to look for redis-server in. Default none (only the fixed directories). */
  searchPath?: string;
  /** Loopback port. Default: a free one. */
  port?: number;
  /** Seconds to wait for the server to answer PING. Default 10. */
  startTimeoutMs?: number;
}

export class RedisServerMissingError extends Error {
  readonly code = 'REDIS_SERVER_MISSING';
  constructor() {
    super(
      'redis-server was not found. Install it (Debian/Ubuntu: sudo apt-get install -y redis-server), or set REDIS_URL to use an existing Redis.',
    );
    this.name = 'RedisServerMissingError';
  }
}

/** A private redis-server on a free loopback port, with no persistence: for one local run. */
export class RedisServerProcess {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {}

  static async create(options: RedisServerProcessOptions = {}): Promise<RedisServerProcess> {
    const binary = options.binary ?? findRedisServer(options.searchPath);
    if (!binary) throw new RedisServerMissingError();
    const port = options.port ?? (await freePort());
    const dir = await mkdtemp(path.join(tmpdir(), 'vgg-redis-'));
    const child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        // Eviction would delete job locks and cause double processing.
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const url = `redis://127.0.0.1:${port}`;
    const server = new RedisServerProcess(url, child, dir);
    const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`redis-server exited with code ${child.exitCode} on port ${port}`);
      const redis = createRedisConnection({ url });
      redis.on('error', () => undefined);
      try {
        if ((await redis.ping()) === 'PONG') return server;
      } catch {
        // not up yet
      } finally {
        redis.disconnect();
      }
      if (Date.now() > deadline) {
        await server.close();
        throw new Error(
          `redis-server did not answer on ${url} within ${options.startTimeoutMs ?? 10_000} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function findRedisServer(searchPath = ''): string | null {
  const dirs = [...searchPath.split(path.delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, 'redis-server');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
