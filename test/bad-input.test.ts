import { readFile, readdir, writeFile, copyFile, mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { redactUri } from 'vgg-pipeline';
import { duckdbQuery, PipelineHarness } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

const fixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/images');
type Expect = Record<string, { outcome: 'ok' | 'error'; reasons?: string[] }>;

let server: Server;
let origin: string;
let harness: PipelineHarness;

beforeAll(async () => {
  const photo = await readFile(path.join(fixtures, '320x240.jpg'));
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x').pathname;
    if (url === '/photo.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end(photo);
    else if (url === '/forbidden.jpg') res.writeHead(403).end('no');
    else if (url === '/loop.jpg') res.writeHead(302, { location: '/loop.jpg' }).end();
    else if (url === '/stall.jpg') {
      // Headers, a few bytes, then nothing: an endless slow response.
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.write(photo.subarray(0, 100));
    } else if (url === '/huge.jpg') {
      // 8 MiB chunked, no Content-Length: the byte limit must cut it off while streaming.
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      const block = Buffer.alloc(64 * 1024, 0xff);
      let sent = 0;
      const pump = () => {
        while (sent < 128 && res.write(block)) sent++;
        if (sent >= 128) res.end();
        else res.once('drain', pump);
      };
      pump();
    } else res.writeHead(404).end('missing');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  harness = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
});

afterAll(async () => {
  await harness.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('bad input through the whole pipeline', () => {
  it('turns every corpus file and hostile input into exactly one row with its expected outcome', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vgg-bad-input-'));
    const expected = JSON.parse(await readFile(path.join(fixtures, 'expect.json'), 'utf8')) as Expect;
    for (const name of await readdir(fixtures)) {
      if (expected[name]) await copyFile(path.join(fixtures, name), path.join(dir, name));
    }
    await writeFile(path.join(dir, 'zero-bytes.jpg'), '');
    await writeFile(path.join(dir, 'readme-as.jpg'), 'plain text named like a JPEG\n');
    const generated: Expect = {
      'zero-bytes.jpg': { outcome: 'error', reasons: ['empty'] },
      'readme-as.jpg': { outcome: 'error', reasons: ['unsupported_format'] },
    };
    const http: Record<string, { outcome: 'ok' | 'error'; reasons?: string[] }> = {
      [`${origin}/photo.jpg`]: { outcome: 'ok' },
      [`${origin}/photo.jpg?X-Amz-Signature=SECRETSIG&v=1`]: { outcome: 'ok' },
      [`${origin}/forbidden.jpg`]: { outcome: 'error', reasons: ['forbidden'] },
      [`${origin}/missing.jpg`]: { outcome: 'error', reasons: ['not_found'] },
      [`${origin}/loop.jpg`]: { outcome: 'error', reasons: ['redirect_loop'] },
      [`${origin}/stall.jpg`]: { outcome: 'error', reasons: ['timeout'] },
      [`${origin}/huge.jpg`]: { outcome: 'error', reasons: ['too_large'] },
    };
    // Outputs carry URIs without their signatures.
    const httpOut = Object.fromEntries(Object.entries(http).map(([uri, spec]) => [redactUri(uri), spec]));

    await harness.startWorker({
      workerId: 'bad-input',
      allowCidrs: ['127.0.0.1/32'],
      readTimeoutMs: 1_000,
      connectTimeoutMs: 2_000,
      maxInputBytes: 4 * 1024 * 1024,
      fetchAttempts: 2,
    });
    // The directory source lists the corpus; the http URLs come from a manifest in the same run.
    const submitted = await harness.submit({
      sources: [dir, ...Object.keys(http)],
      out: path.join(dir, 'out'),
      runId: 'bad',
      chunkSize: 8,
    });
    const total = Object.keys(expected).length + Object.keys(generated).length + Object.keys(http).length;
    expect(submitted.totalInputs).toBe(total);
    const status = await harness.waitForRun('bad', 120_000);
    expect(status.rows).toBe(total);

    const rows = await duckdbQuery(
      `SELECT uri, status, error, len(top_k_labels) AS k FROM read_parquet('${path.join(dir, 'out', 'bad', 'shards', '*.parquet')}')`,
    );
    expect(rows).toHaveLength(total);
    expect(new Set(rows.map((r) => r.uri)).size).toBe(total);
    const want: Expect = { ...generated, ...expected };
    const mismatches: string[] = [];
    for (const row of rows) {
      const uri = String(row.uri);
      const key = uri.startsWith('http') ? uri : path.basename(uri);
      const spec = httpOut[uri] ?? want[key];
      if (!spec) {
        mismatches.push(`unexpected row ${uri}`);
        continue;
      }
      const ok =
        row.status === spec.outcome &&
        (spec.outcome === 'ok'
          ? row.error === null && row.k === '5'
          : spec.reasons?.includes(String(row.error)));
      if (!ok)
        mismatches.push(
          `${key}: got ${row.status}/${row.error}, want ${spec.outcome}/${spec.reasons?.join('|') ?? ''}`,
        );
    }
    expect(mismatches).toEqual([]);
    expect(JSON.stringify(rows)).not.toContain('SECRETSIG');
    expect(rows.map((r) => r.uri)).toContain(`${origin}/photo.jpg?v=1`);
  });
});
