import type { ImageSize, PairInferenceResult } from 'vgg-core';
import { describe, expect, it } from 'vitest';
import { PairScheduler } from './pair-scheduler.js';

describe('PairScheduler', () => {
  it('batches only pairs of one size together, oldest size first, and resolves each pair with its own row', async () => {
    const calls: { count: number; size: ImageSize | undefined }[] = [];
    const engine = {
      runPairs: async (a: Uint8Array[], _b: Uint8Array[], size?: ImageSize): Promise<PairInferenceResult> => {
        calls.push({ count: a.length, size });
        // One column: the first byte of a, so each pair's row can be traced back to it.
        return {
          count: a.length,
          columns: ['x'],
          values: Float32Array.from(a, (img) => img[0]!),
          inferenceMs: 0,
        };
      },
    };
    const scheduler = new PairScheduler({ engine, pairsPerBatch: 4, maxWaitMs: 5 });
    const big = { width: 32, height: 32 };
    const small = { width: 16, height: 24 };
    const pixels = (value: number) => Uint8Array.of(value);
    const scores = await Promise.all([
      scheduler.score(pixels(1), pixels(0), big),
      scheduler.score(pixels(2), pixels(0), small),
      scheduler.score(pixels(3), pixels(0), big),
      scheduler.score(pixels(4), pixels(0)),
      scheduler.score(pixels(5), pixels(0), { width: 16, height: 24 }),
    ]);
    expect(scores.map((row) => row[0])).toEqual([1, 2, 3, 4, 5]);
    expect(calls).toEqual([
      { count: 2, size: big },
      { count: 2, size: small },
      { count: 1, size: undefined },
    ]);
  });
});
