import { describe, expect, it } from 'vitest';
import { type RunCliValues, runSpecFromCli } from './cli-options.js';

const base: RunCliValues = { model: 'vgg16', seed: 0, top: 5, chunkSize: 256, attempts: 3 };

describe('runSpecFromCli', () => {
  it('refuses contradictory model files', () => {
    expect(() => runSpecFromCli({ ...base, weights: 'a.safetensors', onnx: 'b.onnx' })).toThrow(
      /either --weights or --onnx/,
    );
  });

  it('refuses embedding options without taps, and duplicate taps', () => {
    expect(() => runSpecFromCli({ ...base, l2: true })).toThrow(/add --taps/);
    expect(() => runSpecFromCli({ ...base, taps: 'fc7,fc7' })).toThrow(/twice/);
  });

  it('keeps torchvision resize ratio and crop for other input sizes', () => {
    const spec = runSpecFromCli({ ...base, model: '[8,M]', inputSize: 112, taps: 'fc7, pool5', fp16: true });
    expect(spec.preprocess).toEqual({ resizeSize: 128, cropSize: 112 });
    expect(spec.output).toMatchObject({ taps: ['fc7', 'pool5'], dtype: 'float16', l2Normalize: false });
    expect(spec.model).toEqual({ model: '[8,M]', seed: 0, inputSize: 112 });
  });
});
