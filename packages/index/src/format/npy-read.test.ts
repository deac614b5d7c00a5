import { describe, expect, it } from 'vitest';
import { float32ToFloat16 } from 'vgg-core';
import { encodeNpy } from 'vgg-pipeline';
import { readNpyVectors } from './npy-read.js';

describe('readNpyVectors', () => {
  it('reads (N, D) float32 and float16 files as the pipeline writes them', () => {
    const data = Float32Array.from([1, -2.5, 3, 0.25, 5, 6]);
    expect(readNpyVectors(encodeNpy(data, [2, 3], 'float32'), 'a.npy')).toEqual({ rows: 2, dim: 3, data });
    const half = readNpyVectors(encodeNpy(float32ToFloat16(data), [3, 2], 'float16'), 'b.npy');
    expect(half).toEqual({ rows: 3, dim: 2, data });
  });

  it('reads a 1-D float64 vector as one query', () => {
    const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
    const padded = `${header.padEnd(128 - 10 - 1, ' ')}\n`;
    const bytes = new Uint8Array(10 + padded.length + 24);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(bytes.buffer).setUint16(8, padded.length, true);
    bytes.set(new TextEncoder().encode(padded), 10);
    new Float64Array(bytes.buffer, 10 + padded.length, 3).set([0.5, 1.5, -2]);
    expect(readNpyVectors(bytes, 'c.npy')).toEqual({
      rows: 1,
      dim: 3,
      data: Float32Array.from([0.5, 1.5, -2]),
    });
  });

  it('says what is wrong with other files', () => {
    expect(() => readNpyVectors(new TextEncoder().encode('0.1,0.2,0.3'), 'q.csv')).toThrow(
      'q.csv is not a usable .npy vector file: it does not start with \\x93NUMPY',
    );
    const ints = encodeNpy(Float32Array.from([1, 2]), [1, 2], 'float32');
    const asInts = Buffer.from(ints);
    asInts.write("'<i4'", asInts.indexOf("'<f4'"), 'latin1');
    expect(() => readNpyVectors(asInts, 'i.npy')).toThrow(
      "expected dtype float32, float16 or float64 ('<f4', '<f2', '<f8') but found '<i4'",
    );
    expect(() => readNpyVectors(ints.subarray(0, ints.length - 4), 't.npy')).toThrow(
      /holds 4 data bytes but shape \(1, 2\) needs 8/,
    );
  });
});
