import { describe, expect, it } from 'vitest';
import { modelOptionsForRun, requestedModelIdentity } from './model-binding.js';

describe('modelOptionsForRun', () => {
  it("maps the stored model to vgg-core's options, with local copies of its files", () => {
    expect(modelOptionsForRun({ model: 'vgg11', seed: 3, batchNorm: true, poolSize: 2 })).toEqual({
      model: 'vgg11',
      seed: 3,
      batchNorm: true,
      poolSize: 2,
    });
    expect(
      modelOptionsForRun(
        { model: 'vgg16', seed: 0, weights: 's3://b/w.safetensors' },
        { weightsPath: '/c/w' },
      ),
    ).toEqual({ model: 'vgg16', seed: 0, weightsPath: '/c/w' });
  });

  it('leaves the stored model name and seed out for an ONNX file, which fixes its own architecture', () => {
    expect(
      modelOptionsForRun(
        { model: 'vgg16', seed: 0, onnx: 'https://h/m.onnx', inputSize: 64 },
        { onnxPath: '/c/m' },
      ),
    ).toEqual({ onnxPath: '/c/m', inputSize: 64 });
  });
});

describe('requestedModelIdentity', () => {
  it("names an ONNX run's variant after its file, never after a presigned query", () => {
    const identity = requestedModelIdentity({
      model: 'vgg16',
      seed: 0,
      onnx: 'https://h.example/m.onnx?X-Amz-Signature=SIG&X-Amz-Security-Token=TOK',
    });
    expect(identity.variant).toBe('onnx:m.onnx');
  });

  it("takes vgg-core's word on the variant and on whether the weights are trained", () => {
    expect(requestedModelIdentity({ model: 'vgg16', seed: 4 })).toEqual({
      variant: 'vgg16',
      source: 'seeded',
      untrained: true,
      seed: 4,
    });
    expect(requestedModelIdentity({ model: 'vgg11', seed: 0, batchNorm: true, weights: 'w' })).toEqual({
      variant: 'vgg11_bn',
      source: 'safetensors',
      untrained: false,
      seed: null,
    });
    expect(requestedModelIdentity({ model: 'vgg16', seed: 0, onnx: 's3://b/m/net.onnx' })).toMatchObject({
      variant: 'onnx:net.onnx',
      untrained: false,
    });
  });
});
