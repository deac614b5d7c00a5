import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ensureSampleImages } from 'vgg-local-kit';
import { chunkJobId, finalizeRun, LocalObjectStore, type RunSpec } from 'vgg-pipeline';
import { duckdbQuery, PipelineHarness, readManifest } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

let harness: PipelineHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('exactly once', () => {
  it('writes one shard per chunk and lists it once when every chunk is delivered twice to two workers at once', async () => {
    const h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    harness = h;
    const images = await mkdtemp(path.join(tmpdir(), 'vgg-twice-'));
    await ensureSampleImages({ dir: images, count: 30 });
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-twice-out-'));
    await h.submit({ sources: [images], out, runId: 'twice', chunkSize: 10 });
    // A second delivery of every chunk, as a lapsed lock or a re-submission after data loss would cause.
    const jobs = await h.queue.getJobs(['wait']);
    expect(jobs).toHaveLength(3);
    await h.queue.addBulk(
      jobs.map((j) => ({
        name: 'chunk',
        data: j.data,
        opts: { jobId: chunkJobId('twice', j.data.chunkIndex, 1) },
      })),
    );
    await h.startWorker({ workerId: 'a', chunkConcurrency: 3 });
    await h.startWorker({ workerId: 'b', chunkConcurrency: 3 });
    await h.waitForRun('twice');
    for (;;) {
      const counts = await h.queue.getJobCounts('wait', 'active');
      if (counts.wait === 0 && counts.active === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const manifest = await readManifest(path.join(out, 'twice'));
    expect((manifest.shards as { chunkIndex: number }[]).map((s) => s.chunkIndex)).toEqual([0, 1, 2]);
    const [counts] = await duckdbQuery(
      `SELECT count(*) AS n, count(DISTINCT uri) AS uris FROM read_parquet('${path.join(out, 'twice', 'shards', '*.parquet')}')`,
    );
    expect(counts).toEqual({ n: '30', uris: '30' });
  });

  it('finalises a run exactly once when many workers try at the same moment', async () => {
    const h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    harness = h;
    const spec: RunSpec = {
      runId: 'final',
      createdAt: new Date().toISOString(),
      model: { model: 'vgg11', seed: 0 },
      preprocess: {},
      input: { keepCols: [] },
      output: { out: '/unused', topK: 5, taps: [], l2Normalize: false, dtype: 'float32', npy: false },
      chunkSize: 1,
    };
    await h.runStore.createOrResume(spec);
    await h.runStore.markEnqueued('final', 1, 1);
    const store = new LocalObjectStore({ dir: await mkdtemp(path.join(tmpdir(), 'vgg-final-')) });
    // Not complete yet: nobody may finalise.
    expect(await finalizeRun({ runStore: h.runStore, store, runId: 'final', owner: 'early' })).toBeNull();
    await h.runStore.recordChunk('final', {
      chunkIndex: 0,
      shardKey: 'shards/chunk-000000.parquet',
      rows: 1,
      ok: 1,
      error: 0,
      errorsByReason: {},
      top1Histogram: {},
      provider: 'cpu',
      workerId: 'w',
      committedAt: new Date().toISOString(),
    });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        finalizeRun({ runStore: h.runStore, store, runId: 'final', owner: `w${i}` }),
      ),
    );
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect(await h.runStore.getState('final')).toBe('finalized');
    expect(await finalizeRun({ runStore: h.runStore, store, runId: 'final', owner: 'late' })).toBeNull();
  });
});
