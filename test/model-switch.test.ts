import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { WorkerEvent } from 'vgg-chunk-worker';
import { ensureSampleImages } from 'vgg-local-kit';
import { chunkJob } from 'vgg-pipeline';
import { PipelineHarness, readManifest } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

let harness: PipelineHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('one worker, runs with different models', () => {
  it('runs A, B, then A again without using a closed engine, and gives each run its own preprocessing', async () => {
    const h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    harness = h;
    const images = await mkdtemp(path.join(tmpdir(), 'vgg-switch-'));
    await ensureSampleImages({ dir: images, count: 8 });
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-switch-out-'));
    // A and B differ in their weights (seed); C has A's model with other preprocessing.
    // A's second chunk comes after B's, as a retry would bring it (a chunk of a run that is not finalised yet: a
    // finalised run's chunks are never written again).
    await h.submit({ sources: [images], out, runId: 'a', chunkSize: 4 });
    const aSecond = (await h.queue.getJobs(['wait'])).find((job) => job.data.chunkIndex === 1);
    await aSecond!.remove();
    await h.submit({ sources: [images], out, runId: 'b', chunkSize: 8, seed: 8 });
    await h.queue.addBulk([chunkJob(aSecond!.data, 1, 1)]);
    await h.submit({ sources: [images], out, runId: 'c', chunkSize: 8, resizeSize: 40 });

    const events: WorkerEvent[] = [];
    await h.startWorker({ workerId: 'solo', chunkConcurrency: 1, onEvent: (event) => events.push(event) });
    await h.waitForRun('c');
    for (;;) {
      const counts = await h.queue.getJobCounts('wait', 'active', 'delayed');
      if (Object.values(counts).every((n) => n === 0)) break;
      await new Promise((r) => setTimeout(r, 50));
    }

    expect(events.filter((e) => e.type === 'chunk-failed')).toEqual([]);
    expect(
      events
        .filter((e) => e.type === 'chunk-done')
        .map((e) => (e.type === 'chunk-done' ? [e.runId, e.ok] : [])),
    ).toEqual([
      ['a', 4],
      ['b', 8],
      ['a', 4],
      ['c', 8],
    ]);
    const records = await h.runStore.getChunkRecords('a');
    expect(records).toMatchObject([
      { ok: 4, error: 0 },
      { ok: 4, error: 0 },
    ]);
    expect(records.map((r) => r.failed)).toEqual([undefined, undefined]);
    // The model is loaded again for each switch: A, B, A, and C (A's weights, its own preprocessing).
    expect(events.filter((e) => e.type === 'model-loaded').map((e) => e.runId)).toEqual(['a', 'b', 'a', 'c']);
    const manifest = await readManifest(path.join(out, 'c'));
    expect(manifest.preprocessing).toMatchObject({ resizeSize: 40, cropSize: 32 });
  });
});
