import { describe, expect, it } from 'vitest';
import { toPilRgb } from './pil-convert.js';
import { bilinearCoefficients, pilBilinearResizeCrop } from './pil-resample.js';
import type { RgbImage } from './rgb-image.js';

function noise(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let state = seed;
  for (let i = 0; i < data.length; i += 1) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state >>> 24;
  }
  return { width, height, data };
}

function whole(image: RgbImage, width: number, height: number): Uint8Array {
  return pilBilinearResizeCrop(image, {
    resizedWidth: width,
    resizedHeight: height,
    left: 0,
    top: 0,
    width,
    height,
  });
}

describe('bilinearCoefficients', () => {
  it("gives Pillow's fixed-point weights: halving 4 pixels widens the triangle to 3 taps", () => {
    // Output 0 is centred on 1.0 with support 2: weights 0.75, 0.75, 0.25, normalised and scaled by 2^22.
    const { ksize, bounds, weights } = bilinearCoefficients(4, 2, 0, 2);
    expect(ksize).toBe(5);
    expect([...bounds]).toEqual([0, 3, 1, 3]);
    expect([...weights.subarray(0, 5)]).toEqual([1797559, 1797559, 599186, 0, 0]);
    expect(weights.subarray(0, 3).reduce((a, b) => a + b, 0)).toBe(1 << 22);
  });

  it('computes any run of outputs as the full set would', () => {
    const all = bilinearCoefficients(1000, 313, 0, 313);
    const part = bilinearCoefficients(1000, 313, 44, 224);
    expect([...part.bounds]).toEqual([...all.bounds.subarray(88, 88 + 448)]);
    expect([...part.weights]).toEqual([...all.weights.subarray(44 * all.ksize, 268 * all.ksize)]);
  });
});

describe('pilBilinearResizeCrop', () => {
  it('returns the same bytes for a crop as the crop of the whole resized image', () => {
    const source = noise(37, 23, 7);
    for (const [width, height] of [
      [50, 31], // up both ways
      [11, 7], // down both ways
      [37, 13], // vertical pass only
      [60, 23], // horizontal pass only
    ] as const) {
      const full = whole(source, width, height);
      for (const [left, top, w, h] of [
        [0, 0, 5, 5],
        [width - 4, height - 3, 4, 3],
        [3, 2, 6, 4],
      ] as const) {
        const crop = pilBilinearResizeCrop(source, {
          resizedWidth: width,
          resizedHeight: height,
          left,
          top,
          width: w,
          height: h,
        });
        const expected: number[] = [];
        for (let y = top; y < top + h; y += 1) {
          expected.push(...full.subarray((y * width + left) * 3, (y * width + left + w) * 3));
        }
        expect([...crop], `${width}x${height} at ${left},${top}`).toEqual(expected);
      }
    }
  });

  it('copies pixels when the size does not change', () => {
    const source = noise(9, 6, 3);
    expect([...whole(source, 9, 6)]).toEqual([...source.data]);
  });

  it('keeps a flat image flat whatever the scale', () => {
    const flat = { width: 40, height: 30, data: new Uint8Array(40 * 30 * 3).fill(173) };
    for (const [w, h] of [
      [7, 5],
      [256, 192],
      [41, 30],
    ] as const) {
      expect(whole(flat, w, h).every((v) => v === 173)).toBe(true);
    }
  });

  it('refuses a crop outside the resized image', () => {
    expect(() =>
      pilBilinearResizeCrop(noise(4, 4, 1), {
        resizedWidth: 8,
        resizedHeight: 8,
        left: 5,
        top: 0,
        width: 4,
        height: 4,
      }),
    ).toThrow(RangeError);
  });
});

describe('toPilRgb', () => {
  it("converts CMYK with Pillow's formula", () => {
    // (c, m, y, k) -> 255 - k - (c * (255 - k)) / 255, rounded Pillow's way.
    const cmyk = new Uint8Array([0, 0, 0, 0, 255, 0, 0, 0, 128, 64, 0, 64, 0, 0, 0, 255]);
    const { data } = toPilRgb({ width: 4, height: 1, channels: 4, layout: 'cmyk', data: cmyk });
    expect([...data]).toEqual([255, 255, 255, 0, 255, 255, 95, 143, 191, 0, 0, 0]);
  });

  it('drops alpha, replicates grey and keeps the high byte of 16-bit samples', () => {
    const rgba = new Uint8Array([1, 2, 3, 0, 4, 5, 6, 255]);
    expect([...toPilRgb({ width: 2, height: 1, channels: 4, layout: 'rgb', data: rgba }).data]).toEqual([
      1, 2, 3, 4, 5, 6,
    ]);
    const greyAlpha16 = new Uint16Array([0x1234, 0, 0xffff, 0xffff]);
    expect([
      ...toPilRgb({ width: 2, height: 1, channels: 2, layout: 'grey', data: greyAlpha16 }).data,
    ]).toEqual([0x12, 0x12, 0x12, 255, 255, 255]);
  });
});
