import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRedisConnection } from 'vgg-pipeline';
import { RedisServerMissingError } from './errors.js';

export interface RedisServerProcessOptions {
  /** redis-server binary. Default: found on `searchPath` or in /usr/sbin, /usr/bin, /usr/local/bin. */
  binary?: string;
  /** PATH-style list of directories to look for redis-server in. Default none (only the fixed directories). */
  searchPath?: string;
  /** Loopback port. Default: a free one (retried if another process takes it first). */
  port?: number;
  /** Data directory. Default: a new temporary directory, removed by close(). A given one is kept. */
  dir?: string;
  /** Append-only file with `appendfsync everysec`, so a restart keeps the data. Default false (no persistence). */
  appendOnly?: boolean;
  /** Milliseconds to wait for the server to answer PING. Default 10 000. */
  startTimeoutMs?: number;
}

/** A private redis-server on loopback, for one local run or a test suite. */
export class RedisServerProcess {
  private constructor(
    readonly url: string,
    readonly port: number,
    readonly dir: string,
    private readonly child: ChildProcess,
    private readonly ownsDir: boolean,
  ) {}

  static async create(options: RedisServerProcessOptions = {}): Promise<RedisServerProcess> {
    const binary = options.binary ?? findRedisServer(options.searchPath);
    if (!binary) throw new RedisServerMissingError();
    const ownsDir = options.dir === undefined;
    const dir = options.dir ?? (await mkdtemp(path.join(tmpdir(), 'vgg-redis-')));
    let lastError: unknown;
    // A free port found by binding :0 can be taken before redis binds it: retry with a fresh one.
    for (let attempt = 0; attempt < (options.port === undefined ? 3 : 1); attempt++) {
      const port = options.port ?? (await freePort());
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
          ...(options.appendOnly
            ? ['--appendonly', 'yes', '--appendfsync', 'everysec']
            : ['--appendonly', 'no']),
          // Eviction would delete job locks and cause double processing.
          '--maxmemory-policy',
          'noeviction',
          '--loglevel',
          'warning',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const output: string[] = [];
      child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
      child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
      const server = new RedisServerProcess(`redis://127.0.0.1:${port}`, port, dir, child, ownsDir);
      try {
        await server.waitUntilReady(options.startTimeoutMs ?? 10_000);
        return server;
      } catch (error) {
        await server.stop();
        lastError = new Error(
          `redis-server did not start on port ${port}: ${output.join('').trim() || (error as Error).message}`,
          {
            cause: error,
          },
        );
      }
    }
    if (ownsDir) await rm(dir, { recursive: true, force: true });
    throw lastError;
  }

  /** The server's process id (tests freeze it with SIGSTOP to make Redis unreachable without closing sockets). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Kills the server at once (for exit hooks and crash tests). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  /** Stops the server (SIGTERM, so an append-only file is written), keeping its directory. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.kill(), 5_000);
    await exited;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.stop();
    if (this.ownsDir) await rm(this.dir, { recursive: true, force: true });
  }

  private async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const redis = createRedisConnection({ url: this.url });
    try {
      for (;;) {
        if (this.child.exitCode !== null)
          throw new Error(`redis-server exited with code ${this.child.exitCode}`);
        if ((await redis.ping().catch(() => null)) === 'PONG') return;
        if (Date.now() > deadline) throw new Error(`no answer within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      redis.disconnect();
    }
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
