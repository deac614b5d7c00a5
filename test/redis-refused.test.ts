// Credentials Redis refuses are a configuration error no reconnect fixes: the worker does not start and the producer
// does not wait, both say what to fix. (A Redis that is down or restarting is waited for: see the crash suites.)
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServerProcess } from 'vgg-local-kit';

const workerBin = path.resolve(import.meta.dirname, '../apps/worker/bin/vgg-worker.js');
const fixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/images');
const producerBin = path.resolve(import.meta.dirname, '../apps/producer/bin/vgg-producer.js');
let server: RedisServerProcess;

beforeAll(async () => {
  server = await RedisServerProcess.create();
  const admin = new Redis(server.url);
  await admin.config('SET', 'requirepass', 'right-password');
  admin.disconnect();
});
afterAll(async () => {
  await server?.close();
});

/** Runs a bin with REDIS_URL; kills it after `limitMs` (exit code null then). */
function run(bin: string, args: string[], redisUrl: string, limitMs = 20_000) {
  return new Promise<{ code: number | null; stderr: string; ms: number }>((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [bin, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH ?? '', REDIS_URL: redisUrl, VGG_METRICS_PORT: '0' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: performance.now() - started });
    });
  });
}

describe('refused Redis credentials', () => {
  it('stop a worker at start with a message naming the Redis URL, never reconnecting forever', async () => {
    const wrong = server.url.replace('redis://', 'redis://:wrong-password@');
    const { code, stderr } = await run(workerBin, [], wrong);
    expect(code, stderr).toBe(1);
    expect(stderr).toContain('Redis refused this worker (WRONGPASS');
    expect(stderr).toContain('REDIS_URL');
    expect(stderr).not.toContain('wrong-password');
  });

  it('make vgg-producer submit fail at once instead of hanging in its clean-up', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vgg-refused-'));
    await copyFile(path.join(fixtures, '320x240.jpg'), path.join(dir, 'a.jpg'));
    const { code, stderr } = await run(
      producerBin,
      ['submit', dir, '--out', path.join(dir, 'out')],
      server.url,
    );
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/NOAUTH/);
  });
});
