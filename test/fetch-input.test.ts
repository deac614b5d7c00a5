import { createHash } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client, FetchError, type FetchInputOptions, fetchInput } from 'vgg-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestHttpServer } from './support/http-server.js';
import { createTestBucket, s3ClientForTests } from './support/s3.js';
import { uniqueName } from './support/unique-name.js';

const image = new Uint8Array(50_000).map((_, i) => (i * 31) & 0xff);
const imageSha = createHash('sha256').update(image).digest('hex');
let server: TestHttpServer;

function options(extra: Partial<FetchInputOptions> = {}): FetchInputOptions {
  return { s3: s3ClientForTests(), connectTimeoutMs: 2_000, readTimeoutMs: 2_000, ...extra };
}

async function failure(uri: string, extra: Partial<FetchInputOptions> = {}): Promise<FetchError> {
  const error = await fetchInput(uri, options(extra)).then(
    () => new Error('expected the fetch to fail'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FetchError);
  return error as FetchError;
}

beforeAll(async () => {
  server = await TestHttpServer.start();
  server.serveBytes('/image.jpg', image, 'image/jpeg');
  for (let i = 1; i <= 6; i++)
    server.redirect(`/hop${i}`, i === 1 ? '/image.jpg' : `/hop${i - 1}`, 301 + (i % 2));
  server.redirect('/loop', '/loop');
  server.redirect('/to-ftp', 'ftp://example.com/x.jpg');
  server.route('/chunked-big', (_request, response) => {
    response.writeHead(200, { 'content-type': 'image/jpeg' });
    const write = (left: number) => {
      if (left === 0 || response.destroyed) return response.end();
      response.write(new Uint8Array(16_384), () => write(left - 1));
    };
    write(64);
  });
  server.route('/lying-length', (_request, response) => {
    response.writeHead(200, { 'content-length': 10_000_000 });
    response.write(new Uint8Array(10));
  });
  server.route('/stall-body', (_request, response) => {
    response.writeHead(200, { 'content-type': 'image/jpeg' });
    response.write(new Uint8Array(1_000));
    // …and never another byte.
  });
  server.route('/stall-headers', () => {
    // Never answers.
  });
  server.route('/unavailable', (_request, response) => {
    response.writeHead(503).end('busy');
  });
  server.route('/teapot', (_request, response) => {
    response.writeHead(418).end();
  });
  server.route('/denied', (_request, response) => {
    response.writeHead(403).end();
  });
  server.route('/reset', (request) => {
    request.socket.destroy();
  });
});
afterAll(async () => {
  await server.close();
});

describe('fetchInput over HTTP', () => {
  it('downloads the bytes and hashes them', async () => {
    const fetched = await fetchInput(server.url('/image.jpg'), options());
    expect(fetched.bytes.length).toBe(image.length);
    expect(fetched.sha256).toBe(imageSha);
  });

  it('follows up to maxRedirects redirects, resolving relative Locations, and checks every hop', async () => {
    const checked: string[] = [];
    const fetched = await fetchInput(
      server.url('/hop5'),
      options({
        checkUrl: async (url) => {
          checked.push(url.pathname);
        },
      }),
    );
    expect(fetched.sha256).toBe(imageSha);
    expect(checked).toEqual(['/hop5', '/hop4', '/hop3', '/hop2', '/hop1', '/image.jpg']);
    const error = await failure(server.url('/hop6'));
    expect(error).toMatchObject({ reason: 'redirect_loop', transient: false });
    expect(await failure(server.url('/loop'))).toMatchObject({ reason: 'redirect_loop' });
    expect(await failure(server.url('/hop1'), { maxRedirects: 0 })).toMatchObject({
      reason: 'redirect_loop',
    });
    expect(await failure(server.url('/to-ftp'))).toMatchObject({ reason: 'invalid_uri' });
  });

  it('lets the address check refuse a redirect target', async () => {
    const error = await failure(server.url('/hop2'), {
      checkUrl: async (url) => {
        if (url.pathname === '/hop1') throw new Error('private address');
      },
    });
    expect(error).toMatchObject({ reason: 'forbidden', transient: false });
    expect(error.message).toMatch(/refused by address check: private address/);
  });

  it('refuses a declared Content-Length above maxBytes before reading the body', async () => {
    const error = await failure(server.url('/lying-length'), { maxBytes: 1_000_000 });
    expect(error).toMatchObject({ reason: 'too_large', transient: false });
    expect(error.message).toMatch(/10000000 bytes exceeds maxBytes 1000000/);
  });

  it('reserves the declared length before reading the body, and maxBytes without one', async () => {
    const reserved: number[] = [];
    const reserve = async (bytes: number) => {
      reserved.push(bytes);
    };
    await fetchInput(server.url('/image.jpg'), options({ reserve }));
    await fetchInput(server.url('/chunked-big'), options({ reserve, maxBytes: 2_000_000 }));
    expect(reserved).toEqual([image.length, 2_000_000]);
  });

  it('reads no body until the reservation resolves, and rejects with the signal reason if it aborts', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const pending = fetchInput(
      server.url('/image.jpg'),
      options({
        signal: controller.signal,
        reserve: () =>
          new Promise((_resolve, reject) =>
            controller.signal.addEventListener('abort', () => reject(controller.signal.reason)),
          ),
      }),
    );
    setTimeout(() => controller.abort(reason), 50);
    await expect(pending).rejects.toBe(reason);
    // The connection was given up, not left half-read: the next request still works.
    expect((await fetchInput(server.url('/image.jpg'), options())).sha256).toBe(imageSha);
  });

  it('enforces maxBytes while streaming a body without Content-Length', async () => {
    const ok = await fetchInput(server.url('/chunked-big'), options());
    expect(ok.bytes.length).toBe(64 * 16_384);
    const error = await failure(server.url('/chunked-big'), { maxBytes: 100_000 });
    expect(error).toMatchObject({ reason: 'too_large' });
  });

  it('times out when the body stalls for readTimeoutMs, as a transient failure', async () => {
    const started = performance.now();
    const error = await failure(server.url('/stall-body'), { readTimeoutMs: 300 });
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ reason: 'timeout', transient: true });
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('times out when response headers do not arrive within connectTimeoutMs', async () => {
    const started = performance.now();
    const error = await failure(server.url('/stall-headers'), { connectTimeoutMs: 300 });
    expect(error).toMatchObject({ reason: 'timeout', transient: true });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('maps HTTP statuses to reasons, with 5xx transient', async () => {
    expect(await failure(server.url('/missing.jpg'))).toMatchObject({
      reason: 'not_found',
      status: 404,
      transient: false,
    });
    expect(await failure(server.url('/denied'))).toMatchObject({ reason: 'forbidden', status: 403 });
    expect(await failure(server.url('/unavailable'))).toMatchObject({
      reason: 'http_error',
      status: 503,
      transient: true,
    });
    expect(await failure(server.url('/teapot'))).toMatchObject({ reason: 'http_error', transient: false });
  });

  it('reports resets and refused connections as transient network errors', async () => {
    expect(await failure(server.url('/reset'))).toMatchObject({ reason: 'network', transient: true });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await failure(`http://127.0.0.1:${port}/x.jpg`);
    expect(refused).toMatchObject({ reason: 'network', transient: true });
    expect(refused.message).toMatch(/ECONNREFUSED/);
  });

  it('never puts credentials or query strings in errors', async () => {
    const secretUrl = server.url('/missing.jpg?X-Amz-Signature=topsecret&X-Amz-Credential=AKIA');
    const error = await failure(secretUrl);
    expect(error.message).not.toMatch(/topsecret|AKIA/);
    expect(error.uri).toBe(server.url('/missing.jpg'));
    const withUser = await failure(server.url('/image.jpg').replace('http://', 'http://user:hunter2@'));
    expect(withUser).toMatchObject({ reason: 'invalid_uri' });
    expect(withUser.message).not.toMatch(/hunter2/);
  });

  it('aborts with the caller signal reason mid-request', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('worker stopping')), 100);
    const error = await fetchInput(
      server.url('/stall-headers'),
      options({ signal: controller.signal }),
    ).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(FetchError);
    expect((error as Error).message).toBe('worker stopping');
  });
});

describe('fetchInput over S3', () => {
  let bucket: string;
  beforeAll(async () => {
    bucket = await createTestBucket();
    await s3ClientForTests().send(
      new PutObjectCommand({ Bucket: bucket, Key: 'in/a.jpg', Body: Buffer.from(image) }),
    );
  });

  it('downloads objects and enforces maxBytes', async () => {
    const fetched = await fetchInput(`s3://${bucket}/in/a.jpg`, options());
    expect(fetched.sha256).toBe(imageSha);
    expect(await failure(`s3://${bucket}/in/a.jpg`, { maxBytes: 1_000 })).toMatchObject({
      reason: 'too_large',
    });
  });

  it("reserves the object's ContentLength before reading its body", async () => {
    const reserved: number[] = [];
    await fetchInput(
      `s3://${bucket}/in/a.jpg`,
      options({
        reserve: async (bytes) => {
          reserved.push(bytes);
        },
      }),
    );
    expect(reserved).toEqual([image.length]);
  });

  it('reports missing keys and buckets as not_found', async () => {
    expect(await failure(`s3://${bucket}/in/missing.jpg`)).toMatchObject({
      reason: 'not_found',
      transient: false,
    });
    expect(await failure(`s3://${uniqueName('nobucket')}/a.jpg`)).toMatchObject({ reason: 'not_found' });
  });

  it('times out a stalled S3 body and treats S3 5xx as transient', async () => {
    // A misbehaving S3 endpoint: path-style GETs of /bucket/stall send headers and 10 bytes, then nothing.
    const fake = await TestHttpServer.start({
      '/bucket/stall.jpg': (_request, response) => {
        response.writeHead(200, { 'content-length': 1_000, 'content-type': 'image/jpeg' });
        response.write(new Uint8Array(10));
      },
      '/bucket/busy.jpg': (_request, response) => {
        response.writeHead(503, { 'content-type': 'application/xml' });
        response.end('<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>');
      },
    });
    const client = createS3Client({
      endpoint: fake.origin,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    try {
      const started = performance.now();
      const stalled = await failure('s3://bucket/stall.jpg', { s3: client, readTimeoutMs: 300 });
      expect(stalled).toMatchObject({ reason: 'timeout', transient: true });
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(await failure('s3://bucket/busy.jpg', { s3: client })).toMatchObject({
        reason: 'http_error',
        status: 503,
        transient: true,
      });
    } finally {
      client.destroy();
      await fake.close();
    }
  });
});
