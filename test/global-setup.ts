/**
 * Starts the servers integration tests run against, once per `vitest run`:
 * - a private `redis-server` on a free loopback port (no persistence, `noeviction` as BullMQ requires);
 * - fauxqs, a real S3-compatible HTTP server, on a free loopback port.
 * Tests read `inject('redisUrl')` and `inject('s3Endpoint')`. Child processes started by tests inherit the
 * environment set here (AWS_* credentials, endpoint, REDIS_URL). Both servers stop in teardown, which vitest runs
 * even when tests fail; an exit hook kills redis if the runner dies first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp } from 'fauxqs';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `redis://127.0.0.1:<port>` of the private test Redis. */
    redisUrl: string;
    /** `http://127.0.0.1:<port>` of the fauxqs S3 server. */
    s3Endpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: (() => Promise<void>)[] = [];
  const teardown = async () => {
    for (const stop of stops.reverse()) await stop().catch((error) => console.error('teardown:', error));
  };
  try {
    const redis = await startRedis();
    stops.push(redis.stop);
    const s3 = await startS3();
    stops.push(s3.stop);

    project.provide('redisUrl', redis.url);
    project.provide('s3Endpoint', s3.endpoint);
    // For child processes (workers, producers) that tests spawn; library code never reads these.
    process.env.REDIS_URL = redis.url;
    process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
    process.env.S3_FORCE_PATH_STYLE = 'true';
    process.env.AWS_REGION = 'us-east-1';
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    return teardown;
  } catch (error) {
    await teardown();
    throw error;
  }
}

async function startRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vgg-test-redis-'));
  let lastError: unknown;
  // A free port found by binding :0 can be taken before redis binds it; retry with a fresh one.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      'redis-server',
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
        '--maxmemory-policy',
        'noeviction',
        '--protected-mode',
        'yes',
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output: string[] = [];
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    try {
      await waitForRedis(child, port);
      return {
        url: `redis://127.0.0.1:${port}`,
        stop: async () => {
          process.removeListener('exit', killOnExit);
          await stopChild(child);
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      process.removeListener('exit', killOnExit);
      await stopChild(child);
      if ((error as { code?: unknown }).code === 'ENOENT') {
        await rm(dir, { recursive: true, force: true });
        throw new Error(
          'redis-server is not installed: integration tests need Debian\'s redis-server on PATH. Install it with "apt-get install -y redis-server" (.ci/run does this).',
          { cause: error },
        );
      }
      lastError = new Error(`redis-server did not start on port ${port}: ${output.join('').trim()}`, {
        cause: error,
      });
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}

async function waitForRedis(child: ChildProcess, port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  let spawnError: unknown;
  child.once('error', (error) => {
    spawnError = error;
  });
  while (Date.now() < deadline) {
    if (spawnError !== undefined) throw spawnError;
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    if (await ping(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('redis-server did not answer PING within 10 s');
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(1_000, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.end();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(false));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function startS3(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  // buildApp rather than startFauxqs: the latter binds 0.0.0.0, and tests only need loopback.
  const app = buildApp({ logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('fauxqs did not report a TCP address');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    stop: async () => {
      await app.close();
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port'));
        else resolve(address.port);
      });
    });
  });
}
