import { describe, expect, it } from 'vitest';
import { encodeNpy } from './npy.js';

function header(bytes: Uint8Array): { length: number; text: string } {
  const length = (bytes[8] as number) | ((bytes[9] as number) << 8);
  return { length, text: Buffer.from(bytes.subarray(10, 10 + length)).toString('latin1') };
}

describe('encodeNpy', () => {
  it('writes the version 1.0 header byte for byte, padded to 64 bytes and ending in a newline', () => {
    const data = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const bytes = encodeNpy(data, [2, 3], 'float32');
    const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    const expectedHeader = dict + ' '.repeat(118 - dict.length - 1) + '\n';
    const expected = Buffer.concat([
      Buffer.from([0x93]),
      Buffer.from('NUMPY', 'latin1'),
      Buffer.from([1, 0, 118, 0]),
      Buffer.from(expectedHeader, 'latin1'),
      Buffer.from(data.buffer),
    ]);
    expect(Buffer.from(bytes)).toEqual(expected);
    expect((10 + header(bytes).length) % 64).toBe(0);
  });

  it('writes float16 as <f2 with the raw half bits and any shape alignment', () => {
    const bits = Uint16Array.from([0x3c00, 0xc000]); // 1.0, -2.0
    const bytes = encodeNpy(bits, [1, 2], 'float16');
    const { length, text } = header(bytes);
    expect(text.startsWith("{'descr': '<f2', 'fortran_order': False, 'shape': (1, 2), }")).toBe(true);
    expect(text.endsWith(' \n')).toBe(true);
    expect([...bytes.subarray(10 + length)]).toEqual([0x00, 0x3c, 0x00, 0xc0]);
  });

  it('keeps the data 64-byte aligned for every shape', () => {
    for (const [rows, cols] of [
      [0, 0],
      [7, 1],
      [1000, 4096],
    ] as const) {
      const bytes = encodeNpy(new Float32Array(rows * cols), [rows, cols], 'float32');
      expect((10 + header(bytes).length) % 64).toBe(0);
      expect(header(bytes).text).toContain(`'shape': (${rows}, ${cols}), }`);
    }
  });

  it('checks that data matches the shape and the dtype', () => {
    expect(() => encodeNpy(new Float32Array(5), [2, 3], 'float32')).toThrow(
      'Expected 6 (rows × cols) for data.length but received 5',
    );
    expect(() => encodeNpy(new Float32Array(2), [1, 2], 'float16')).toThrow(/Uint16Array of half-float bits/);
    expect(() => encodeNpy(new Uint16Array(2), [1, 2], 'float32')).toThrow(/Float32Array for dtype float32/);
  });
});
