import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureSampleImages, RedisServerProcess } from 'vgg-local-kit';
import { chunkJobId } from 'vgg-pipeline';
import { duckdbQuery, listFiles, PipelineHarness, readManifest } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';
import { WorkerProcess } from './support/worker-process.js';

// Slow: real worker processes stopped with SIGSTOP, and a private redis-server that is flushed mid-run.
const slow = process.env.VGG_SKIP_SLOW === '1';

let imagesDir: string;
let inputs: string[];
const workers: WorkerProcess[] = [];
const harnesses: PipelineHarness[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  imagesDir = await mkdtemp(path.join(tmpdir(), 'vgg-stale-images-'));
  await ensureSampleImages({ dir: imagesDir, count: 60 });
  inputs = (await listFiles(path.join(imagesDir, 'generated'))).map((f) =>
    path.join(imagesDir, 'generated', f),
  );
});

afterEach(async () => {
  for (const w of workers.splice(0)) {
    w.kill('SIGCONT');
    w.kill('SIGKILL');
  }
  for (const h of harnesses.splice(0)) await h.close().catch(() => undefined);
  for (const s of servers.splice(0)) s.close();
});

/** Serves the sample images over http, each after `delayMs`, so a chunk takes a while to fetch. */
async function slowImageServer(delayMs: number): Promise<string> {
  const server = createHttpServer((req, res) => {
    const file = path.join(imagesDir, 'generated', path.basename(req.url ?? ''));
    setTimeout(() => {
      readFile(file).then(
        (bytes) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(bytes),
        () => res.writeHead(404).end(),
      );
    }, delayMs);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe.skipIf(slow)('stale attempts (item 8)', () => {
  it('a worker stopped (SIGSTOP) past its lock and continued (SIGCONT) does not overwrite the chunk another worker committed', async () => {
    const h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    harnesses.push(h);
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-sigstop-'));
    const base = await slowImageServer(150);
    // Chunk 0: 24 slow images; chunk 1: one image whose job is taken away, so the run stays open (not finalised)
    // and only the lock fences the stale attempt.
    const manifest = path.join(out, 'urls.txt');
    await writeFile(
      manifest,
      inputs
        .slice(0, 25)
        .map((f) => `${base}/${path.basename(f)}`)
        .join('\n'),
    );
    await h.submit({ sources: [manifest], out, runId: 'sigstop', chunkSize: 24 });
    expect(await h.queue.remove(chunkJobId('sigstop', 1))).toBe(1);
    const start = (fetchConcurrency: number) => {
      const w = WorkerProcess.start({
        redisUrl: h.redisUrl,
        prefix: h.prefix,
        cacheDir: h.cacheDir,
        args: ['--fetch-concurrency', String(fetchConcurrency), '--allow-cidrs', '127.0.0.1/32'],
      });
      workers.push(w);
      return w;
    };
    const stale = start(1);
    await stale.waitForEvent('model-loaded');
    await new Promise((r) => setTimeout(r, 500));
    stale.kill('SIGSTOP');
    const stoppedAt = Date.now();
    // Its 4 s lock lapses; the other worker's stalled check hands the chunk over, and it commits it.
    const live = start(16);
    const done = await live.waitForEvent('chunk-done', 60_000);
    expect(done).toMatchObject({ run: 'sigstop', chunk: 0, rows: 24 });
    const shardFile = path.join(out, 'sigstop', 'shards', 'chunk-000000.parquet');
    const committed = { bytes: await readFile(shardFile), mtimeMs: (await stat(shardFile)).mtimeMs };
    expect((await h.runStore.getChunkRecords('sigstop'))[0]).toMatchObject({
      workerId: `${hostname()}:${live.child.pid}`,
    });
    console.info(`SIGSTOP: chunk taken over and committed ${Date.now() - stoppedAt} ms after the stop`);

    stale.kill('SIGCONT');
    // The stale attempt finishes its chunk: it either writes it (chunk-done) or is refused (chunk-fenced).
    const outcome = await Promise.any([stale.waitForEvent('chunk-fenced'), stale.waitForEvent('chunk-done')]);
    expect(outcome).toMatchObject({ type: 'chunk-fenced', run: 'sigstop', chunk: 0, refusal: 'lock-lost' });
    expect((await h.runStore.getChunkRecords('sigstop'))[0]).toMatchObject({
      workerId: `${hostname()}:${live.child.pid}`,
    });
    expect((await stat(shardFile)).mtimeMs).toBe(committed.mtimeMs);
    expect(Buffer.compare(await readFile(shardFile), committed.bytes)).toBe(0);

    // Resubmitting adds chunk 1 back; the run finalises with every input once.
    const again = await h.submit({ sources: [manifest], out, runId: 'sigstop', chunkSize: 24 });
    expect(again).toMatchObject({ enqueued: 1, skipped: 1 });
    const status = await h.waitForRun('sigstop', 60_000);
    expect(status.rows).toBe(25);
    const rows = await duckdbQuery(
      `SELECT count(*) AS n, count(DISTINCT uri) AS uris FROM read_parquet('${path.join(out, 'sigstop', 'shards', '*.parquet')}')`,
    );
    expect(rows).toEqual([{ n: '25', uris: '25' }]);
  });
});

describe.skipIf(slow)('Redis losing its data (item 16)', () => {
  let server: RedisServerProcess | undefined;
  afterAll(() => server?.kill());

  it('adopts the shards already written when the run is submitted again after FLUSHALL mid-run', async () => {
    server = await RedisServerProcess.create({ searchPath: process.env.PATH ?? '' });
    const h = await PipelineHarness.create(`redis://127.0.0.1:${server.port}`, s3ClientForTests());
    harnesses.push(h);
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-flushall-'));
    const source = path.join(imagesDir, 'generated');
    const first = await h.submit({ sources: [source], out, runId: 'flushed', chunkSize: 10 });
    expect(first).toMatchObject({ created: true, totalChunks: 6 });
    await h.startWorker({ chunkConcurrency: 1 });
    for (;;) {
      if ((await h.runStore.committedChunkIndexes('flushed')).size >= 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await h.redis.flushall();
    // Whatever the worker had in flight is fenced off (its run and its lock are gone): let it settle.
    await new Promise((r) => setTimeout(r, 500));
    const shardsDir = path.join(out, 'flushed', 'shards');
    const written = await listFiles(shardsDir);
    const mtimes = new Map(
      await Promise.all(
        written.map(async (f) => [f, (await stat(path.join(shardsDir, f))).mtimeMs] as const),
      ),
    );
    expect(written.length).toBeGreaterThanOrEqual(2);

    const again = await h.submit({ sources: [source], out, runId: 'flushed', chunkSize: 10 });
    expect(again.created).toBe(true);
    expect(again.skipped).toBeGreaterThanOrEqual(written.length);
    expect(again.enqueued).toBe(6 - again.skipped);
    console.info(
      `FLUSHALL: ${again.skipped} of 6 chunks adopted from their shards, ${again.enqueued} enqueued`,
    );
    const status = await h.waitForRun('flushed', 90_000);
    expect(status.rows).toBe(inputs.length);
    for (const [file, mtimeMs] of mtimes)
      expect((await stat(path.join(shardsDir, file))).mtimeMs, `${file} was adopted, not rewritten`).toBe(
        mtimeMs,
      );
    expect(status.records.filter((r) => r.provider === 'recovered')).toHaveLength(again.skipped);
    expect((await readManifest(path.join(out, 'flushed'))).totals).toMatchObject({ rows: inputs.length });
    const rows = await duckdbQuery(
      `SELECT count(*) AS n, count(DISTINCT uri) AS uris FROM read_parquet('${path.join(shardsDir, '*.parquet')}')`,
    );
    expect(rows).toEqual([{ n: String(inputs.length), uris: String(inputs.length) }]);
  });
});
