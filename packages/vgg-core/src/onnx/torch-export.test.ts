// vgg-core's ONNX reading on files written by torch.onnx.export itself (test-fixtures/onnx/README.md).
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { inspectModel } from '../inspect-model.js';
import { prepareModel } from '../prepare-model.js';
import { decodeOnnxModel, valueShape } from './onnx-codec.js';

const fixture = (name: string) => new URL(`../../test-fixtures/onnx/${name}`, import.meta.url);
const SIZE = 16;

describe.each(['tiny-vgg-torch', 'tiny-vgg-torch-legacy'])('a torch.onnx.export file (%s)', (name) => {
  const path = fixture(`${name}.onnx`).pathname;
  const expected = JSON.parse(readFileSync(fixture(`${name}.json`), 'utf8')) as { logits: number[][] };

  it('decodes with a dynamic batch axis and inspects to the parameter count of the module', async () => {
    const model = decodeOnnxModel(readFileSync(path));
    expect(valueShape(model.graph!.input[0]!)).toEqual([expect.any(String), 3, SIZE, SIZE]);
    expect(valueShape(model.graph!.output[0]!)).toEqual([expect.any(String), 5]);
    const table = await inspectModel(path);
    // Conv 3->8 and 8->16 (3x3 with bias), Linear 64->12->12->5.
    expect(table.params).toBe(224 + 1168 + 780 + 156 + 65);
    expect(table.rows.at(-1)?.outputShape).toEqual([5]);
  });

  it('prepares as a user classifier and gives torch logits through onnxruntime', async () => {
    const prepared = await prepareModel({ onnxPath: path, outputs: ['probs'] });
    expect(prepared).toMatchObject({
      inputName: 'input',
      fixedBatchSize: null,
      outputs: { logits: 'logits' },
      identity: { source: 'onnx', numClasses: 5, inputSize: SIZE },
    });
    const input = new Float32Array(2 * 3 * SIZE * SIZE).map((_, i, all) => -2 + (4 * i) / (all.length - 1));
    const session = await ort.InferenceSession.create(prepared.onnxPath, { intraOpNumThreads: 1 });
    try {
      const out = await session.run({ input: new ort.Tensor('float32', input, [2, 3, SIZE, SIZE]) });
      const logits = Array.from(out.logits!.data as Float32Array);
      expected.logits.flat().forEach((want, i) => {
        expect(logits[i]).toBeCloseTo(want, 4);
      });
    } finally {
      await session.release();
    }
  });
});
