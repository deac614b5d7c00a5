import { copyFile, mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureSampleImages } from 'vgg-local-kit';
import {
  type ChunkRecord,
  finalizeRun,
  formatStatus,
  LocalObjectStore,
  progressOf,
  readShardSummary,
  type RunSpec,
} from 'vgg-pipeline';
import { listFiles, PipelineHarness, readManifest } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

// Run-state correctness (issue 9 items 6, 7, 8, 9 and 16): what a run's records, fences and finalisation hold.

let harness: PipelineHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

let samples: string[];
beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'vgg-run-state-images-'));
  await ensureSampleImages({ dir, count: 8 });
  samples = (await listFiles(path.join(dir, 'generated'))).map((f) => path.join(dir, 'generated', f));
});

/** A directory holding the first `count` sample images. */
async function imagesDir(count: number): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vgg-run-state-src-'));
  for (const file of samples.slice(0, count)) await copyFile(file, path.join(dir, path.basename(file)));
  return dir;
}

async function newHarness(): Promise<PipelineHarness> {
  harness = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
  return harness;
}

function spec(runId: string): RunSpec {
  return {
    runId,
    createdAt: new Date().toISOString(),
    model: { model: 'vgg11', seed: 0 },
    preprocess: {},
    input: { keepCols: [] },
    output: { out: '/unused', topK: 5, taps: [], l2Normalize: false, dtype: 'float32', npy: false },
    chunkSize: 1,
  };
}

function record(chunkIndex: number, extra: Partial<ChunkRecord> = {}): ChunkRecord {
  return {
    chunkIndex,
    shardKey: `shards/chunk-${String(chunkIndex).padStart(6, '0')}.parquet`,
    rows: 1,
    ok: 1,
    error: 0,
    errorsByReason: {},
    top1Histogram: {},
    provider: 'cpu',
    workerId: 'w',
    committedAt: new Date().toISOString(),
    ...extra,
  };
}

describe('resuming a run whose listing changed (item 6)', () => {
  it('refuses to resume a finished run after a file was added, and leaves its manifest as it was', async () => {
    const h = await newHarness();
    const src = await imagesDir(5);
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-listing-out-'));
    await h.submit({ sources: [src], out, runId: 'grown', chunkSize: 2 });
    await h.startWorker();
    await h.waitForRun('grown');
    await copyFile(samples[5]!, path.join(src, path.basename(samples[5]!)));
    await expect(h.submit({ sources: [src], out, runId: 'grown', chunkSize: 2 })).rejects.toMatchObject({
      code: 'RUN_CONFLICT',
      field: 'inputs',
      message: expect.stringMatching(/Run grown was first submitted with another listing.*another --run id/),
    });
    expect(await h.queue.getJobCounts('wait', 'delayed')).toEqual({ wait: 0, delayed: 0 });
    expect(await h.runStore.getState('grown')).toBe('finalized');
    expect((await readManifest(path.join(out, 'grown'))).totals).toMatchObject({ rows: 5 });
  });

  it('refuses a listing that lost a whole chunk, and one that grew past the chunks it had', async () => {
    const h = await newHarness();
    const src = await imagesDir(4);
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-listing-out-'));
    await h.submit({ sources: [src], out, runId: 'shrunk', chunkSize: 2 });
    await unlink(path.join(src, path.basename(samples[3]!)));
    await unlink(path.join(src, path.basename(samples[2]!)));
    await expect(h.submit({ sources: [src], out, runId: 'shrunk', chunkSize: 2 })).rejects.toMatchObject({
      code: 'RUN_CONFLICT',
      message: expect.stringContaining('now has 1 chunks, not the 2 it had'),
    });
    for (const file of samples.slice(2, 6)) await copyFile(file, path.join(src, path.basename(file)));
    await expect(h.submit({ sources: [src], out, runId: 'shrunk', chunkSize: 2 })).rejects.toMatchObject({
      message: expect.stringContaining('more than the 2 chunks it had'),
    });
    // The same listing resumes as before.
    await rm(path.join(src, path.basename(samples[4]!)));
    await rm(path.join(src, path.basename(samples[5]!)));
    const again = await h.submit({ sources: [src], out, runId: 'shrunk', chunkSize: 2 });
    expect(again).toMatchObject({ created: false, totalChunks: 2 });
  });

  it('finalises only when every chunk index 0..total-1 has a record, not when the record count reaches it', async () => {
    const h = await newHarness();
    await h.runStore.createOrResume(spec('indexes'));
    await h.runStore.markEnqueued('indexes', 2, 2);
    const store = new LocalObjectStore({ dir: await mkdtemp(path.join(tmpdir(), 'vgg-indexes-')) });
    // Two records, but of chunks 0 and 5 (a listing that used to have more chunks): chunk 1 is missing.
    await h.runStore.recordChunk('indexes', record(0));
    await h.runStore.recordChunk('indexes', record(5));
    expect(await finalizeRun({ runStore: h.runStore, store, runId: 'indexes', owner: 'w' })).toBeNull();
    await h.runStore.recordChunk('indexes', record(1));
    expect(await finalizeRun({ runStore: h.runStore, store, runId: 'indexes', owner: 'w' })).not.toBeNull();
  });

  it('finalises a finalised run again when it gains chunks', async () => {
    const h = await newHarness();
    await h.runStore.createOrResume(spec('gains'));
    await h.runStore.markEnqueued('gains', 1, 1);
    const dir = await mkdtemp(path.join(tmpdir(), 'vgg-gains-'));
    const store = new LocalObjectStore({ dir });
    await h.runStore.recordChunk('gains', record(0));
    expect(await finalizeRun({ runStore: h.runStore, store, runId: 'gains', owner: 'w' })).not.toBeNull();
    await h.runStore.markEnqueued('gains', 2, 2);
    expect(await h.runStore.getState('gains')).toBe('running');
    await h.runStore.recordChunk('gains', record(1));
    expect(await finalizeRun({ runStore: h.runStore, store, runId: 'gains', owner: 'w' })).not.toBeNull();
    const manifest = await readManifest(dir);
    expect(manifest.version).toBe(2);
    expect((manifest.shards as unknown[]).length).toBe(2);
  });
});

describe('fenced commits (item 8)', () => {
  it('records a chunk only for the holder of its job lock, never over committed rows, never in a finished run', async () => {
    const h = await newHarness();
    await h.runStore.createOrResume(spec('fence'));
    await h.runStore.markEnqueued('fence', 2, 2);
    const lockKey = `${h.prefix}:fence-test:lock`;
    await h.redis.set(lockKey, 'token-b');
    const stale = { kind: 'lock', lockKey, token: 'token-a' } as const;
    const live = { kind: 'lock', lockKey, token: 'token-b' } as const;
    expect(await h.runStore.mayWriteChunk('fence', 0, stale, false)).toBe('lock-lost');
    expect(await h.runStore.commitChunk('fence', record(0, { workerId: 'a' }), stale)).toBe('lock-lost');
    expect(await h.runStore.getChunkRecord('fence', 0)).toBeNull();
    expect(await h.runStore.commitChunk('fence', record(0, { workerId: 'b' }), live)).toBeNull();
    // Failure rows never replace committed rows, even from a live lock holder.
    const failed = record(0, { workerId: 'c', ok: 0, error: 1, failed: true });
    expect(await h.runStore.mayWriteChunk('fence', 0, live, true)).toBe('committed');
    expect(await h.runStore.commitChunk('fence', failed, live)).toBe('committed');
    expect(await h.runStore.getChunkRecord('fence', 0)).toMatchObject({ workerId: 'b', ok: 1 });
    // A job BullMQ failed for good may record failure rows only while it is in the failed set.
    const failedKey = `${h.prefix}:fence-test:failed`;
    const gone = { kind: 'failed-job', failedKey, jobId: 'j1' } as const;
    expect(await h.runStore.commitChunk('fence', record(1, { failed: true }), gone)).toBe('lock-lost');
    await h.redis.zadd(failedKey, 1, 'j1');
    expect(
      await h.runStore.commitChunk('fence', record(1, { failed: true, ok: 0, error: 1 }), gone),
    ).toBeNull();
    const store = new LocalObjectStore({ dir: await mkdtemp(path.join(tmpdir(), 'vgg-fence-')) });
    expect(await finalizeRun({ runStore: h.runStore, store, runId: 'fence', owner: 'w' })).not.toBeNull();
    expect(await h.runStore.mayWriteChunk('fence', 0, live, false)).toBe('run-finished');
    expect(await h.runStore.commitChunk('fence', record(0, { workerId: 'late' }), live)).toBe('run-finished');
    expect(await h.runStore.getChunkRecord('fence', 0)).toMatchObject({ workerId: 'b' });
  });
});

describe('durable failures (item 7)', () => {
  it('shows a chunk whose error rows could not be written as stuck, and a resubmission re-adds it', async () => {
    const h = await newHarness();
    const src = await imagesDir(3);
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-stuck-out-'));
    await h.submit({ sources: [src], out, runId: 'stuck', chunkSize: 3, attempts: 1 });
    // Shards cannot be written: a file stands where the shards directory goes.
    await mkdir(path.join(out, 'stuck'), { recursive: true });
    await writeFile(path.join(out, 'stuck', 'shards'), 'not a directory');
    const warnings: string[] = [];
    await h.startWorker({ onEvent: (e) => (e.type === 'warning' ? warnings.push(e.message) : undefined) });
    // Both tries to write the error rows fail: the last attempt's, then the 'failed' listener's.
    const deadline = Date.now() + 60_000;
    while (!warnings.some((w) => w.startsWith('could not record failed chunk')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect((await h.queue.getJobCounts('failed')).failed).toBe(1);
    const status = await h.runStore.status('stuck');
    expect(status?.stuck).toMatchObject([{ chunkIndex: 0, reason: expect.stringMatching(/ENOTDIR|EEXIST/) }]);
    const text = formatStatus(progressOf(status!));
    expect(text).toMatch(/^run stuck {2}stuck: 1 chunk failed for good/);
    expect(text).toContain('submit the run again with the same sources and --run stuck');

    await unlink(path.join(out, 'stuck', 'shards'));
    const again = await h.submit({ sources: [src], out, runId: 'stuck', chunkSize: 3, attempts: 1 });
    expect(again.enqueued).toBe(1);
    const done = await h.waitForRun('stuck', 60_000);
    expect(done).toMatchObject({ rows: 3, ok: 3, stuck: [] });
  });
});

describe('manifest write failures (item 9)', () => {
  it('never turns a committed chunk into failure rows when its manifest cannot be written', async () => {
    const h = await newHarness();
    const src = await imagesDir(3);
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-manifest-fail-'));
    await h.submit({ sources: [src], out, runId: 'nomanifest', chunkSize: 3, attempts: 2 });
    // `_manifest.json` cannot be written: a directory stands in its place.
    await mkdir(path.join(out, 'nomanifest', '_manifest.json'), { recursive: true });
    const events: { type: string }[] = [];
    await h.startWorker({ onEvent: (e) => events.push(e) });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const counts = await h.queue.getJobCounts('wait', 'active', 'delayed');
      if (Object.values(counts).every((n) => n === 0)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const status = await h.runStore.status('nomanifest');
    expect(status).toMatchObject({ state: 'running', rows: 3, ok: 3, error: 0 });
    expect(status?.records[0]?.failed).toBeUndefined();
    expect(status?.finalizeError).toMatch(/EISDIR|EEXIST|ENOTEMPTY|directory/);
    const shard = await readShardSummary(
      await new LocalObjectStore({ dir: path.join(out, 'nomanifest') }).get(status!.records[0]!.shardKey),
    );
    expect(shard.status).toEqual(['ok', 'ok', 'ok']);
    expect(formatStatus(progressOf(status!))).toContain('manifest not written');

    await rm(path.join(out, 'nomanifest', '_manifest.json'), { recursive: true });
    const again = await h.submit({ sources: [src], out, runId: 'nomanifest', chunkSize: 3, attempts: 2 });
    expect(again).toMatchObject({ enqueued: 0, finalized: true });
    expect((await readManifest(path.join(out, 'nomanifest'))).totals).toMatchObject({ rows: 3, ok: 3 });
  });
});

describe('retry-failed and finalisation (item 16)', () => {
  it('does not mark a run finalised by a finalisation that began before retry-failed re-opened it', async () => {
    const h = await newHarness();
    await h.runStore.createOrResume(spec('window'));
    await h.runStore.markEnqueued('window', 1, 1);
    await h.runStore.recordChunk('window', record(0, { failed: true, ok: 0, error: 1 }));
    expect(await h.runStore.tryBeginFinalize('window', 'slow-finaliser')).toBe(true);
    // retry-failed re-opens the run and removes the chunk's record while the finaliser writes its manifest.
    await h.runStore.reopen('window', [0]);
    expect(await h.runStore.markFinalized('window', 'slow-finaliser')).toBe(false);
    expect(await h.runStore.getState('window')).toBe('running');
    expect(await h.runStore.getChunkRecord('window', 0)).toBeNull();
    // The retried chunk's commit finalises the run.
    await h.runStore.recordChunk('window', record(0));
    const store = new LocalObjectStore({ dir: await mkdtemp(path.join(tmpdir(), 'vgg-window-')) });
    expect(await finalizeRun({ runStore: h.runStore, store, runId: 'window', owner: 'w' })).not.toBeNull();
    expect(await h.runStore.getState('window')).toBe('finalized');
  });
});
