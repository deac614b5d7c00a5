import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { retryFailed } from 'vgg-pipeline';
import { TestHttpServer } from './support/http-server.js';
import { duckdbQuery, PipelineHarness } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

const fixture = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/images/320x240.jpg');

let h: PipelineHarness;
let dir: string;
let server: TestHttpServer;
let down = true;

beforeAll(async () => {
  h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
  dir = await mkdtemp(path.join(tmpdir(), 'vgg-redaction-'));
  const jpeg = await readFile(fixture);
  // A presigned-URL host: 503 while down; then the image, but only with the right signature.
  server = await TestHttpServer.start();
  for (const name of ['/a.jpg', '/b.jpg', '/c.jpg']) {
    server.route(name, (request, response) => {
      const query = new URL(request.url ?? '/', 'http://x').searchParams;
      if (down) response.writeHead(503).end('busy');
      else if (query.get('X-Amz-Signature') !== 'GOODSIG') response.writeHead(403).end('bad signature');
      else response.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
    });
  }
});
afterAll(async () => {
  await h.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('presigned inputs', () => {
  it('are stored redacted (built-in list plus --redact-params), and retry-failed fetches them with their signatures', async () => {
    const uris = ['a', 'b', 'c'].map(
      (name) =>
        `${server.origin}/${name}.jpg?X-Amz-Signature=GOODSIG&api-key=APIKEY&session_hint=HINT&jwt=JWT&v=1`,
    );
    await h.startWorker({ workerId: 'redaction', allowCidrs: ['127.0.0.1/32'], fetchAttempts: 1 });
    const out = path.join(dir, 'out');
    await h.submit({ sources: uris, out, runId: 'presigned', chunkSize: 2, redactParams: ['Session_Hint'] });
    const first = await h.waitForRun('presigned', 60_000);
    expect(first).toMatchObject({ rows: 3, ok: 0, error: 3 });

    const shards = path.join(out, 'presigned', 'shards', '*.parquet');
    const failed = await duckdbQuery(`SELECT uri, error FROM read_parquet('${shards}') ORDER BY uri`);
    expect(failed.map((r) => r.error)).toEqual(['http_error', 'http_error', 'http_error']);
    expect(failed.map((r) => r.uri)).toEqual(['a', 'b', 'c'].map((n) => `${server.origin}/${n}.jpg?v=1`));
    expect(JSON.stringify(failed)).not.toMatch(/GOODSIG|APIKEY|HINT|JWT/);

    down = false;
    const retried = await retryFailed('presigned', { queue: h.queue, runStore: h.runStore, s3: h.s3 });
    expect(retried).toEqual({ chunks: 2, images: 3 });
    const second = await h.waitForRun('presigned', 60_000);
    expect(second).toMatchObject({ rows: 3, ok: 3, error: 0 });
    const rows = await duckdbQuery(`SELECT uri, status FROM read_parquet('${shards}') ORDER BY uri`);
    expect(rows.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    expect(JSON.stringify(rows)).not.toMatch(/GOODSIG|APIKEY|HINT|JWT/);
    // Once the run finalises clean, the originals are gone from Redis.
    expect((await h.runStore.chunkInputs('presigned', [0, 1])).size).toBe(0);
  });
});
