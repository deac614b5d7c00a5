import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveVggConfig, writeSeededWeights } from 'vgg-core';
import { ensureSampleImages } from 'vgg-local-kit';
import { createS3Client, type Manifest, retryFailed } from 'vgg-pipeline';
import { FaultProxy } from './support/fault-proxy.js';
import { listFiles, PipelineHarness, SMALL_MODEL, SMALL_SEED } from './support/pipeline-harness.js';
import { createTestBucket, s3ClientForTests } from './support/s3.js';

let imagesDir: string;
let files: string[];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  imagesDir = await mkdtemp(path.join(tmpdir(), 'vgg-faults-'));
  await ensureSampleImages({ dir: imagesDir, count: 48 });
  files = await listFiles(path.join(imagesDir, 'generated'));
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function readManifest(bucket: string, key: string): Promise<Manifest> {
  const object = await s3ClientForTests().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await object.Body!.transformToString()) as Manifest;
}

describe('network faults', () => {
  it('retries 5xx, resets and slow responses from S3 and http inputs with backoff and loses no row', async () => {
    const bucket = await createTestBucket();
    const s3 = s3ClientForTests();
    for (const f of files.slice(0, 24)) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `in/${f}`,
          Body: await readFile(path.join(imagesDir, 'generated', f)),
        }),
      );
    }
    const images = createServer((req, res) => {
      readFile(path.join(imagesDir, 'generated', path.basename(req.url ?? ''))).then(
        (bytes) => res.writeHead(200).end(bytes),
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((r) => images.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      images.closeAllConnections();
      await new Promise((r) => images.close(r));
    });
    const rates = { errorRate: 0.15, resetRate: 0.05, delayRate: 0.1, delayMs: 300 };
    const s3Proxy = await FaultProxy.start({ target: inject('s3Endpoint'), ...rates });
    const httpProxy = await FaultProxy.start({
      target: `http://127.0.0.1:${(images.address() as AddressInfo).port}`,
      ...rates,
    });
    cleanups.push(
      () => s3Proxy.close(),
      () => httpProxy.close(),
    );

    const h = await PipelineHarness.create(inject('redisUrl'), s3);
    cleanups.push(() => h.close());
    // The worker sees S3 only through the faulty proxy; the SDK retries with backoff (standard mode).
    const faultyS3 = createS3Client({
      endpoint: s3Proxy.origin,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 10,
      retryMode: 'standard',
    });
    await h.startWorker({ workerId: 'faulty', s3: faultyS3, allowCidrs: ['127.0.0.1/32'], fetchAttempts: 8 });
    const manifest = path.join(imagesDir, 'http.txt');
    await writeFile(
      manifest,
      files
        .slice(24)
        .map((f) => `${httpProxy.origin}/${f}`)
        .join('\n'),
    );
    await h.submit({
      sources: [`s3://${bucket}/in/`, manifest],
      out: `s3://${bucket}/out`,
      runId: 'faults',
      chunkSize: 8,
    });
    const status = await h.waitForRun('faults', 180_000);
    expect(status).toMatchObject({ rows: 48, ok: 48, error: 0 });
    const result = await readManifest(bucket, 'out/faults/_manifest.json');
    expect(result.totals).toMatchObject({ inputs: 48, rows: 48, ok: 48 });
    expect(result.shards.map((s) => s.chunkIndex)).toEqual([0, 1, 2, 3, 4, 5]);
    // The faults really happened on both paths.
    expect(s3Proxy.counts.errors + s3Proxy.counts.resets).toBeGreaterThan(0);
    expect(httpProxy.counts.errors + httpProxy.counts.resets).toBeGreaterThan(0);
  });
});

describe('poison chunks', () => {
  it('records a chunk that keeps failing as error rows, finalises the run, and retry-failed re-runs it', async () => {
    const bucket = await createTestBucket();
    const h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    cleanups.push(() => h.close());
    await h.startWorker({ workerId: 'poison' });
    const weightsUri = `s3://${bucket}/models/small.safetensors`;
    // The weights do not exist yet: every attempt of every chunk fails while loading the model.
    await h.submit({
      sources: [path.join(imagesDir, 'generated')],
      out: `s3://${bucket}/out`,
      runId: 'poison',
      chunkSize: 16,
      attempts: 2,
      weights: weightsUri,
    });
    const failed = await h.waitForRun('poison', 60_000);
    expect(failed).toMatchObject({ rows: 48, ok: 0, error: 48 });
    expect(failed.records.every((r) => r.failed && r.errorsByReason.chunk_failed === 16)).toBe(true);

    const local = path.join(imagesDir, 'small.safetensors');
    const { model, ...overrides } = SMALL_MODEL;
    await writeSeededWeights(local, resolveVggConfig(model, overrides), SMALL_SEED);
    await s3ClientForTests().send(
      new PutObjectCommand({ Bucket: bucket, Key: 'models/small.safetensors', Body: await readFile(local) }),
    );
    const retried = await retryFailed('poison', {
      queue: h.queue,
      runStore: h.runStore,
      s3: s3ClientForTests(),
    });
    expect(retried).toEqual({ chunks: 3, images: 48 });
    for (;;) {
      const s = await h.runStore.status('poison');
      if (s?.state === 'finalized' && s.ok === 48) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const result = await readManifest(bucket, 'out/poison/_manifest.json');
    expect(result.totals).toMatchObject({ rows: 48, ok: 48, error: 0 });
    expect(result.model).toMatchObject({ source: 'safetensors', untrained: false });
    // The worker fetched the weights from S3 once and cached them under their content hash.
    const sha256 = createHash('sha256')
      .update(await readFile(local))
      .digest('hex');
    expect(await readdir(path.join(h.cacheDir, 'models'))).toContain(`${sha256}.safetensors`);
    expect(result.model.weightsSha256).toBe(sha256);
  });
});
