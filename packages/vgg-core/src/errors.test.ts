import { describe, expect, it } from 'vitest';
import { ImageDecodeError, invalidOption, isVggError, VggError, VggWeightsError } from './errors.js';
import { resolveVggConfig } from './model-config.js';

/**
 * A stand-in for the same class loaded from a second copy of vgg-core: a distinct class object whose instances
 * carry the same registry brand, which is all another copy shares with this one.
 */
function foreignImageDecodeError(): Error {
  const error = new Error('corrupt JPEG');
  Object.defineProperty(error, Symbol.for('vgg-core.VggError'), { value: true });
  Object.defineProperty(error, Symbol.for('vgg-core.ImageDecodeError'), { value: true });
  return Object.assign(error, { code: 'VGG_IMAGE_DECODE', reason: 'corrupt' });
}

describe('vgg-core errors', () => {
  it('match on code, narrowing image-decode errors to their reason', () => {
    const error: unknown = new ImageDecodeError('truncated', 'Image ends early', { cause: new Error('eof') });
    expect(isVggError(error)).toBe(true);
    expect(isVggError(error, 'VGG_INVALID_OPTION')).toBe(false);
    expect(isVggError(error, 'VGG_INVALID_OPTION', 'VGG_IMAGE_DECODE')).toBe(true);
    if (!isVggError(error, 'VGG_IMAGE_DECODE')) throw new Error('expected a match');
    expect(error.reason).toBe('truncated');
    expect((error.cause as Error).message).toBe('eof');
  });

  it('do not narrow a plain VggError that claims the image-decode code', () => {
    const error = new VggError('VGG_IMAGE_DECODE', 'no reason given');
    expect(isVggError(error)).toBe(true);
    expect(isVggError(error, 'VGG_IMAGE_DECODE')).toBe(false);
  });

  it('are recognised from another copy of the package, by guard and by instanceof', () => {
    const foreign = foreignImageDecodeError();
    expect(isVggError(foreign, 'VGG_IMAGE_DECODE')).toBe(true);
    expect(foreign instanceof VggError).toBe(true);
    expect(foreign instanceof ImageDecodeError).toBe(true);
    expect(foreign instanceof VggWeightsError).toBe(false);
  });

  it('keep class identity apart: a weights error is a VggError but not an ImageDecodeError', () => {
    const error = new VggWeightsError(
      {
        problem: 'shape',
        tensor: 'features.0.weight',
        expectedShape: [64, 3, 3, 3],
        actualShape: [64],
        path: 'w',
      },
      'bad shape',
    );
    expect(error).toBeInstanceOf(VggError);
    expect(error).not.toBeInstanceOf(ImageDecodeError);
    expect(error).toMatchObject({ name: 'VggWeightsError', code: 'VGG_WEIGHTS', problem: 'shape' });
    expect(new Error('plain') instanceof VggError).toBe(false);
    expect(isVggError(null)).toBe(false);
    expect(isVggError({ code: 'VGG_WEIGHTS' }, 'VGG_WEIGHTS')).toBe(false);
  });

  it('word validation failures as "Expected X for name but received Y"', () => {
    const error = invalidOption('batchSize', 'positive integer', 0);
    expect(error.code).toBe('VGG_INVALID_OPTION');
    expect(error.message).toBe('Expected positive integer for batchSize but received 0');
    expect(invalidOption('taps', 'tap names', ['a', 1]).message).toBe(
      'Expected tap names for taps but received ["a", 1]',
    );
  });

  it('name the option at fault as a field, so callers need not read messages', () => {
    expect(invalidOption('batchSize', 'positive integer', 0).option).toBe('batchSize');
    expect(() => resolveVggConfig('[64,0,M]')).toThrow(expect.objectContaining({ option: 'model' }));
    expect(() => resolveVggConfig('vgg16_bn', { batchNorm: false })).toThrow(
      expect.objectContaining({ option: 'batchNorm' }),
    );
    expect(() => resolveVggConfig('vgg16', { inputSize: 8 })).toThrow(
      expect.objectContaining({ option: 'inputSize' }),
    );
    expect(new VggError('VGG_MODEL_FORMAT', 'not an option').option).toBeUndefined();
  });
});
