import type { InferenceRequest, InferenceResult } from 'vgg-core';
import { describe, expect, it } from 'vitest';
import { BatchScheduler } from './batch-scheduler.js';

const request: InferenceRequest = { topK: 2, taps: ['fc7'], l2Normalize: false, dtype: 'float32' };

/** An engine that records batch sizes and answers with each image's first byte as its class. */
function recordingEngine(delayMs: number) {
  const sizes: number[] = [];
  return {
    sizes,
    run: async (images: Uint8Array[]): Promise<InferenceResult> => {
      sizes.push(images.length);
      await new Promise((r) => setTimeout(r, delayMs));
      const n = images.length;
      return {
        count: n,
        topK: {
          k: 2,
          classIds: Int32Array.from(images.flatMap((img) => [img[0]!, img[0]! + 1])),
          probs: new Float32Array(n * 2).fill(0.5),
        },
        embeddings: {
          fc7: {
            dim: 3,
            dtype: 'float32',
            data: Float32Array.from(images.flatMap((img) => [img[0]!, 0, 0])),
          },
        },
        inferenceMs: delayMs,
      };
    },
  };
}

describe('BatchScheduler', () => {
  it('fills batches from many callers while the engine is busy and routes each result to its image', async () => {
    const engine = recordingEngine(30);
    // A generous wait, so only batch size and engine busyness shape the batches even on a loaded machine.
    const scheduler = new BatchScheduler({ engine, request, batchSize: 4, maxWaitMs: 200 });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => scheduler.infer(Uint8Array.of(i * 10))),
    );
    results.forEach((r, i) => {
      expect(Array.from(r.classIds)).toEqual([i * 10, i * 10 + 1]);
      expect(Array.from(r.embeddings.fc7 as Float32Array)).toEqual([i * 10, 0, 0]);
    });
    expect(engine.sizes).toEqual([4, 4, 2]);
  });

  it('runs a partial batch after maxWaitMs instead of waiting for a full one', async () => {
    const engine = recordingEngine(1);
    const scheduler = new BatchScheduler({ engine, request, batchSize: 16, maxWaitMs: 20 });
    const started = performance.now();
    await Promise.all([scheduler.infer(Uint8Array.of(1)), scheduler.infer(Uint8Array.of(2))]);
    expect(engine.sizes).toEqual([2]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  });

  it('rejects every image of a failed batch and keeps serving later ones', async () => {
    let calls = 0;
    const base = recordingEngine(1);
    const engine = {
      run: (images: Uint8Array[]) => (++calls === 1 ? Promise.reject(new Error('boom')) : base.run(images)),
    };
    const scheduler = new BatchScheduler({ engine, request, batchSize: 2, maxWaitMs: 1 });
    const first = await Promise.allSettled([
      scheduler.infer(Uint8Array.of(1)),
      scheduler.infer(Uint8Array.of(2)),
    ]);
    expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(scheduler.infer(Uint8Array.of(3))).resolves.toMatchObject({ classIds: Int32Array.of(3, 4) });
  });

  it('pads partial batches to one fixed shape when asked, returning results only for real images', async () => {
    const engine = recordingEngine(1);
    const scheduler = new BatchScheduler({ engine, request, batchSize: 4, maxWaitMs: 1, padBatches: true });
    const [only] = await Promise.all([scheduler.infer(Uint8Array.of(7))]);
    expect(engine.sizes).toEqual([4]);
    expect(Array.from(only!.classIds)).toEqual([7, 8]);
  });
});
