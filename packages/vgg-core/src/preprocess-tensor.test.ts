import { describe, expect, it } from 'vitest';
import { resolvePreprocessOptions } from './preprocess-options.js';
import { toInputTensor } from './preprocess-tensor.js';

const tiny = resolvePreprocessOptions({ cropSize: 2, resizeSize: 2 });

/** A 2x2 HWC RGB crop whose pixel k has channels (base + k, base + 10 + k, base + 20 + k). */
function crop(base: number): Uint8Array {
  const pixels = new Uint8Array(12);
  for (let k = 0; k < 4; k += 1) pixels.set([base + k, base + 10 + k, base + 20 + k], k * 3);
  return pixels;
}

describe('toInputTensor', () => {
  it('normalises like torchvision Normalize(ToTensor(img)) in float32', () => {
    const white = new Uint8Array(12).fill(255);
    const black = new Uint8Array(12);
    const tensor = toInputTensor([black, white], tiny);
    expect(tensor[0]).toBe(Math.fround(Math.fround(0 - Math.fround(0.485)) / Math.fround(0.229)));
    expect(tensor[0]).toBeCloseTo(-2.1179, 4);
    expect(tensor[12]).toBeCloseTo((1 - 0.485) / 0.229, 5);
    expect(tensor[12 + 4]).toBeCloseTo((1 - 0.456) / 0.224, 5);
    expect(tensor[12 + 8]).toBeCloseTo((1 - 0.406) / 0.225, 5);
  });

  it('lays images out as NCHW planes', () => {
    const identity = resolvePreprocessOptions({ cropSize: 2, resizeSize: 2, mode: 'caffe', mean: [0, 0, 0] });
    // caffe with zero mean and unit std passes levels through, in BGR order.
    const tensor = toInputTensor([crop(0), crop(100)], identity);
    expect(Array.from(tensor)).toEqual([
      20, 21, 22, 23, 10, 11, 12, 13, 0, 1, 2, 3, 120, 121, 122, 123, 110, 111, 112, 113, 100, 101, 102, 103,
    ]);
  });

  it('subtracts the Caffe BGR mean in 0..255 without scaling', () => {
    const caffe = resolvePreprocessOptions({ cropSize: 2, resizeSize: 2, mode: 'caffe' });
    const tensor = toInputTensor([crop(0)], caffe);
    expect(tensor[0]).toBeCloseTo(20 - 103.939, 4); // B plane comes first
    expect(tensor[4]).toBeCloseTo(10 - 116.779, 4);
    expect(tensor[8]).toBeCloseTo(0 - 123.68, 4);
  });

  it('writes into a reusable buffer and returns a view of exactly the batch', () => {
    const out = new Float32Array(3 * 12);
    const tensor = toInputTensor([crop(0)], tiny, out);
    expect(tensor.buffer).toBe(out.buffer);
    expect(tensor.length).toBe(12);
    expect(() => toInputTensor([crop(0), crop(0), crop(0), crop(0)], tiny, out)).toThrow(
      'Expected at least 48 (4 images) for out.length but received 36',
    );
  });

  it('rejects crops of the wrong size', () => {
    expect(() => toInputTensor([new Uint8Array(10)], tiny)).toThrow(
      'Expected 12 (2x2x3) for images[0].length but received 10',
    );
  });
});
