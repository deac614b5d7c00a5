import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { TestHttpServer } from './support/http-server.js';
import { duckdbQuery, PipelineHarness, readManifest } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

const fixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/images');

let harness: PipelineHarness | undefined;
let server: TestHttpServer | undefined;

afterEach(async () => {
  await harness?.close();
  await server?.close();
  harness = undefined;
  server = undefined;
});

describe('http politeness and identical bytes', () => {
  it('keeps to the per-host limit, waits out Retry-After, and infers identical bytes once', async () => {
    const same = await readFile(path.join(fixtures, '320x240.jpg'));
    const other = await readFile(path.join(fixtures, 'flowers.jpeg'));
    let active = 0;
    let peak = 0;
    const busyAt: number[] = [];
    server = await TestHttpServer.start();
    for (let i = 0; i < 6; i++) {
      server.route(`/img/${i}.jpg`, async (_request, response) => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((resolve) => setTimeout(resolve, 60));
        active--;
        response.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': same.length }).end(same);
      });
    }
    server.route('/busy.jpg', (_request, response) => {
      busyAt.push(Date.now());
      if (busyAt.length === 1) {
        response.writeHead(429, { 'retry-after': '1' }).end('slow down');
        return;
      }
      response.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': other.length }).end(other);
    });
    const dir = await mkdtemp(path.join(tmpdir(), 'vgg-polite-'));
    const list = path.join(dir, 'urls.txt');
    const urls = [
      server.url('/busy.jpg'),
      ...Array.from({ length: 6 }, (_, i) => server?.url(`/img/${i}.jpg`)),
    ];
    await writeFile(list, urls.join('\n'));

    harness = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    await harness.startWorker({ allowCidrs: ['127.0.0.1/32'], perHostConcurrency: 2, fetchConcurrency: 16 });
    const out = await mkdtemp(path.join(dir, 'out-'));
    await harness.submit({ sources: [list], out, runId: 'polite', chunkSize: 7 });
    await harness.waitForRun('polite');

    expect(peak).toBe(2);
    expect(busyAt).toHaveLength(2);
    expect((busyAt[1] as number) - (busyAt[0] as number)).toBeGreaterThanOrEqual(950);
    const rows = await duckdbQuery(
      `SELECT uri, status, sha256, top_k_probs::VARCHAR AS probs FROM read_parquet('${path.join(out, 'polite', 'shards', '*.parquet')}')`,
    );
    expect(rows.map((r) => r.status)).toEqual(Array(7).fill('ok'));
    const copies = rows.filter((r) => String(r.uri).includes('/img/'));
    expect(new Set(copies.map((r) => r.probs)).size).toBe(1);
    const manifest = (await readManifest(path.join(out, 'polite'))) as { totals: Record<string, number> };
    // Six copies of one image: inferred once, five rows reuse the result.
    expect(manifest.totals).toMatchObject({ rows: 7, ok: 7, duplicates: 5 });
  });
});
