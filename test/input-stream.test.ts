import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { listSource, streamInput } from 'vgg-pipeline';
import { TestHttpServer } from './support/http-server.js';
import { s3ClientForTests } from './support/s3.js';

let server: TestHttpServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

describe('streamInput over http', () => {
  it('waits out a 429 Retry-After, then resumes a body cut mid-stream with a Range request', async () => {
    const body = randomBytes(300_000);
    const ranges: (string | undefined)[] = [];
    let calls = 0;
    server = await TestHttpServer.start({
      '/shard.tar': (request, response) => {
        calls++;
        ranges.push(request.headers.range);
        if (calls === 1) {
          response.writeHead(429, { 'retry-after': '1' }).end();
          return;
        }
        const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
        if (range) {
          const start = Number(range[1]);
          response
            .writeHead(206, {
              'content-length': body.length - start,
              'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
            })
            .end(body.subarray(start));
          return;
        }
        // The first full answer breaks off after 100 KB.
        response.writeHead(200, { 'content-length': body.length });
        response.write(body.subarray(0, 100_000), () => response.destroy());
      },
    });
    const waits: number[] = [];
    const received = await collect(
      streamInput(server.url('/shard.tar'), {
        s3: s3ClientForTests(),
        attempts: 4,
        backoff: async (_attempt, error) => {
          waits.push(error.retryAfterMs ?? -1);
        },
      }),
    );
    expect(received.equals(body)).toBe(true);
    expect(waits[0]).toBe(1000);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toBeUndefined();
    expect(ranges[2]).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(ranges[2] ?? '')?.[0])).toBeGreaterThan(0);
  });

  it('fails with not_found for a missing shard, without retrying', async () => {
    server = await TestHttpServer.start();
    await expect(
      collect(streamInput(server.url('/none.tar'), { s3: s3ClientForTests() })),
    ).rejects.toMatchObject({
      code: 'FETCH_FAILED',
      reason: 'not_found',
    });
    expect(server.requests).toHaveLength(1);
  });
});

describe('manifests over http', () => {
  it('stream a JSON lines manifest from a URL, resolving relative entries against it', async () => {
    server = await TestHttpServer.start();
    server.serveBytes(
      '/sets/v1/list.jsonl',
      Buffer.from('{"url":"img/a.jpg","c":1}\n{"url":"https://x.example/b.png"}\n'),
    );
    const entries = [];
    for await (const entry of listSource(
      server.url('/sets/v1/list.jsonl'),
      { s3: s3ClientForTests() },
      { keepCols: ['c'] },
    ))
      entries.push(entry);
    expect(entries).toEqual([
      { kind: 'image', uri: server.url('/sets/v1/img/a.jpg'), key: null, cols: { c: '1' } },
      { kind: 'image', uri: 'https://x.example/b.png', key: null, cols: { c: null } },
    ]);
  });
});
