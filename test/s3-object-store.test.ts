import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client, openObjectStore, parseLocation, S3ObjectStore, StorageError } from 'vgg-pipeline';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestBucket, s3ClientForTests } from './support/s3.js';
import { uniqueName } from './support/unique-name.js';

let bucket: string;

beforeAll(async () => {
  bucket = await createTestBucket();
});

async function collect(iterable: AsyncIterable<{ key: string; size: number }>) {
  const out: { key: string; size: number }[] = [];
  for await (const entry of iterable) out.push(entry);
  return out;
}

describe('S3ObjectStore against a real S3 server', () => {
  it('puts, gets, checks and deletes objects under its prefix', async () => {
    const store = openObjectStore(parseLocation(`s3://${bucket}/runs/r1/`), { s3: s3ClientForTests() });
    await store.put('shards/a.parquet', new Uint8Array([1, 2, 3]), {
      contentType: 'application/vnd.apache.parquet',
    });
    expect([...(await store.get('shards/a.parquet'))]).toEqual([1, 2, 3]);
    expect(await store.exists('shards/a.parquet')).toBe(true);
    expect(await store.exists('shards/b.parquet')).toBe(false);
    expect(store.describe('shards/a.parquet')).toBe(`s3://${bucket}/runs/r1/shards/a.parquet`);
    await store.delete('shards/a.parquet');
    await store.delete('shards/a.parquet');
    expect(await store.exists('shards/a.parquet')).toBe(false);
  });

  it('lists past 1,000 keys by following continuation tokens, in key order, relative to the prefix', async () => {
    const s3 = s3ClientForTests();
    const store = new S3ObjectStore({ client: s3, bucket, prefix: 'many/' });
    const keys = Array.from({ length: 1_050 }, (_, i) => `part-${String(i).padStart(5, '0')}`);
    const started = performance.now();
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((key) => store.put(key, new Uint8Array(2))));
    }
    const putMs = performance.now() - started;
    // A sibling prefix that must not leak into the listing.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'many-other/x', Body: Buffer.from('x') }));
    const listStarted = performance.now();
    const listed = await collect(store.list(''));
    console.log(
      `S3 put 1050 objects in ${Math.round(putMs)} ms; listed them in ${Math.round(performance.now() - listStarted)} ms`,
    );
    expect(listed.map((e) => e.key)).toEqual(keys);
    expect(listed.every((e) => e.size === 2)).toBe(true);
    expect((await collect(store.list('part-0104'))).map((e) => e.key)).toEqual(
      Array.from({ length: 10 }, (_, i) => `part-0104${i}`),
    );
  });

  it('round-trips a body above the multipart threshold through a multipart upload', async () => {
    const store = new S3ObjectStore({
      client: s3ClientForTests(),
      bucket,
      prefix: 'multi/',
      multipartThresholdBytes: 5 * 1024 * 1024,
    });
    const body = new Uint8Array(12 * 1024 * 1024 + 17);
    for (let i = 0; i < body.length; i += 4096) body[i] = (i / 4096) & 0xff;
    await store.put('big.bin', body);
    const back = await store.get('big.bin');
    expect(back.length).toBe(body.length);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(body))).toBe(0);
  });

  it('reports a missing key as STORAGE_NOT_FOUND and a missing bucket as STORAGE_PERMANENT', async () => {
    const store = new S3ObjectStore({ client: s3ClientForTests(), bucket });
    await expect(store.get('nothing/here')).rejects.toMatchObject({
      name: 'StorageError',
      code: 'STORAGE_NOT_FOUND',
      operation: 'get',
      uri: `s3://${bucket}/nothing/here`,
      status: 404,
    });
    const missing = new S3ObjectStore({ client: s3ClientForTests(), bucket: uniqueName('nobucket') });
    const error = await missing.put('k', new Uint8Array(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: 'STORAGE_PERMANENT', transient: false });
    expect((error as Error).message).toMatch(/does not exist/);
  });

  it('classifies an unreachable endpoint as STORAGE_TRANSIENT', async () => {
    const client = createS3Client({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
      connectTimeoutMs: 1_000,
    });
    const store = new S3ObjectStore({ client, bucket: 'any-bucket' });
    await expect(store.put('k', new Uint8Array(1))).rejects.toMatchObject({ code: 'STORAGE_TRANSIENT' });
    client.destroy();
  });
});
