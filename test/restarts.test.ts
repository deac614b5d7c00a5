import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureSampleImages, RedisServerProcess } from 'vgg-local-kit';
import { duckdbQuery, listFiles, PipelineHarness } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';
import { WorkerProcess } from './support/worker-process.js';

const slow = process.env.VGG_SKIP_SLOW === '1';

let imagesDir: string;
let inputs: string[];
const workers: WorkerProcess[] = [];
const harnesses: PipelineHarness[] = [];

beforeAll(async () => {
  imagesDir = await mkdtemp(path.join(tmpdir(), 'vgg-restart-images-'));
  await ensureSampleImages({ dir: imagesDir, count: 160 });
  inputs = (await listFiles(path.join(imagesDir, 'generated'))).map((f) =>
    path.join(imagesDir, 'generated', f),
  );
});

afterEach(async () => {
  for (const w of workers.splice(0)) w.kill('SIGKILL');
  for (const h of harnesses.splice(0)) await h.close().catch(() => undefined);
});

async function expectExactlyOnce(runDir: string): Promise<void> {
  const rows = await duckdbQuery(
    `SELECT uri FROM read_parquet('${path.join(runDir, 'shards', '*.parquet')}')`,
  );
  const uris = rows.map((r) => String(r.uri));
  expect(uris.length).toBe(inputs.length);
  expect([...new Set(uris)].sort()).toEqual([...inputs].sort());
}

describe.skipIf(slow)('graceful stops', () => {
  it('hands an in-flight chunk back on SIGTERM within the deadline, not after the lock timeout', async () => {
    const h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    harnesses.push(h);
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-sigterm-'));
    // One slow chunk: images served over http with a delay, one at a time, a long lock, a short shutdown deadline.
    const server = createHttpServer((req, res) => {
      const file = path.join(imagesDir, 'generated', path.basename(req.url ?? ''));
      setTimeout(() => {
        readFile(file).then(
          (bytes) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(bytes),
          () => res.writeHead(404).end(),
        );
      }, 100);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const manifest = path.join(out, 'urls.txt');
    await writeFile(manifest, inputs.map((f) => `http://127.0.0.1:${port}/${path.basename(f)}`).join('\n'));
    const start = (extra: string[]) => {
      const w = WorkerProcess.start({
        redisUrl: h.redisUrl,
        prefix: h.prefix,
        cacheDir: h.cacheDir,
        env: { VGG_LOCK_DURATION_MS: '60000' },
        args: ['--fetch-concurrency', '1', '--allow-cidrs', '127.0.0.1/32', ...extra],
      });
      workers.push(w);
      return w;
    };
    const first = start(['--shutdown-timeout-ms', '1000']);
    await h.submit({ sources: [manifest], out, runId: 'sigterm', chunkSize: 160 });
    await first.waitForEvent('model-loaded');
    await new Promise((r) => setTimeout(r, 500));
    const sentAt = Date.now();
    first.kill('SIGTERM');
    expect(await first.waitForExit()).toBe(0);
    const exitedMs = Date.now() - sentAt;
    console.info(
      `SIGTERM handover: chunk back in the queue and worker exited ${exitedMs} ms after SIGTERM (lock 60000 ms)`,
    );
    const counts = await h.queue.getJobCounts('wait', 'active', 'completed');
    // Handed back: waiting again at once, with no lock left to expire (lockDuration is 60 s).
    expect(counts).toMatchObject({ wait: 1, active: 0 });
    expect(exitedMs).toBeLessThan(8_000);

    start(['--fetch-concurrency', '16']);
    const status = await h.waitForRun('sigterm', 120_000);
    server.close();
    expect(status).toMatchObject({ rows: inputs.length, ok: inputs.length });
    const rows = await duckdbQuery(
      `SELECT count(DISTINCT uri) AS n FROM read_parquet('${path.join(out, 'sigterm', 'shards', '*.parquet')}')`,
    );
    expect(rows).toEqual([{ n: String(inputs.length) }]);
  });
});

describe.skipIf(slow)('Redis restarts', () => {
  let cleanup: (() => void) | undefined;
  afterAll(() => cleanup?.());

  it('finishes a run with every input exactly once when redis-server restarts mid-run (AOF everysec)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vgg-aof-'));
    let server = await RedisServerProcess.create({
      dir,
      appendOnly: true,
      searchPath: process.env.PATH ?? '',
    });
    cleanup = () => server.kill();
    const { port } = server;
    const url = `redis://127.0.0.1:${port}`;
    const h = await PipelineHarness.create(url, s3ClientForTests());
    harnesses.push(h);
    h.redis.on('error', () => undefined);
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-redis-restart-'));
    for (let i = 0; i < 2; i++) {
      workers.push(
        WorkerProcess.start({
          redisUrl: url,
          prefix: h.prefix,
          cacheDir: h.cacheDir,
          args: ['--chunk-concurrency', '1'],
        }),
      );
    }
    await h.submit({ sources: [path.join(imagesDir, 'generated')], out, runId: 'restart', chunkSize: 10 });
    await workers[0]!.waitForEvent('chunk-done');
    // SIGTERM lets Redis write its AOF, as a service manager's restart does.
    await server.stop();
    await new Promise((r) => setTimeout(r, 1_000));
    server = await RedisServerProcess.create({
      dir,
      port,
      appendOnly: true,
      searchPath: process.env.PATH ?? '',
    });
    const status = await h.waitForRun('restart', 180_000);
    expect(status.rows).toBe(inputs.length);
    await expectExactlyOnce(path.join(out, 'restart'));
  });
});
