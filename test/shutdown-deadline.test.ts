// Issue 9 item 1: the SIGTERM deadline holds whatever Redis, S3 or the input hosts do. Each test freezes or stops
// a private redis-server and points the worker at a "black hole" (a TCP server that accepts and never answers) for
// its inputs or its S3 endpoint, then measures how long the real `vgg-worker` process takes to exit after SIGTERM.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureSampleImages, RedisServerProcess } from 'vgg-local-kit';
import { listFiles, PipelineHarness } from './support/pipeline-harness.js';
import { createTestBucket, s3ClientForTests } from './support/s3.js';
import { WorkerProcess } from './support/worker-process.js';

const slow = process.env.VGG_SKIP_SLOW === '1';
const DEADLINE_MS = 2_000;
/** What the process may take beyond the deadline: the forced close's budget plus process start/stop on a busy CI. */
const SLACK_MS = 3_000;

const cleanups: (() => Promise<void> | void)[] = [];
let images: string[];

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'vgg-deadline-images-'));
  await ensureSampleImages({ dir, count: 16 });
  images = (await listFiles(path.join(dir, 'generated'))).map((f) => path.join(dir, 'generated', f));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A TCP server that accepts connections and never answers: a hung host, as seen by a client. */
async function blackHole(): Promise<{ url: string }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function privateRedis(): Promise<RedisServerProcess> {
  const server = await RedisServerProcess.create({ searchPath: process.env.PATH ?? '' });
  cleanups.push(async () => {
    // A frozen server must run again to take SIGTERM.
    if (server.pid !== undefined) {
      try {
        process.kill(server.pid, 'SIGCONT');
      } catch {}
    }
    server.kill();
    await server.close();
  });
  return server;
}

async function harnessOn(redis: RedisServerProcess): Promise<PipelineHarness> {
  const h = await PipelineHarness.create(redis.url, s3ClientForTests());
  h.redis.on('error', () => undefined);
  // The harness's connections would wait for the dead Redis; drop them without a round trip.
  cleanups.push(() => {
    h.runs.redis.disconnect();
    h.queue.disconnect().catch(() => undefined);
  });
  return h;
}

function startWorker(h: PipelineHarness, env: Record<string, string> = {}): WorkerProcess {
  const worker = WorkerProcess.start({
    redisUrl: h.redisUrl,
    prefix: h.prefix,
    cacheDir: h.cacheDir,
    env: { VGG_LOCK_DURATION_MS: '60000', ...env },
    args: ['--allow-cidrs', '127.0.0.1/32', '--shutdown-timeout-ms', String(DEADLINE_MS)],
  });
  cleanups.push(() => worker.kill('SIGKILL'));
  return worker;
}

async function sigtermExit(worker: WorkerProcess): Promise<{ code: number | string; ms: number }> {
  const sentAt = Date.now();
  worker.kill('SIGTERM');
  // Never hang the suite: a worker still alive well past the bound is killed (and the test fails on its code).
  const timer = setTimeout(() => worker.kill('SIGKILL'), DEADLINE_MS + 60_000);
  const code = await worker.waitForExit();
  clearTimeout(timer);
  return { code, ms: Date.now() - sentAt };
}

describe.skipIf(slow)('the SIGTERM deadline holds whatever the servers do', () => {
  it('exits within the deadline when Redis is frozen (SIGSTOP) and the input host never answers', async () => {
    const redis = await privateRedis();
    const h = await harnessOn(redis);
    const hole = await blackHole();
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-deadline-'));
    const manifest = path.join(out, 'urls.txt');
    await writeFile(manifest, images.map((_, i) => `${hole.url}/img-${i}.jpg`).join('\n'));
    const worker = startWorker(h);
    await h.submit({ sources: [manifest], out, runId: 'frozen', chunkSize: 16 });
    await worker.waitForEvent('model-loaded');
    // Fetches are now hanging on the black hole; then Redis stops answering without closing its sockets.
    await new Promise((r) => setTimeout(r, 300));
    process.kill(redis.pid ?? -1, 'SIGSTOP');
    const { code, ms } = await sigtermExit(worker);
    console.info(
      `Redis frozen + input host hung: exited ${ms} ms after SIGTERM (deadline ${DEADLINE_MS} ms)`,
    );
    expect(code).toBe(0);
    expect(ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
  });

  it('exits within the deadline when Redis is down and S3 never answers', async () => {
    const redis = await privateRedis();
    const h = await harnessOn(redis);
    const hole = await blackHole();
    const bucket = await createTestBucket();
    // The producer writes to the real S3 server; the worker's S3 endpoint is the black hole.
    const worker = startWorker(h, { AWS_ENDPOINT_URL_S3: hole.url, S3_FORCE_PATH_STYLE: 'true' });
    await h.submit({ sources: images, out: `s3://${bucket}/runs`, runId: 's3hung', chunkSize: 16 });
    await worker.waitForEvent('model-loaded');
    // 16 small local images run in well under a second: the chunk is then writing its shard to the black hole.
    await new Promise((r) => setTimeout(r, 1_500));
    redis.kill();
    const { code, ms } = await sigtermExit(worker);
    console.info(`Redis down + S3 hung: exited ${ms} ms after SIGTERM (deadline ${DEADLINE_MS} ms)`);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
  });
});
