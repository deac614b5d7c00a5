import { describe, expect, it } from 'vitest';
import { VggError } from './errors.js';
import { resolveVggConfig } from './model-config.js';
import { countParameters, stateDictSpec } from './state-dict.js';
import { getTap, listTaps, tapDim } from './taps.js';

describe('resolveVggConfig', () => {
  it('gives the exact torchvision parameter count for all eight standard variants', () => {
    const expected: Record<string, number> = {
      vgg11: 132_863_336,
      vgg13: 133_047_848,
      vgg16: 138_357_544,
      vgg19: 143_667_240,
      vgg11_bn: 132_868_840,
      vgg13_bn: 133_053_736,
      vgg16_bn: 138_365_992,
      vgg19_bn: 143_678_248,
    };
    for (const [name, params] of Object.entries(expected)) {
      expect(countParameters(resolveVggConfig(name)), name).toBe(params);
    }
  });

  it('uses torchvision state_dict keys and module indices', () => {
    const names = stateDictSpec(resolveVggConfig('vgg11_bn')).map((e) => e.name);
    expect(names.slice(0, 7)).toEqual([
      'features.0.weight',
      'features.0.bias',
      'features.1.weight',
      'features.1.bias',
      'features.1.running_mean',
      'features.1.running_var',
      'features.1.num_batches_tracked',
    ]);
    // vgg11_bn: conv 0, bn 1, relu 2, pool 3, conv 4 ...
    expect(names).toContain('features.4.weight');
    expect(names.slice(-6)).toEqual([
      'classifier.0.weight',
      'classifier.0.bias',
      'classifier.3.weight',
      'classifier.3.bias',
      'classifier.6.weight',
      'classifier.6.bias',
    ]);
    const fc6 = stateDictSpec(resolveVggConfig('vgg16')).find((e) => e.name === 'classifier.0.weight');
    expect(fc6?.shape).toEqual([4096, 512 * 7 * 7]);
  });

  it('reads layer lists in Python, JSON and bare form', () => {
    for (const spec of ["[8,'M',16,'M']", '[8, "M", 16, "M"]', '8,M,16,M', ' [8, m, 16, M] ']) {
      const config = resolveVggConfig(spec, {
        classifierWidth: 32,
        numClasses: 10,
        inputSize: 32,
        poolSize: 2,
      });
      expect(config.layers).toEqual([8, 'M', 16, 'M']);
      expect(config.name).toBe('custom[8,M,16,M]');
      expect(config.batchNorm).toBe(false);
    }
    const bn = resolveVggConfig('[8,M]', { batchNorm: true, inputSize: 32 });
    expect(bn.name).toBe('custom_bn[8,M]');
    // fc6 input = last conv channels * poolSize^2
    expect(
      countParameters(resolveVggConfig('[8,M]', { classifierWidth: 4, numClasses: 3, poolSize: 2 })),
    ).toBe(8 * 3 * 9 + 8 + (8 * 4 * 4 + 4) + (4 * 4 + 4) + (4 * 3 + 3));
  });

  it('sets batch norm from the _bn suffix and from the override', () => {
    expect(resolveVggConfig('vgg16_bn').batchNorm).toBe(true);
    expect(resolveVggConfig('VGG16', { batchNorm: true }).name).toBe('vgg16_bn');
    expect(resolveVggConfig('vgg16').name).toBe('vgg16');
  });

  it('rejects bad specs and options with sharp-style messages', () => {
    const cases: Array<[string, object, RegExp]> = [
      ['vgg17', {}, /Expected a VGG variant .* for model but received "vgg17"/],
      ['[8,X]', {}, /cannot read item "X"/],
      ['[M,M]', {}, /Expected at least one conv layer/],
      ['[8,M', {}, /for model but received "\[8,M"/],
      ['[0,M]', {}, /Expected channel counts between 1/],
      [
        'vgg16',
        { inputSize: 16 },
        /Expected inputSize of at least 32 for a model with 5 max-pools but received 16/,
      ],
      ['vgg16', { classifierWidth: 0 }, /Expected positive integer .* for classifierWidth but received 0/],
      ['vgg16', { poolSize: 1.5 }, /for poolSize but received 1.5/],
      ['vgg16_bn', { batchNorm: false }, /Expected batchNorm to be true or unset/],
      ['', {}, /for model but received ""/],
    ];
    for (const [spec, overrides, message] of cases) {
      let error: unknown;
      try {
        resolveVggConfig(spec, overrides);
      } catch (e) {
        error = e;
      }
      expect(error, spec).toBeInstanceOf(VggError);
      expect((error as VggError).code).toBe('VGG_INVALID_OPTION');
      expect((error as VggError).message).toMatch(message);
    }
  });
});

describe('listTaps', () => {
  it('names conv taps relu{block}_{layer} as in the literature', () => {
    const names = listTaps(resolveVggConfig('vgg16')).map((t) => t.name);
    expect(names).toEqual([
      'relu1_1',
      'relu1_2',
      'relu2_1',
      'relu2_2',
      'relu3_1',
      'relu3_2',
      'relu3_3',
      'relu4_1',
      'relu4_2',
      'relu4_3',
      'relu5_1',
      'relu5_2',
      'relu5_3',
      'pool5',
      'fc6',
      'fc7',
      'logits',
      'probs',
    ]);
    const vgg16 = resolveVggConfig('vgg16');
    expect(tapDim(vgg16, 'relu2_2')).toBe(128);
    expect(tapDim(vgg16, 'pool5')).toBe(512);
    expect(tapDim(vgg16, 'fc7')).toBe(4096);
    expect(tapDim(resolveVggConfig('vgg16', { numClasses: 10 }), 'probs')).toBe(10);
  });

  it('rejects a tap the variant lacks with VGG_UNKNOWN_TAP listing the available taps', () => {
    // VGG-11's block 3 has two convs only.
    expect(() => getTap(resolveVggConfig('vgg11'), 'relu3_3')).toThrow(
      expect.objectContaining({
        code: 'VGG_UNKNOWN_TAP',
        message: expect.stringMatching(
          /Expected one of relu1_1, relu2_1, relu3_1, relu3_2, .*fc7.* but received "relu3_3"/,
        ),
      }),
    );
  });
});
