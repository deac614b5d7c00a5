import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureSampleImages } from 'vgg-local-kit';
import { cancelRun } from 'vgg-pipeline';
import { createTestBucket, s3ClientForTests } from './support/s3.js';
import { duckdbQuery, listFiles, PipelineHarness, readManifest } from './support/pipeline-harness.js';

const fixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/images');

let imagesDir: string;
let harness: PipelineHarness | undefined;

beforeAll(async () => {
  imagesDir = await mkdtemp(path.join(tmpdir(), 'vgg-e2e-images-'));
  await ensureSampleImages({ dir: imagesDir, count: 36 });
  await mkdir(path.join(imagesDir, 'bad'));
  await copyFile(path.join(fixtures, 'truncated.jpg'), path.join(imagesDir, 'bad', 'truncated.jpg'));
  await copyFile(
    path.join(fixtures, 'corrupt-header.jpg'),
    path.join(imagesDir, 'bad', 'corrupt-header.jpg'),
  );
  await writeFile(path.join(imagesDir, 'bad', 'notes.jpg'), 'this is text, not a JPEG\n');
});

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function newHarness(): Promise<PipelineHarness> {
  harness = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
  return harness;
}

describe('pipeline end to end', () => {
  it('labels a local directory into Parquet shards and a manifest that DuckDB reads with the documented schema', async () => {
    const h = await newHarness();
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-e2e-out-'));
    await h.startWorker({ workerId: 'w1' });
    const submitted = await h.submit({
      sources: [imagesDir],
      out,
      runId: 'local-dir',
      chunkSize: 8,
      top: 3,
      taps: ['fc7', 'pool5'],
    });
    expect(submitted.totalInputs).toBe(39);
    expect(submitted.totalChunks).toBe(5);
    const status = await h.waitForRun('local-dir');
    expect(status.rows).toBe(39);

    const runDir = path.join(out, 'local-dir');
    const manifest = await readManifest(runDir);
    const shards = manifest.shards as { key: string; rows: number }[];
    expect(shards).toHaveLength(5);
    expect(shards.reduce((n, s) => n + s.rows, 0)).toBe(39);
    expect(JSON.stringify(manifest)).toContain('"untrained":true');
    expect((await listFiles(runDir)).filter((f) => f.endsWith('.parquet'))).toHaveLength(5);

    const glob = path.join(runDir, 'shards', '*.parquet');
    const columns = await duckdbQuery(`DESCRIBE SELECT * FROM read_parquet('${glob}')`);
    const types = Object.fromEntries(columns.map((c) => [c.column_name, c.column_type]));
    expect(types).toMatchObject({
      uri: 'VARCHAR',
      status: 'VARCHAR',
      error: 'VARCHAR',
      width: 'INTEGER',
      height: 'INTEGER',
      sha256: 'VARCHAR',
      top_k_class_ids: 'INTEGER[]',
      top_k_labels: 'VARCHAR[]',
      top_k_probs: 'FLOAT[]',
    });
    expect(String(types.emb_fc7)).toMatch(/^FLOAT\[(32)?\]$/);
    expect(String(types.emb_pool5)).toMatch(/^FLOAT\[(16)?\]$/);

    const [counts] = await duckdbQuery(
      `SELECT count(*) AS n, count(DISTINCT uri) AS uris, count(*) FILTER (status = 'ok') AS ok,
              min(len(top_k_labels)) FILTER (status = 'ok') AS k, min(len(emb_fc7)) FILTER (status = 'ok') AS dim
       FROM read_parquet('${glob}')`,
    );
    expect(counts).toMatchObject({ n: '39', uris: '39', ok: '36', k: '3', dim: '32' });
    const errors = await duckdbQuery(
      `SELECT regexp_extract(uri, '[^/]+$') AS file, error, top_k_labels IS NULL AS no_labels
       FROM read_parquet('${glob}') WHERE status = 'error' ORDER BY file`,
    );
    expect(errors).toEqual([
      { file: 'corrupt-header.jpg', error: 'corrupt', no_labels: true },
      { file: 'notes.jpg', error: 'unsupported_format', no_labels: true },
      { file: 'truncated.jpg', error: expect.stringMatching(/^(truncated|corrupt)$/), no_labels: true },
    ]);
  });

  it('reads an S3 prefix and a manifest on S3 and writes its outputs to S3', async () => {
    const h = await newHarness();
    const s3 = h.s3;
    const bucket = await createTestBucket();
    const sample = await listFiles(path.join(imagesDir, 'generated'));
    const { readFile } = await import('node:fs/promises');
    for (const file of sample.slice(0, 12)) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `in/${file}`,
          Body: await readFile(path.join(imagesDir, 'generated', file)),
        }),
      );
    }
    const manifestLines = sample.slice(12, 18).map((f) => `s3://${bucket}/in/${f}`);
    for (const file of sample.slice(12, 18)) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `in/${file}`,
          Body: await readFile(path.join(imagesDir, 'generated', file)),
        }),
      );
    }
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'lists/extra.jsonl',
        Body: manifestLines.map((uri) => JSON.stringify({ uri })).join('\n'),
      }),
    );
    await h.startWorker({ workerId: 'w1' });
    // The prefix lists all 18 objects; the manifest names 6 of them again: inputs are not de-duplicated.
    await h.submit({
      sources: [`s3://${bucket}/in/`, `s3://${bucket}/lists/extra.jsonl`],
      out: `s3://${bucket}/results`,
      runId: 's3-run',
      chunkSize: 10,
      top: 5,
      taps: ['fc7'],
      npy: true,
    });
    const status = await h.waitForRun('s3-run');
    expect(status.rows).toBe(24);
    const manifestObject = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'results/s3-run/_manifest.json' }),
    );
    const manifest = JSON.parse(await manifestObject.Body!.transformToString()) as {
      totals: { rows: number; ok: number };
    };
    expect(manifest.totals).toMatchObject({ rows: 24, ok: 24 });

    const shard = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'results/s3-run/shards/chunk-000000.parquet' }),
    );
    const local = path.join(await mkdtemp(path.join(tmpdir(), 'vgg-e2e-s3-')), 'chunk.parquet');
    await writeFile(local, await shard.Body!.transformToByteArray());
    const [row] = await duckdbQuery(`SELECT count(*) AS n, min(uri) AS first FROM read_parquet('${local}')`);
    expect(row).toMatchObject({ n: '10', first: expect.stringMatching(new RegExp(`^s3://${bucket}/in/`)) });

    const npy = await s3.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: 'results/s3-run/embeddings/fc7/img_emb/img_emb_000000.npy',
      }),
    );
    const bytes = await npy.Body!.transformToByteArray();
    expect(Buffer.from(bytes.subarray(0, 6)).toString('latin1')).toBe('\x93NUMPY');
    expect(Buffer.from(bytes).toString('latin1', 10, 80)).toContain("'shape': (10, 32)");
  });

  it('resumes a run without re-running committed chunks', async () => {
    const h = await newHarness();
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-e2e-resume-'));
    const source = path.join(imagesDir, 'generated');
    await h.submit({ sources: [source], out, runId: 'resumable', chunkSize: 4 });
    const first = await h.startWorker({ workerId: 'first', chunkConcurrency: 1 });
    for (;;) {
      if ((await h.runStore.committedChunkIndexes('resumable')).size >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await first.close(10_000);
    // Simulate a producer crash that lost the queue: only run state and outputs survive.
    await h.queue.obliterate({ force: true });
    const before = await h.runStore.getChunkRecords('resumable');
    expect(before.length).toBeGreaterThanOrEqual(3);
    expect(before.length).toBeLessThan(9);

    const again = await h.submit({ sources: [source], out, runId: 'resumable', chunkSize: 4 });
    expect(again.created).toBe(false);
    expect(again.skipped).toBe(before.length);
    expect(again.enqueued).toBe(9 - before.length);

    await h.startWorker({ workerId: 'second' });
    const status = await h.waitForRun('resumable');
    expect(status.rows).toBe(36);
    for (const record of before) {
      const after = status.records.find((r) => r.chunkIndex === record.chunkIndex);
      expect(after).toMatchObject({ workerId: 'first', committedAt: record.committedAt });
    }
    const [counts] = await duckdbQuery(
      `SELECT count(*) AS n, count(DISTINCT uri) AS uris FROM read_parquet('${path.join(out, 'resumable', 'shards', '*.parquet')}')`,
    );
    expect(counts).toEqual({ n: '36', uris: '36' });
  });

  it('shares one run between two workers, each committing chunks, with every input in exactly one row', async () => {
    const h = await newHarness();
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-e2e-two-'));
    await h.startWorker({ workerId: 'alpha', chunkConcurrency: 1 });
    await h.startWorker({ workerId: 'beta', chunkConcurrency: 1 });
    await h.submit({ sources: [path.join(imagesDir, 'generated')], out, runId: 'shared', chunkSize: 3 });
    const status = await h.waitForRun('shared');
    expect(status.rows).toBe(36);
    expect(new Set(status.records.map((r) => r.workerId))).toEqual(new Set(['alpha', 'beta']));
    const [counts] = await duckdbQuery(
      `SELECT count(*) AS n, count(DISTINCT uri) AS uris FROM read_parquet('${path.join(out, 'shared', 'shards', '*.parquet')}')`,
    );
    expect(counts).toEqual({ n: '36', uris: '36' });
  });

  it('accepts txt and csv manifests with relative paths', async () => {
    const h = await newHarness();
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-e2e-manifest-'));
    const files = (await listFiles(path.join(imagesDir, 'generated'))).slice(0, 6);
    await writeFile(
      path.join(imagesDir, 'list.txt'),
      `# first three\n${files
        .slice(0, 3)
        .map((f) => `generated/${f}`)
        .join('\n')}\n`,
    );
    await writeFile(
      path.join(imagesDir, 'list.csv'),
      `id,uri\n${files
        .slice(3)
        .map((f, i) => `${i},"${path.join(imagesDir, 'generated', f)}"`)
        .join('\n')}\n`,
    );
    await h.startWorker({ workerId: 'w' });
    await h.submit({
      sources: [path.join(imagesDir, 'list.txt'), path.join(imagesDir, 'list.csv')],
      out,
      runId: 'manifests',
    });
    const status = await h.waitForRun('manifests');
    expect(status).toMatchObject({ rows: 6, ok: 6, error: 0 });
  });

  it('cancels a run: waiting chunks are removed and workers skip what is left', async () => {
    const h = await newHarness();
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-e2e-cancel-'));
    await h.submit({ sources: [path.join(imagesDir, 'generated')], out, runId: 'cancelled', chunkSize: 4 });
    expect(await h.queue.getJobCounts('wait')).toEqual({ wait: 9 });
    const { removed } = await cancelRun('cancelled', { queue: h.queue, runStore: h.runStore, s3: h.s3 });
    expect(removed).toBe(9);
    expect(await h.queue.getJobCounts('wait')).toEqual({ wait: 0 });
    // A chunk that was already taken (simulated by adding one back) is skipped without output.
    await h.queue.add('chunk', {
      runId: 'cancelled',
      chunkIndex: 0,
      uris: [path.join(imagesDir, 'generated', 'x.jpg')],
    });
    const worker = await h.startWorker({ workerId: 'after-cancel' });
    for (;;) {
      if ((await h.queue.getJobCounts('wait', 'active')).wait === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await worker.close(5_000);
    expect(await h.runStore.getState('cancelled')).toBe('cancelled');
    expect(await h.runStore.committedChunkIndexes('cancelled')).toEqual(new Set());
    await expect(listFiles(path.join(out, 'cancelled'))).rejects.toThrow();
  });
});
