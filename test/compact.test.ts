import { copyFile, mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ensureSampleImages } from 'vgg-local-kit';
import { compactRun } from 'vgg-pipeline';
import { duckdbQuery, listFiles, PipelineHarness, readManifest } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

const fixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/images');

let harness: PipelineHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

type Manifest = { version: number; shards: { key: string; rows: number; chunks?: [number, number] }[] };

/** The rows of the files a manifest lists, in its order, as DuckDB reads them. */
async function rowsOf(runDir: string, manifest: Manifest): Promise<Record<string, unknown>[]> {
  const files = manifest.shards.map((s) => `'${path.join(runDir, s.key)}'`).join(', ');
  return duckdbQuery(
    `SELECT uri, key, status, error, sha256, top_k_labels::VARCHAR AS labels, emb_pool5::VARCHAR AS emb FROM read_parquet([${files}], filename = true, file_row_number = true) ORDER BY list_position([${files}], filename), file_row_number`,
  );
}

describe('vgg-producer compact', () => {
  it('rewrites small shards into fewer files with the same rows in order, switching the manifest in one write', async () => {
    const images = await mkdtemp(path.join(tmpdir(), 'vgg-compact-'));
    await ensureSampleImages({ dir: images, count: 14 });
    await mkdir(path.join(images, 'bad'));
    await copyFile(path.join(fixtures, 'truncated.jpg'), path.join(images, 'bad', 'truncated.jpg'));
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-compact-out-'));
    const h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    harness = h;
    await h.startWorker();
    await h.submit({ sources: [images], out, runId: 'small', chunkSize: 2, taps: ['pool5'] });
    await h.waitForRun('small');
    const runDir = path.join(out, 'small');
    const v1 = (await readManifest(runDir)) as unknown as Manifest;
    expect(v1.version).toBe(1);
    expect(v1.shards).toHaveLength(8);
    const before = await rowsOf(runDir, v1);
    expect(before).toHaveLength(15);

    // About three shards per file.
    const shardBytes = (await stat(path.join(runDir, v1.shards[0]?.key ?? ''))).size;
    const result = await compactRun('small', h.runs, { targetBytes: shardBytes * 3 + 100 });
    expect(result).toMatchObject({ version: 2, shardsBefore: 8, rows: 15, pruned: 0 });
    expect(result.filesAfter).toBeGreaterThanOrEqual(2);
    expect(result.filesAfter).toBeLessThanOrEqual(4);

    const v2 = (await readManifest(runDir)) as unknown as Manifest & { compaction: { from: number } };
    expect(v2.version).toBe(2);
    expect(v2.compaction.from).toBe(1);
    expect(v2.shards.every((s) => s.key.startsWith('compacted/v2/part-'))).toBe(true);
    expect(v2.shards[0]?.chunks?.[0]).toBe(0);
    expect(v2.shards.at(-1)?.chunks?.[1]).toBe(7);
    expect(await rowsOf(runDir, v2)).toEqual(before);
    // Readers of the old manifest still find every file it lists; it is kept as _manifests/v1.json.
    const kept = JSON.parse(await readFile(path.join(runDir, '_manifests', 'v1.json'), 'utf8')) as Manifest;
    expect(kept.shards.map((s) => s.key)).toEqual(v1.shards.map((s) => s.key));
    expect(await rowsOf(runDir, kept)).toEqual(before);
    // The model identity travels with the rows.
    const metadata = await duckdbQuery(
      `SELECT decode(key) AS key FROM parquet_kv_metadata('${path.join(runDir, v2.shards[0]?.key ?? '')}')`,
    );
    expect(metadata.map((m) => m.key)).toEqual(
      expect.arrayContaining(['vgg.model', 'vgg.preprocess', 'vgg.compacted']),
    );

    // Once more into one file, deleting what the previous manifest listed.
    const again = await compactRun('small', h.runs, { prune: true });
    expect(again).toMatchObject({ version: 3, filesAfter: 1, pruned: result.filesAfter, rows: 15 });
    const v3 = (await readManifest(runDir)) as unknown as Manifest;
    expect(await rowsOf(runDir, v3)).toEqual(before);
    expect((await listFiles(runDir)).filter((f) => f.startsWith('compacted/v2/'))).toEqual([]);
  });

  it('is refused for a run that is not finalised, naming what to do', async () => {
    const h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    harness = h;
    await expect(compactRun('no-such-run', h.runs)).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-compact-out-'));
    const images = await mkdtemp(path.join(tmpdir(), 'vgg-compact-'));
    await ensureSampleImages({ dir: images, count: 2 });
    await h.submit({ sources: [images], out, runId: 'pending' });
    await expect(compactRun('pending', h.runs)).rejects.toThrow(
      /Run pending is running; compact it once it is finalised/,
    );
  });
});
