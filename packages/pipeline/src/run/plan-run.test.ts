import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planRun } from './plan-run.js';

const now = new Date('2026-12-01T00:00:00Z');

function invalid(options: Parameters<typeof planRun>[0]) {
  try {
    planRun(options, now);
  } catch (error) {
    return error as { code: string; field: string; message: string };
  }
  throw new Error('planRun accepted the options');
}

describe('planRun', () => {
  it('stores what a run with default options always stored', () => {
    const { spec, attempts } = planRun({ out: '/tmp/o', runId: 'r1' }, now);
    expect(spec).toEqual({
      runId: 'r1',
      createdAt: now.toISOString(),
      model: { model: 'vgg16', seed: 0 },
      preprocess: {},
      input: { keepCols: [] },
      output: { out: '/tmp/o', topK: 5, taps: [], l2Normalize: false, dtype: 'float32', npy: false },
      chunkSize: 256,
    });
    expect(attempts).toBe(3);
  });

  it('stores how sources are read and refuses kept columns that clash with the outputs', () => {
    const { spec } = planRun(
      { out: '/tmp/o', inputFormat: 'tsv', urlCol: 'URL', keyCol: 'id', keepCols: ['caption', 'NSFW'] },
      now,
    );
    expect(spec.input).toEqual({ format: 'tsv', urlCol: 'URL', keyCol: 'id', keepCols: ['caption', 'NSFW'] });
    expect(() => planRun({ out: '/tmp/o', keepCols: ['caption', 'status'] }, now)).toThrow(
      /Expected names other than the outputs' own columns \(uri, key, status.*\) for --keep-cols but received "caption,status"/,
    );
    expect(() => planRun({ out: '/tmp/o', keepCols: ['a', 'a'] }, now)).toThrow(
      /each column once for --keep-cols/,
    );
    expect(() => planRun({ out: '/tmp/o', inputFormat: 'xls' as never }, now)).toThrow(/--input-format/);
  });

  it("keeps torchvision's resize ratio and crop for other input sizes, and maps the output flags", () => {
    const { spec } = planRun(
      { out: 'rel/out', model: '[8,M]', inputSize: 112, taps: ['fc7', 'pool5'], fp16: true, l2: true },
      now,
    );
    expect(spec.model).toEqual({ model: '[8,M]', seed: 0, inputSize: 112 });
    expect(spec.preprocess).toEqual({ resizeSize: 128, cropSize: 112 });
    expect(spec.output).toEqual({
      out: path.resolve('rel/out'),
      topK: 5,
      taps: ['fc7', 'pool5'],
      l2Normalize: true,
      dtype: 'float16',
      npy: false,
    });
    expect(spec.runId).toMatch(/^run-20261201-000000-[0-9a-f]{4}$/);
  });

  it('stores switches in their old form: batch norm only when on, --caffe as the Caffe mode', () => {
    const on = planRun({ out: 's3://bucket/p/', model: 'vgg11', batchNorm: true, caffe: true }, now).spec;
    expect(on.model).toEqual({ model: 'vgg11', seed: 0, batchNorm: true });
    expect(on.preprocess).toEqual({ mode: 'caffe' });
    expect(on.output.out).toBe('s3://bucket/p');
    const off = planRun({ out: '/o', batchNorm: false, caffe: false }, now).spec;
    expect(off.model).toEqual({ model: 'vgg16', seed: 0 });
    expect(off.preprocess).toEqual({});
  });

  it('stores the preprocessing pipeline and --no-auto-orient as vgg-core options, only when given', () => {
    const spec = planRun({ out: '/o', preprocess: 'fast', noAutoOrient: true }, now).spec;
    expect(spec.preprocess).toEqual({ pipeline: 'fast', autoOrient: false });
    expect(planRun({ out: '/o', preprocess: 'torchvision' }, now).spec.preprocess).toEqual({
      pipeline: 'torchvision',
    });
    expect(planRun({ out: '/o', noAutoOrient: false }, now).spec.preprocess).toEqual({});
  });

  it('refuses taps the model does not have, naming --taps and the valid ones', () => {
    const error = invalid({ out: '/o', taps: ['relu9_9'] });
    expect(error).toMatchObject({ code: 'RUN_INVALID', field: '--taps' });
    expect(error.message).toMatch(
      /^Expected one of relu1_1, relu1_2, .*relu5_3, pool5, fc6, fc7, logits, probs, or gram:<conv tap> \(gram:relu1_2, …\) \(taps of vgg16\) for --taps but received "relu9_9"$/,
    );
    expect(invalid({ out: '/o', onnx: 'm.onnx', taps: ['fc7'] }).message).toContain(
      'Expected one of logits (taps of an ONNX file) for --taps',
    );
    expect(invalid({ out: '/o', taps: ['fc7', 'fc7'] }).field).toBe('--taps');
  });

  it('checks the model and preprocessing against vgg-core, naming the flags', () => {
    expect(invalid({ out: '/o', model: 'vgg17' })).toMatchObject({ field: '--model' });
    expect(invalid({ out: '/o', model: 'vgg17' }).message).toMatch(
      /^Expected a VGG variant .* for --model but/,
    );
    expect(invalid({ out: '/o', inputSize: 8 }).message).toBe(
      'Expected --input-size of at least 16 for a model with 4 max-pools but received 8',
    );
    expect(invalid({ out: '/o', cropSize: 200 }).message).toBe(
      "Expected 224 (the model's --input-size) for --crop-size but received 200",
    );
    expect(invalid({ out: '/o', cropSize: 300 }).message).toMatch(/for --crop-size but received 300$/);
    // A vgg-core message that does not put the option in the usual place still names the flag.
    expect(invalid({ out: '/o', model: '[64,0,M]' })).toMatchObject({ field: '--model' });
    expect(invalid({ out: '/o', model: '[64,0,M]' }).message).toMatch(/^--model: Expected channel counts/);
  });

  it('refuses options that exclude each other or that need taps', () => {
    expect(invalid({ out: '/o', weights: 'w.safetensors', onnx: 'm.onnx' }).message).toBe(
      'Expected at most one of --weights and --onnx but received both',
    );
    expect(invalid({ out: '/o', onnx: 'm.onnx', poolSize: 3 }).message).toBe(
      'Expected at most one of --pool-size and --onnx but received both',
    );
    expect(invalid({ out: '/o', npy: true }).message).toMatch(/add --taps/);
  });

  it('checks values given in code as the flags would', () => {
    expect(invalid({ out: '/o', chunkSize: 0 }).message).toBe(
      'Expected integer between 1 and 10000 for --chunk-size but received 0',
    );
    expect(invalid({ out: 'https://h/x' })).toMatchObject({ field: '--out' });
    expect(invalid({ out: '/o', runId: 'a:b' })).toMatchObject({ field: '--run' });
  });
});
