import { describe, expect, it } from 'vitest';
import { resolvePreprocessOptions } from './preprocess-options.js';

describe('resolvePreprocessOptions', () => {
  it('fills in torchvision ImageNet defaults', () => {
    expect(resolvePreprocessOptions()).toEqual({
      resizeSize: 256,
      cropSize: 224,
      mode: 'torchvision',
      pipeline: 'torchvision',
      autoOrient: true,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      maxPixels: 100_000_000,
      maxBytes: null,
      allowSvg: true,
      timeoutSeconds: 30,
    });
  });

  it('uses Caffe BGR means and unit std in caffe mode', () => {
    const resolved = resolvePreprocessOptions({ mode: 'caffe' });
    expect(resolved.mean).toEqual([103.939, 116.779, 123.68]);
    expect(resolved.std).toEqual([1, 1, 1]);
  });

  it('scales the default resize with the crop so the 256/224 ratio holds', () => {
    expect(resolvePreprocessOptions({ cropSize: 112 }).resizeSize).toBe(128);
    expect(resolvePreprocessOptions({ cropSize: 32, resizeSize: 32 }).resizeSize).toBe(32);
  });

  it('rejects invalid values with sharp-style messages', () => {
    expect(() => resolvePreprocessOptions({ cropSize: 0 })).toThrow(
      'Expected positive integer for cropSize but received 0',
    );
    expect(() => resolvePreprocessOptions({ resizeSize: 2.5 })).toThrow(
      'Expected positive integer for resizeSize but received 2.5',
    );
    expect(() => resolvePreprocessOptions({ cropSize: 300, resizeSize: 256 })).toThrow(
      'Expected integer no larger than resizeSize (256) for cropSize but received 300',
    );
    expect(() => resolvePreprocessOptions({ mode: 'keras' as 'caffe' })).toThrow(
      `Expected one of 'torchvision', 'caffe' for mode but received "keras"`,
    );
    expect(() => resolvePreprocessOptions({ pipeline: 'pil' as 'fast' })).toThrow(
      `Expected one of 'torchvision', 'fast' for pipeline but received "pil"`,
    );
    expect(() => resolvePreprocessOptions({ autoOrient: 'yes' as unknown as boolean })).toThrow(
      'Expected boolean for autoOrient but received "yes"',
    );
    expect(() => resolvePreprocessOptions({ std: [0.2, 0, 0.2] })).toThrow(
      'Expected array of 3 positive numbers for std but received [0.2, 0, 0.2]',
    );
    expect(() => resolvePreprocessOptions({ mean: [1, 2] as unknown as [number, number, number] })).toThrow(
      /for mean/,
    );
    expect(() => resolvePreprocessOptions({ maxBytes: -1 })).toThrow(/for maxBytes but received -1/);
    expect(() => resolvePreprocessOptions({ timeoutSeconds: -1 })).toThrow(/for timeoutSeconds/);
  });

  it('errors carry the VGG_INVALID_OPTION code', () => {
    expect(() => resolvePreprocessOptions({ maxPixels: 0 })).toThrow(
      expect.objectContaining({ code: 'VGG_INVALID_OPTION' }),
    );
  });
});
