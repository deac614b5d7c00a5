import { describe, expect, it } from 'vitest';
import { float16ToFloat32 } from './half-float.js';
import { embeddingRows, topKClasses } from './inference-outputs.js';

function softmax(row: number[]): number[] {
  const max = Math.max(...row);
  const exps = row.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}

describe('topKClasses', () => {
  it('returns the k highest softmax probabilities per row, best first', () => {
    const rows = [
      [0.1, 3, -2, 2.5, 0],
      [5, 4, 3, 2, 1],
    ];
    const { classIds, probs } = topKClasses(new Float32Array(rows.flat()), 2, 5, 3, true);
    expect(Array.from(classIds)).toEqual([1, 3, 0, 0, 1, 2]);
    const expected = rows.flatMap((row, n) => [0, 1, 2].map((i) => softmax(row)[classIds[n * 3 + i]!]!));
    Array.from(probs).forEach((p, i) => {
      expect(p).toBeCloseTo(expected[i]!, 6);
    });
  });

  it('breaks ties towards the lower class id', () => {
    const { classIds } = topKClasses(new Float32Array([1, 2, 2, 1, 2]), 1, 5, 4, true);
    expect(Array.from(classIds)).toEqual([1, 2, 4, 0]);
  });

  it('passes probabilities through when the scores already are probabilities', () => {
    const { classIds, probs } = topKClasses(new Float32Array([0.2, 0.5, 0.3]), 1, 3, 3, false);
    expect(Array.from(classIds)).toEqual([1, 2, 0]);
    expect(Array.from(probs)).toEqual([0.5, 0.3, 0.2].map(Math.fround));
  });

  it('is stable against large logits', () => {
    const { probs } = topKClasses(new Float32Array([1000, 999]), 1, 2, 2, true);
    expect(probs[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
  });
});

describe('embeddingRows', () => {
  const data = new Float32Array([3, 4, 0, 0, 1, 0, 0, 0, 9]);

  it('copies the rows rather than viewing the source', () => {
    const rows = embeddingRows(data, 2, 3, false, 'float32');
    expect(Array.from(rows)).toEqual([3, 4, 0, 0, 1, 0]);
    expect(rows.buffer).not.toBe(data.buffer);
  });

  it('scales each row to unit L2 norm and leaves zero rows alone', () => {
    const rows = embeddingRows(new Float32Array([3, 4, 0, 0]), 2, 2, true, 'float32');
    expect(Array.from(rows)).toEqual([0.6, 0.8, 0, 0].map(Math.fround));
  });

  it('encodes float16 as IEEE binary16 bits', () => {
    const rows = embeddingRows(data, 2, 3, true, 'float16');
    expect(rows).toBeInstanceOf(Uint16Array);
    const decoded = float16ToFloat32(rows as Uint16Array);
    expect(Array.from(rows.subarray(2, 5))).toEqual([0, 0, 0x3c00]);
    decoded.forEach((v, i) => {
      expect(v).toBeCloseTo([0.6, 0.8, 0, 0, 1, 0][i]!, 3);
    });
  });
});
