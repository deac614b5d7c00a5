import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HNSW_SETTINGS, estimateIndexSize, resolveHnswSettings } from './hnsw-settings.js';
import { addToNativeIndex, createNativeIndex } from './native-index.js';

describe('resolveHnswSettings', () => {
  it('applies usearch’s defaults with f16 storage', () => {
    expect(resolveHnswSettings()).toEqual({
      metric: 'cos',
      quantization: 'f16',
      connectivity: 16,
      expansionAdd: 128,
      expansionSearch: 64,
    });
  });

  it('names the option and what it expected', () => {
    expect(() => resolveHnswSettings({ metric: 'dot' as never })).toThrow(
      'Expected one of cos, ip, l2 for metric but received "dot"',
    );
    expect(() => resolveHnswSettings({ connectivity: 1 })).toThrow(
      'Expected integer from 2 to 256 for connectivity but received 1',
    );
    expect(() => resolveHnswSettings({ metric: 'l2', quantization: 'i8' })).toThrow(
      /f32 or f16 with metric l2 \(i8 rescales every vector to unit length/,
    );
  });
});

describe('estimateIndexSize', () => {
  it('predicts the saved file size of each quantisation within 1%', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vgg-index-size-'));
    try {
      const n = 3_000;
      const dim = 96;
      const vectors = Float32Array.from({ length: n * dim }, (_, i) => Math.sin(i * 12.9898) + 0.1);
      const keys = BigUint64Array.from({ length: n }, (_, i) => BigInt(i));
      for (const quantization of ['f32', 'f16', 'i8'] as const) {
        const settings = { ...DEFAULT_HNSW_SETTINGS, quantization };
        const index = createNativeIndex(dim, settings);
        addToNativeIndex(index, keys, vectors, 2);
        const file = path.join(dir, `${quantization}.usearch`);
        index.save(file);
        const actual = (await stat(file)).size;
        expect(Math.abs(estimateIndexSize(n, dim, settings).fileBytes - actual) / actual).toBeLessThan(0.01);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
