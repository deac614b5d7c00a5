import { describe, expect, it } from 'vitest';
import { ImageDecodeError } from '../errors.js';
import { decodePnm, isPnm } from './pnm-decode.js';

const MAX_PIXELS = 100_000_000;
const ascii = (text: string) => new TextEncoder().encode(text);
const bytes = (header: string, data: number[]) => new Uint8Array([...ascii(header), ...data]);
const decode = (input: Uint8Array) => [...decodePnm(input, MAX_PIXELS).data];

function reasonOf(input: Uint8Array): string {
  try {
    decodePnm(input, MAX_PIXELS);
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(ImageDecodeError);
    return (error as ImageDecodeError).reason;
  }
}

describe('decodePnm', () => {
  it('recognises P1-P6 by their magic number only', () => {
    expect(isPnm(ascii('P6\n1 1\n255\n'))).toBe(true);
    expect(isPnm(ascii('P7\n'))).toBe(false);
    expect(isPnm(ascii('Pf\n'))).toBe(false);
    expect(isPnm(ascii('PNG'))).toBe(false);
  });

  it('reads raw PPM and PGM, skipping header comments', () => {
    expect(decode(bytes('P6\n# a comment\n2 1\n255\n', [1, 2, 3, 4, 5, 6]))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(decode(bytes('P5 2 1 255\n', [7, 9]))).toEqual([7, 7, 7, 9, 9, 9]);
  });

  it('reads raw PBM with 1 as black and rows padded to a byte', () => {
    // 3x2: row 1 = 1 0 1, row 2 = 0 1 0.
    expect(decode(bytes('P4\n3 2\n', [0b10100000, 0b01000000]))).toEqual([
      0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255,
    ]);
  });

  it('reads plain formats, with comments in the data and PBM digits without separators', () => {
    expect(decode(ascii('P1\n3 1\n1#x\n01'))).toEqual([0, 0, 0, 255, 255, 255, 0, 0, 0]);
    expect(decode(ascii('P3 1 1 15\n15 # max\n0 8\n'))).toEqual([255, 0, 136]);
  });

  it('scales other maxvals with round(v / maxval * 255), halves to even, as Pillow does', () => {
    // 1 / 2 * 255 = 127.5 -> 128 (even), 3 / 10 * 255 = 76.5 -> 76.
    expect(decode(bytes('P6 1 1 2\n', [1, 1, 1]))).toEqual([128, 128, 128]);
    expect(decode(bytes('P5 1 1 10\n', [3]))).toEqual([76, 76, 76]);
    // 16-bit colour: big-endian samples.
    expect(decode(bytes('P6 1 1 65535\n', [0xff, 0xff, 0x80, 0x00, 0x00, 0x80]))).toEqual([255, 128, 0]);
  });

  it('keeps the high byte of 16-bit grey where Pillow clips it to white', () => {
    expect(decode(bytes('P5 2 1 65535\n', [0x12, 0x34, 0x00, 0xff]))).toEqual([0x12, 0x12, 0x12, 0, 0, 0]);
    // maxval 1023: Pillow holds round(v / 1023 * 65535); 512 -> 32800 -> high byte 128.
    expect(decode(bytes('P5 1 1 1023\n', [0x02, 0x00]))).toEqual([128, 128, 128]);
  });

  it('refuses damaged files with the documented reasons', () => {
    expect(reasonOf(bytes('P6 2 2 255\n', [1, 2, 3]))).toBe('truncated');
    expect(reasonOf(ascii('P2 2 1 255\n1'))).toBe('truncated');
    expect(reasonOf(ascii('P6 x 1 255\n'))).toBe('corrupt');
    expect(reasonOf(ascii('P6 1 1 70000\n'))).toBe('corrupt');
    expect(reasonOf(ascii('P2 1 1 10\n11\n'))).toBe('corrupt');
    expect(reasonOf(ascii('P1 2 1\n12\n'))).toBe('corrupt');
    expect(reasonOf(ascii('P5 0 1 255\n'))).toBe('corrupt');
    expect(reasonOf(ascii('P5 100000 100000 255\n'))).toBe('too_many_pixels');
    expect(reasonOf(ascii('P5\n'))).toBe('truncated');
    expect(reasonOf(ascii('P5 12345678901 1 255\n'))).toBe('corrupt');
  });
});
