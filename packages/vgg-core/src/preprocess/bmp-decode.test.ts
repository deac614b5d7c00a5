import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ImageDecodeError } from '../errors.js';
import { decodeBmp } from './bmp-decode.js';

const MAX_PIXELS = 100_000_000;

/** A BMP with a 40-byte header; `rows` are already in file order and padded. */
function bmp(
  width: number,
  height: number,
  bits: number,
  rows: number[],
  options: { compression?: number; palette?: number[][]; colors?: number; masks?: number[] } = {},
): Uint8Array {
  const palette = (options.palette ?? []).flatMap(([r, g, b]) => [b!, g!, r!, 0]);
  const masks = options.masks ?? [];
  const header = 14 + 40 + masks.length * 4;
  const offset = header + palette.length;
  const out = new Uint8Array(offset + rows.length);
  const view = new DataView(out.buffer);
  out.set([0x42, 0x4d]);
  view.setUint32(2, out.length, true);
  view.setUint32(10, offset, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, bits, true);
  view.setUint32(30, options.compression ?? 0, true);
  view.setUint32(46, options.colors ?? palette.length / 4, true);
  for (const [i, m] of masks.entries()) view.setUint32(54 + i * 4, m, true);
  out.set(palette, header);
  out.set(rows, offset);
  return out;
}

function reasonOf(run: () => unknown): string {
  try {
    run();
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(ImageDecodeError);
    return (error as ImageDecodeError).reason;
  }
}

const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const BLUE = [0, 0, 255];

describe('decodeBmp', () => {
  it('reads bottom-up rows, and top-down rows when the height is negative', () => {
    // 1x2, 24-bit: file rows are B, G, R plus one byte of padding.
    const rows = [0, 0, 255, 0, 0, 255, 0, 0];
    expect([...decodeBmp(bmp(1, 2, 24, rows), MAX_PIXELS).data]).toEqual([...GREEN, ...RED]);
    expect([...decodeBmp(bmp(1, -2, 24, rows), MAX_PIXELS).data]).toEqual([...RED, ...GREEN]);
  });

  it('expands 5-bit channels as Pillow does (v * 255 / 31, truncated)', () => {
    // 5-5-5: 0x7fff is white, 0x0421 is (8, 8, 8) since 1 * 255 / 31 = 8.2.
    const image = decodeBmp(bmp(2, 1, 16, [0xff, 0x7f, 0x21, 0x04]), MAX_PIXELS);
    expect([...image.data]).toEqual([255, 255, 255, 8, 8, 8]);
  });

  it('reads any bitfield layout, including ones Pillow refuses', () => {
    // 32-bit, red in the low byte and blue in the high one, with 4-bit green in bits 8-11.
    const masks = [0xff, 0xf00, 0xff000000];
    const image = decodeBmp(bmp(1, 1, 32, [0x10, 0x0f, 0x00, 0x20], { compression: 3, masks }), MAX_PIXELS);
    expect([...image.data]).toEqual([0x10, 255, 0x20]);
  });

  it("maps a grey-ramp palette's indices to grey levels and other palettes through their colours", () => {
    // 4-bit, 3 pixels: indices 1, 2, 15 (one byte and a half, padded to 4 bytes).
    const row = [0x12, 0xf0, 0, 0];
    const colours = decodeBmp(bmp(3, 1, 4, row, { palette: [RED, GREEN, BLUE] }), MAX_PIXELS);
    // Index 15 lies past the 3-entry palette: black, as in Pillow.
    expect([...colours.data]).toEqual([...GREEN, ...BLUE, 0, 0, 0]);
    const ramp = Array.from({ length: 16 }, (_, i) => [i, i, i]);
    const grey = decodeBmp(bmp(3, 1, 4, row, { palette: ramp }), MAX_PIXELS);
    expect([...grey.data]).toEqual([1, 1, 1, 2, 2, 2, 15, 15, 15]);
  });

  it('decodes RLE8 runs, deltas and end of line, and fills what an end-of-bitmap marker leaves out', () => {
    const palette = [RED, GREEN, BLUE];
    // 4x2, bottom row first: run of 2 x index 1, delta right 1, absolute [2] padded... then EOL; row 2: EOB.
    const data = [2, 1, 0, 2, 1, 0, 1, 2, 0, 0, 0, 1];
    const image = decodeBmp(bmp(4, 2, 8, data, { compression: 1, palette }), MAX_PIXELS);
    // Top row: never written (index 0 = red). Bottom row: green, green, (delta: index 0), blue.
    expect([...image.data]).toEqual([...RED, ...RED, ...RED, ...RED, ...GREEN, ...GREEN, ...RED, ...BLUE]);
  });

  it('keeps the last pixel of odd RLE4 absolute runs (Pillow 13 behaviour)', () => {
    const palette = [RED, GREEN, BLUE];
    // 4x1: absolute run of 3 pixels (1, 2, 1) in 2 bytes, then an encoded run of 1 x index 2, end of bitmap.
    const data = [0, 3, 0x12, 0x10, 1, 0x22, 0, 1];
    const image = decodeBmp(bmp(4, 1, 4, data, { compression: 2, palette }), MAX_PIXELS);
    expect([...image.data]).toEqual([...GREEN, ...BLUE, ...GREEN, ...BLUE]);
  });

  it('refuses an RLE stream that runs out of bytes as truncated', () => {
    const data = [4, 1, 0, 0, 4];
    expect(
      reasonOf(() => decodeBmp(bmp(4, 2, 8, data, { compression: 1, palette: [RED] }), MAX_PIXELS)),
    ).toBe('truncated');
  });

  it('refuses bad headers with the documented reasons, before allocating pixels', () => {
    expect(reasonOf(() => decodeBmp(bmp(0, 1, 24, []), MAX_PIXELS))).toBe('corrupt');
    expect(reasonOf(() => decodeBmp(bmp(1, 1, 7, [0, 0, 0, 0]), MAX_PIXELS))).toBe('corrupt');
    expect(reasonOf(() => decodeBmp(bmp(100_000, 100_000, 24, []), MAX_PIXELS))).toBe('too_many_pixels');
    expect(reasonOf(() => decodeBmp(bmp(4, 4, 24, [1, 2, 3]), MAX_PIXELS))).toBe('truncated');
    expect(reasonOf(() => decodeBmp(bmp(1, 1, 24, [], { compression: 4 }), MAX_PIXELS))).toBe(
      'unsupported_format',
    );
    expect(reasonOf(() => decodeBmp(new Uint8Array([0x42, 0x4d, 1, 2]), MAX_PIXELS))).toBe('truncated');
  });

  it('never throws anything but ImageDecodeError on damaged files', () => {
    const dir = new URL('../../test-fixtures/parity/files/pillow/bmp/', import.meta.url);
    const files = ['g', 'q', 'b'].flatMap((sub) =>
      readdirSync(new URL(`${sub}/`, dir)).map((name) => new URL(`${sub}/${name}`, dir)),
    );
    let state = 12345;
    const random = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 2 ** 32;
    };
    const outcomes = new Set<string>();
    for (const file of files) {
      const original = new Uint8Array(readFileSync(file));
      for (let trial = 0; trial < 30; trial += 1) {
        const damaged = original.slice(0, Math.max(2, Math.floor(original.length * (0.5 + random()))));
        for (let k = 0; k < 4; k += 1) damaged[Math.floor(random() * damaged.length)] = random() * 256;
        damaged.set([0x42, 0x4d]);
        outcomes.add(reasonOf(() => decodeBmp(damaged, 4_000_000)));
      }
    }
    // The damage reaches both outcomes: some files still decode, others fail with a reason.
    expect(outcomes).toContain('ok');
    expect([...outcomes].filter((o) => o !== 'ok').length).toBeGreaterThan(0);
  });
});
