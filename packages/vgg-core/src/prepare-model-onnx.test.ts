// prepareModel with user ONNX files; the generated graphs are in prepare-model.test.ts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveVggConfig } from './model-config.js';
import { encodeOnnxModel, type OnnxDim, TensorProto_DataType, valueInfo } from './onnx/onnx-codec.js';
import { buildVggOnnx } from './onnx/onnx-graph.js';
import { getModelTap, prepareModel } from './prepare-model.js';
import { randomStateDict } from './testing/random-state-dict.js';
import { BATCH, maxAbsDiff, randomInput, runOrt } from './testing/model-run.js';
import { referenceForward } from './testing/reference-forward.js';

let dir: string;
let _cacheDir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vgg-prepare-'));
  _cacheDir = join(dir, 'cache');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('prepareModel with a user ONNX file', () => {
  const config = resolveVggConfig('[4,M,6,M]', {
    batchNorm: true,
    inputSize: 16,
    poolSize: 2,
    classifierWidth: 8,
    numClasses: 6,
  });
  let weights: Map<string, Float32Array>;
  let exported: string;
  beforeAll(async () => {
    weights = randomStateDict(config, 21);
    exported = join(dir, 'exported.onnx');
    // Like torch.onnx.export: weights embedded, one output, custom input name, dynamic batch.
    await writeFile(
      exported,
      buildVggOnnx(config, {
        weights: { kind: 'inline', tensors: weights },
        outputs: ['logits'],
        inputName: 'x.1',
      }),
    );
  });

  it('reads the input and output signature and runs it', async () => {
    const model = await prepareModel({ onnxPath: exported, outputs: ['probs'] });
    expect(model).toMatchObject({
      config: null,
      inputName: 'x.1',
      fixedBatchSize: null,
      weightsPath: null,
      outputs: { logits: 'logits', taps: { logits: { name: 'logits', dim: 6 } } },
      identity: {
        variant: 'onnx:exported.onnx',
        source: 'onnx',
        numClasses: 6,
        inputSize: 16,
        untrained: false,
      },
    });
    expect(model.identity.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
    const input = randomInput(16, 8);
    const out = await runOrt(model, input);
    const expected = referenceForward(config, weights, input, BATCH);
    expect(maxAbsDiff(out.logits!.data, expected.logits!)).toBeLessThanOrEqual(1e-4);
  });

  it('rejects taps other than logits with VGG_UNKNOWN_TAP naming the file', async () => {
    const model = await prepareModel({ onnxPath: exported });
    expect(() => getModelTap(model, 'fc7')).toThrow(
      expect.objectContaining({
        code: 'VGG_UNKNOWN_TAP',
        message: expect.stringContaining(`not available for ONNX file ${exported}`),
      }),
    );
  });

  it('rejects graphs whose input or output is not an image classifier signature', async () => {
    type Value = { name: string; elemType: number; shape: OnnxDim[] };
    const graphWith = async (name: string, inputs: Value[], outputs: Value[]) => {
      const path = join(dir, `${name}.onnx`);
      const node = [{ name: 'id', opType: 'Identity', input: [inputs[0]!.name], output: [outputs[0]!.name] }];
      const info = (v: Value) => valueInfo(v.name, v.elemType, v.shape);
      await writeFile(
        path,
        encodeOnnxModel({
          irVersion: 8n,
          opsetImport: [{ domain: '', version: 17n }],
          graph: { name, node, input: inputs.map(info), output: outputs.map(info) },
        }),
      );
      return path;
    };
    const F = TensorProto_DataType.FLOAT;
    const good = { name: 'logits', elemType: F, shape: ['N', 10] };
    const cases: Array<[string, Value[], Value[], RegExp]> = [
      [
        'rank3',
        [{ name: 'x', elemType: F, shape: ['N', 3, 224] }],
        [good],
        /expected input x of shape \[N, 3, H, W\] but received \[N, 3, 224\]/,
      ],
      [
        'uint8',
        [{ name: 'x', elemType: TensorProto_DataType.UINT8, shape: [1, 3, 8, 8] }],
        [good],
        /of type float32 but received element type UINT8/,
      ],
      ['channels', [{ name: 'x', elemType: F, shape: ['N', 4, 8, 8] }], [good], /expected 3 channels/],
      ['nonsquare', [{ name: 'x', elemType: F, shape: ['N', 3, 8, 9] }], [good], /expected a square input/],
      [
        'two-inputs',
        [
          { name: 'x', elemType: F, shape: ['N', 3, 8, 8] },
          { name: 'y', elemType: F, shape: ['N', 3, 8, 8] },
        ],
        [good],
        /expected exactly one input but the graph has 2 \(x, y\)/,
      ],
      [
        'out-rank',
        [{ name: 'x', elemType: F, shape: ['N', 3, 8, 8] }],
        [{ name: 'o', elemType: F, shape: ['N', 10, 1] }],
        /of shape \[N, C\] but received \[N, 10, 1\]/,
      ],
      [
        'out-dynamic',
        [{ name: 'x', elemType: F, shape: ['N', 3, 8, 8] }],
        [{ name: 'o', elemType: F, shape: ['N', 'C'] }],
        /no fixed class count/,
      ],
    ];
    for (const [name, inputs, outputs, message] of cases) {
      const path = await graphWith(name, inputs, outputs);
      await expect(prepareModel({ onnxPath: path }), name).rejects.toMatchObject({
        code: 'VGG_WEIGHTS',
        message: expect.stringMatching(message),
      });
    }
    const fixed = await graphWith('fixed', [{ name: 'x', elemType: F, shape: [4, 3, 8, 8] }], [good]);
    await expect(prepareModel({ onnxPath: fixed })).resolves.toMatchObject({
      fixedBatchSize: 4,
      identity: { inputSize: 8 },
    });
    await expect(prepareModel({ onnxPath: fixed, inputSize: 224 })).rejects.toThrow(
      /Expected inputSize 8 or unset/,
    );
    const symbolic = await graphWith(
      'symbolic',
      [{ name: 'x', elemType: F, shape: ['N', 3, 'H', 'W'] }],
      [good],
    );
    await expect(prepareModel({ onnxPath: symbolic, inputSize: 64 })).resolves.toMatchObject({
      identity: { inputSize: 64 },
    });
    const garbage = join(dir, 'garbage.onnx');
    await writeFile(garbage, Buffer.from('not a model at all'));
    await expect(prepareModel({ onnxPath: garbage })).rejects.toMatchObject({ code: 'VGG_MODEL_FORMAT' });
    await expect(prepareModel({ onnxPath: join(dir, 'absent.onnx') })).rejects.toThrow(
      /Cannot read ONNX file/,
    );
  });
});
