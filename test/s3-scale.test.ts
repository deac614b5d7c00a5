import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ensureSampleImages } from 'vgg-local-kit';
import type { Manifest } from 'vgg-pipeline';
import { duckdbQuery, listFiles, PipelineHarness } from './support/pipeline-harness.js';
import { createTestBucket, s3ClientForTests } from './support/s3.js';

const IMAGES = 300;
let harness: PipelineHarness | undefined;

afterAll(async () => {
  await harness?.close();
});

describe('S3 at a few hundred images', () => {
  it('labels 300 images from an S3 prefix with two workers into S3 shards whose rows equal the inputs', async () => {
    const s3 = s3ClientForTests();
    const bucket = await createTestBucket();
    const dir = await mkdtemp(path.join(tmpdir(), 'vgg-s3-scale-'));
    await ensureSampleImages({ dir, count: IMAGES });
    const files = await listFiles(path.join(dir, 'generated'));
    for (let i = 0; i < files.length; i += 25) {
      await Promise.all(
        files.slice(i, i + 25).map(async (f) =>
          s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: `photos/${f}`,
              Body: await readFile(path.join(dir, 'generated', f)),
            }),
          ),
        ),
      );
    }
    harness = await PipelineHarness.create(inject('redisUrl'), s3);
    await harness.startWorker({ workerId: 'one' });
    await harness.startWorker({ workerId: 'two' });
    await harness.submit({
      sources: [`s3://${bucket}/photos/`],
      out: `s3://${bucket}/labels`,
      runId: 'scale',
      chunkSize: 25,
      top: 5,
      taps: ['fc7', 'pool5'],
    });
    const status = await harness.waitForRun('scale', 300_000);
    expect(new Set(status.records.map((r) => r.workerId))).toEqual(new Set(['one', 'two']));

    const object = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'labels/scale/_manifest.json' }),
    );
    const manifest = JSON.parse(await object.Body!.transformToString()) as Manifest;
    expect(manifest.totals).toMatchObject({ inputs: IMAGES, rows: IMAGES, ok: IMAGES, error: 0 });
    expect(manifest.shards).toHaveLength(IMAGES / 25);
    expect(manifest.taps.map((t) => t.name)).toEqual(['fc7', 'pool5']);

    // DuckDB reads the shards as written to S3 (downloaded, since DuckDB's S3 support is a network extension).
    const local = await mkdtemp(path.join(tmpdir(), 'vgg-s3-scale-shards-'));
    for (const shard of manifest.shards) {
      const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `labels/scale/${shard.key}` }));
      await writeFile(path.join(local, path.basename(shard.key)), await body.Body!.transformToByteArray());
    }
    const glob = path.join(local, '*.parquet');
    const columns = await duckdbQuery(`DESCRIBE SELECT * FROM read_parquet('${glob}')`);
    expect(columns.map((c) => c.column_name)).toEqual([
      'uri',
      'key',
      'status',
      'error',
      'width',
      'height',
      'sha256',
      'top_k_class_ids',
      'top_k_labels',
      'top_k_probs',
      'emb_fc7',
      'emb_pool5',
    ]);
    const [row] = await duckdbQuery(
      `SELECT count(*) AS n, count(DISTINCT uri) AS uris, count(DISTINCT sha256) AS hashes,
              min(len(emb_fc7)) AS fc7, min(len(emb_pool5)) AS pool5, min(top_k_probs[1]) > 0 AS probs
       FROM read_parquet('${glob}')`,
    );
    expect(row).toEqual({
      n: String(IMAGES),
      uris: String(IMAGES),
      hashes: String(IMAGES),
      fc7: '32',
      pool5: '16',
      probs: true,
    });
  });
});
