import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolvePreprocessOptions } from 'vgg-core';
import {
  type ChunkRecord,
  encodeNpy,
  encodeParquetShard,
  LocalObjectStore,
  planRun,
  readShardSummary,
} from 'vgg-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkCommitter, type CommitModel, columnLayout } from './chunk-commit.js';
import { errorRow, type RowResult } from './chunk-rows.js';
import type { RunContext } from './run-contexts.js';
import { newWorkerStats } from './stats.js';

const model: CommitModel = {
  identity: {
    variant: 'custom[8,M]',
    source: 'seeded',
    weightsSha256: 'ab'.repeat(32),
    untrained: true,
    seed: 0,
    numClasses: 3,
    inputSize: 32,
  },
  taps: { fc7: { dim: 4 } },
  preprocess: resolvePreprocessOptions({ cropSize: 32 }),
  provider: 'cpu',
};

let dir: string;
/** The encoders the ShardEncoder thread runs, on this thread (a test runs the TypeScript sources). */
const encoder = {
  parquet: async (columns: Parameters<typeof encodeParquetShard>[0]) => encodeParquetShard(columns),
  npy: async (...args: Parameters<typeof encodeNpy>) => encodeNpy(...args),
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vgg-commit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function context(runId: string, options: { npy?: boolean } = {}): RunContext {
  const { spec } = planRun({
    out: dir,
    runId,
    model: '[8,M]',
    inputSize: 32,
    top: 2,
    taps: ['fc7'],
    ...options,
  });
  return { spec, store: new LocalObjectStore({ dir: path.join(dir, runId) }), layout: null };
}

function okRow(uri: string, classId: number): RowResult {
  return {
    uri,
    status: 'ok',
    error: null,
    width: 10,
    height: 10,
    sha256: 'cd'.repeat(32),
    classIds: Int32Array.of(classId, 0),
    probs: Float32Array.of(0.9, 0.1),
    embeddings: { fc7: Float32Array.of(1, 2, 3, 4) },
  };
}

const fence = { kind: 'lock', lockKey: 'q:1:lock', token: 't' } as const;

function committer() {
  const records: ChunkRecord[] = [];
  const c = new ChunkCommitter({
    encoder,
    mayWrite: async () => null,
    recordChunk: async (_runId, record) => {
      records.push(record);
      return null;
    },
    finalize: async () => null,
    workerId: 'w1',
    stats: newWorkerStats(),
  });
  return { c, records };
}

describe('columnLayout', () => {
  it('has top-k over the model classes, a column per tap, and the identity in the metadata', () => {
    const layout = columnLayout(context('layout').spec, model);
    expect(layout.topK).toBe(2);
    expect(layout.labels).toEqual(['class_0', 'class_1', 'class_2']);
    expect(layout.taps).toEqual([{ tap: 'fc7', dim: 4, dtype: 'float32' }]);
    expect(JSON.parse(layout.metadata['vgg.model'] ?? '')).toMatchObject({
      variant: 'custom[8,M]',
      provider: 'cpu',
    });
  });
});

describe('columnLayout without a loaded model', () => {
  it('records the requested model with the weights URI redacted: no presigned query, no --redact-params', () => {
    const { spec } = context('requested');
    spec.model = {
      ...spec.model,
      weights: 'https://w.example/v.safetensors?X-Amz-Signature=SIG&tenant=T1&v=2',
    };
    spec.output = { ...spec.output, redactParams: ['tenant'] };
    const metadata = columnLayout(spec, null).metadata;
    expect(JSON.parse(metadata['vgg.model'] ?? '')).toMatchObject({
      requested: { weights: 'https://w.example/v.safetensors?v=2' },
    });
    expect(JSON.stringify(metadata)).not.toMatch(/SIG|T1/);
  });
});

describe('ChunkCommitter', () => {
  it('writes the shard and the npy files, then records the chunk with its tallies', async () => {
    const ctx = context('run-a', { npy: true });
    const { c, records } = committer();
    const record = await c.commit(ctx, {
      chunkIndex: 3,
      rows: [okRow('/a.jpg', 1), errorRow('/b.jpg', 'not_found'), okRow('/c.jpg', 1)],
      model,
      failed: false,
      fence,
    });
    expect(record).toMatchObject({
      chunkIndex: 3,
      shardKey: 'shards/chunk-000003.parquet',
      rows: 3,
      ok: 2,
      error: 1,
      errorsByReason: { not_found: 1 },
      top1Histogram: { class_1: 2 },
      provider: 'cpu',
      workerId: 'w1',
      npyKeys: [
        'embeddings/fc7/img_emb/img_emb_000003.npy',
        'embeddings/fc7/metadata/metadata_000003.parquet',
      ],
    });
    expect(records).toEqual([record]);
    const shard = await readShardSummary(await ctx.store.get(record.shardKey));
    expect(shard.uri).toEqual(['/a.jpg', '/b.jpg', '/c.jpg']);
    expect(shard.error).toEqual([null, 'not_found', null]);
    expect(await ctx.store.exists('embeddings/fc7/img_emb/img_emb_000003.npy')).toBe(true);
  });

  it("keeps a run's first layout for its failure shards, so every shard of a run has the same columns", async () => {
    const ctx = context('run-b');
    const { c } = committer();
    await c.commit(ctx, { chunkIndex: 0, rows: [okRow('/a.jpg', 0)], model, failed: false, fence });
    const failed = await c.commit(ctx, {
      chunkIndex: 1,
      rows: [errorRow('/b.jpg', 'chunk_failed')],
      model: null,
      failed: true,
      fence,
    });
    expect(failed).toMatchObject({ failed: true, provider: 'none', errorsByReason: { chunk_failed: 1 } });
    expect(ctx.layout?.taps).toEqual([{ tap: 'fc7', dim: 4, dtype: 'float32' }]);
  });

  it('describes the requested model when a chunk fails before any model loaded', async () => {
    const ctx = context('run-c');
    const { c } = committer();
    await c.commit(ctx, {
      chunkIndex: 0,
      rows: [errorRow('/a.jpg', 'chunk_failed')],
      model: null,
      failed: true,
      fence,
    });
    expect(ctx.layout).toBeNull();
    expect(columnLayout(ctx.spec, null).metadata['vgg.model']).toContain('"requested"');
  });
});

describe('ChunkCommitter fencing', () => {
  it('writes nothing when the fence refuses before the shard is written', async () => {
    const ctx = context('run-d');
    const c = new ChunkCommitter({
      encoder,
      mayWrite: async () => 'lock-lost',
      recordChunk: async () => {
        throw new Error('must not record');
      },
      finalize: async () => null,
      workerId: 'w1',
      stats: newWorkerStats(),
    });
    const commit = c.commit(ctx, { chunkIndex: 0, rows: [okRow('/a.jpg', 0)], model, failed: false, fence });
    await expect(commit).rejects.toMatchObject({ code: 'CHUNK_FENCED', refusal: 'lock-lost' });
    expect(await ctx.store.exists('shards/chunk-000000.parquet')).toBe(false);
  });

  it('fails the commit when the fence refuses the record, and records the fingerprint it was given', async () => {
    const ctx = context('run-e');
    const seen: ChunkRecord[] = [];
    const c = new ChunkCommitter({
      encoder,
      mayWrite: async () => null,
      recordChunk: async (_runId, record) => {
        seen.push(record);
        return 'run-finished';
      },
      finalize: async () => null,
      workerId: 'w1',
      stats: newWorkerStats(),
    });
    const commit = c.commit(ctx, {
      chunkIndex: 0,
      rows: [okRow('/a.jpg', 0)],
      model,
      failed: false,
      facts: { inputSha256: 'ef'.repeat(32), metadata: { 'vgg.inputs_sha256': 'ef'.repeat(32) } },
      fence,
    });
    await expect(commit).rejects.toMatchObject({ code: 'CHUNK_FENCED', refusal: 'run-finished' });
    expect(seen[0]?.inputSha256).toBe('ef'.repeat(32));
    const shard = await readShardSummary(await ctx.store.get('shards/chunk-000000.parquet'));
    expect(shard.metadata.get('vgg.inputs_sha256')).toBe('ef'.repeat(32));
  });
});
