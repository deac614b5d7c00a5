import { describe, expect, it } from 'vitest';
import { DEFAULT_HNSW_SETTINGS } from '../hnsw/hnsw-settings.js';
import { defaultMaxPartVectors, planParts } from './part-plan.js';

const shard = (ok: number, i: number) => ({ key: `s${i}`, chunkIndex: i, rows: ok + 1, ok, error: 1 });

describe('planParts', () => {
  it('groups consecutive shards up to the limit, never splitting one', () => {
    const shards = [100, 100, 100, 250, 10, 10].map(shard);
    expect(planParts(shards, 200)).toEqual([
      { first: 0, count: 2, okRows: 200 },
      { first: 2, count: 1, okRows: 100 },
      { first: 3, count: 1, okRows: 250 },
      { first: 4, count: 2, okRows: 20 },
    ]);
    expect(planParts([], 10)).toEqual([]);
    expect(() => planParts(shards, 0)).toThrow('Expected positive integer for maxPartVectors but received 0');
  });

  it('fits half the memory by default: about 1.5 M fc7 vectors in f16 on a 24 GiB machine', () => {
    const n = defaultMaxPartVectors(4096, DEFAULT_HNSW_SETTINGS, 24 * 2 ** 30);
    expect(n).toBeGreaterThan(1_400_000);
    expect(n).toBeLessThan(1_600_000);
  });
});
