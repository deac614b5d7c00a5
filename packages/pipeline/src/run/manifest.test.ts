import { describe, expect, it } from 'vitest';
import { buildManifest, MANIFEST_FORMAT, parseManifest, serializeManifest } from './manifest.js';

const base = {
  runId: 'run-1',
  createdAt: '2026-01-02T03:04:05Z',
  finalizedAt: new Date('2026-01-02T04:00:00Z'),
  model: {
    variant: 'vgg16',
    source: 'seeded',
    weightsSha256: 'ab'.repeat(32),
    untrained: true,
    seed: 7,
    providers: ['cpu', 'cuda', 'cpu'],
    numClasses: 1000,
  },
  preprocessing: { resizeSize: 256, cropSize: 224, mode: 'torchvision' },
  taps: [{ name: 'fc7', dim: 4096, dtype: 'float16' as const }],
  topK: 5,
  inputs: 5,
};

describe('buildManifest', () => {
  it('sorts shards by chunk index and sums totals and error reasons', () => {
    const manifest = buildManifest({
      ...base,
      shards: [
        {
          key: 'shards/part-00002.parquet',
          chunkIndex: 2,
          rows: 2,
          ok: 1,
          error: 1,
          errorsByReason: { decode: 1 },
        },
        {
          key: 'shards/part-00000.parquet',
          chunkIndex: 0,
          rows: 3,
          ok: 1,
          error: 2,
          errorsByReason: { not_found: 1, decode: 1 },
        },
      ],
    });
    expect(manifest).toEqual({
      format: MANIFEST_FORMAT,
      version: 1,
      runId: 'run-1',
      createdAt: '2026-01-02T03:04:05.000Z',
      finalizedAt: '2026-01-02T04:00:00.000Z',
      model: { ...base.model, providers: ['cpu', 'cuda'] },
      preprocessing: base.preprocessing,
      taps: base.taps,
      topK: 5,
      shards: [
        { key: 'shards/part-00000.parquet', chunkIndex: 0, rows: 3, ok: 1, error: 2 },
        { key: 'shards/part-00002.parquet', chunkIndex: 2, rows: 2, ok: 1, error: 1 },
      ],
      totals: { inputs: 5, rows: 5, ok: 2, error: 3, duplicates: 0, skippedMembers: 0 },
      errorsByReason: { decode: 2, not_found: 1 },
    });
    expect(Object.keys(manifest.errorsByReason)).toEqual(['decode', 'not_found']);
  });

  it('rejects duplicate chunks and inconsistent counts', () => {
    const shard = { key: 'k', chunkIndex: 1, rows: 1, ok: 1, error: 0, errorsByReason: {} };
    expect(() => buildManifest({ ...base, shards: [shard, shard] })).toThrow(
      'Expected unique non-negative integer for shards[].chunkIndex but received 1',
    );
    expect(() => buildManifest({ ...base, shards: [{ ...shard, rows: 2 }] })).toThrow(
      'Expected ok + error = 1 for shards[chunk 1].rows but received 2',
    );
  });

  it('round-trips through serializeManifest and parseManifest', () => {
    const manifest = buildManifest({ ...base, shards: [] });
    const bytes = serializeManifest(manifest);
    expect(new TextDecoder().decode(bytes).endsWith('}\n')).toBe(true);
    expect(parseManifest(bytes)).toEqual(manifest);
    expect(() => parseManifest('{"format":"other"}')).toThrow(/for manifest format but received "other"/);
  });
});
