import { describe, expect, it } from 'vitest';
import { planRun } from './plan-run.js';

function refusal(options: Parameters<typeof planRun>[0]): { code: string; field: string; message: string } {
  try {
    planRun(options);
  } catch (error) {
    return error as { code: string; field: string; message: string };
  }
  throw new Error('planRun accepted the options');
}

describe('pair runs in the run contract', () => {
  it('store the pairs file, the content layer and the weights, read a and b, and classify nothing', () => {
    const { spec } = planRun({
      out: '/tmp/o',
      runId: 'p',
      pairs: 'pairs.csv',
      keyCol: 'id',
      lpipsWeights: 's3://w/lin.safetensors',
    });
    expect(spec.output.pairs).toEqual({
      manifest: 'pairs.csv',
      contentLayer: 'relu2_2',
      lpipsWeights: 's3://w/lin.safetensors',
    });
    expect(spec.output.topK).toBe(0);
    expect(spec.input).toEqual({ urlCol: 'a', keyCol: 'id', keepCols: ['b'], uriCols: ['b'] });
    expect(
      planRun({ out: '/o', pairs: 'p.jsonl', contentLayer: 'relu3_3' }).spec.output.pairs?.contentLayer,
    ).toBe('relu3_3');
  });

  it('refuse what a pair run cannot do, naming the flag', () => {
    expect(refusal({ out: '/o', pairs: 'p.csv', taps: ['fc7'] })).toMatchObject({
      code: 'RUN_INVALID',
      field: '--taps',
    });
    expect(refusal({ out: '/o', pairs: 'p.csv', model: 'vgg11' })).toMatchObject({
      field: '--model',
      message: expect.stringMatching(
        /Expected a model with LPIPS's layers \(relu1_2, .*relu5_3.*\) for --model with --pairs but received "vgg11"/,
      ),
    });
    expect(refusal({ out: '/o', pairs: 'p.csv', contentLayer: 'fc7' })).toMatchObject({
      field: '--content-layer',
      message: expect.stringMatching(
        /^Expected conv taps of vgg16 \(relu1_1, .*\) for --content-layer but received "fc7"/,
      ),
    });
    expect(refusal({ out: '/o', pairs: 'p.txt' })).toMatchObject({
      field: '--pairs',
      message: expect.stringMatching(
        /Expected a manifest of pairs: \.csv, \.tsv, \.jsonl .* for --pairs but received "p.txt"/,
      ),
    });
    expect(refusal({ out: '/o', contentLayer: 'relu3_3' })).toMatchObject({
      field: '--content-layer',
      message: '--content-layer applies to pair runs; add --pairs FILE.',
    });
    expect(refusal({ out: '/o', pairs: 'p.csv', onnx: 'm.onnx' })).toMatchObject({ field: '--onnx' });
  });

  it('store --pair-size native inside pairs, and refuse it without --pairs or with the fast pipeline', () => {
    expect(planRun({ out: '/o', pairs: 'p.csv', pairSize: 'native' }).spec.output.pairs).toEqual({
      manifest: 'p.csv',
      contentLayer: 'relu2_2',
      size: 'native',
    });
    // The default stores nothing, so specs from before the option compare equal on resume.
    expect(planRun({ out: '/o', pairs: 'p.csv', pairSize: 'crop' }).spec.output.pairs).not.toHaveProperty(
      'size',
    );
    expect(refusal({ out: '/o', pairSize: 'native' })).toMatchObject({
      code: 'RUN_INVALID',
      field: '--pair-size',
      message: '--pair-size applies to pair runs; add --pairs FILE.',
    });
    expect(refusal({ out: '/o', pairs: 'p.csv', pairSize: 'native', preprocess: 'fast' })).toMatchObject({
      field: '--pair-size',
      message: expect.stringContaining('--preprocess fast'),
    });
    expect(refusal({ out: '/o', pairs: 'p.csv', pairSize: 'whole' as never })).toMatchObject({
      field: '--pair-size',
    });
  });
});
