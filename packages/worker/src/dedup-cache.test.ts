import { describe, expect, it } from 'vitest';
import { DedupCache, type ImageOutcome } from './dedup-cache.js';

function outcome(embeddingFloats = 0): ImageOutcome {
  return {
    status: 'ok',
    error: null,
    width: 1,
    height: 1,
    sha256: 'x',
    classIds: new Int32Array(5),
    probs: new Float32Array(5),
    embeddings: embeddingFloats ? { fc7: new Float32Array(embeddingFloats) } : null,
  };
}

describe('DedupCache', () => {
  it('computes identical bytes once per run, also while the first is still being inferred', async () => {
    const cache = new DedupCache({ maxBytes: 1 << 20 });
    let computed = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const compute = async () => {
      computed++;
      await gate;
      return outcome();
    };
    const first = cache.share('run-a', 'abc', compute);
    const second = cache.share('run-a', 'abc', compute);
    const otherRun = cache.share('run-b', 'abc', compute);
    release();
    expect((await first).reused).toBe(false);
    expect((await second).reused).toBe(true);
    expect((await otherRun).reused).toBe(false);
    expect((await cache.share('run-a', 'abc', compute)).reused).toBe(true);
    expect(computed).toBe(2);
    expect((await second).outcome).toBe((await first).outcome);
  });

  it('keeps results within its byte budget, least recently used out first', async () => {
    // Each result: 256 bytes of bookkeeping, 40 of top-k, 4,000 of embedding.
    const cache = new DedupCache({ maxBytes: 9_000 });
    for (const sha of ['a', 'b']) await cache.share('r', sha, async () => outcome(1000));
    await cache.share('r', 'a', async () => outcome(1000)); // a is now the most recent
    await cache.share('r', 'c', async () => outcome(1000)); // b goes
    expect(cache.bytes).toBeLessThanOrEqual(9_000);
    expect((await cache.share('r', 'a', async () => outcome(1000))).reused).toBe(true);
    expect((await cache.share('r', 'b', async () => outcome(1000))).reused).toBe(false);
  });

  it('does not keep failures, and shares nothing with a zero budget', async () => {
    const cache = new DedupCache({ maxBytes: 1 << 20 });
    await expect(
      cache.share('r', 'x', async () => Promise.reject(new Error('inference failed'))),
    ).rejects.toThrow();
    expect((await cache.share('r', 'x', async () => outcome())).reused).toBe(false);
    const off = new DedupCache({ maxBytes: 0 });
    await off.share('r', 'y', async () => outcome());
    expect((await off.share('r', 'y', async () => outcome())).reused).toBe(false);
  });
});
