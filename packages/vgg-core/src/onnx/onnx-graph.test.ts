import { describe, expect, it } from 'vitest';
import { resolveVggConfig } from '../model-config.js';
import { randomStateDict } from '../testing/random-state-dict.js';
import { decodeOnnxModel, TensorProto_DataType as DataType, valueElemType } from './onnx-codec.js';
import { buildVggOnnx } from './onnx-graph.js';

const config = resolveVggConfig('[4,M,8,M]', {
  inputSize: 16,
  poolSize: 4,
  classifierWidth: 6,
  numClasses: 3,
});
const weights = { kind: 'inline', tensors: randomStateDict(config, 5) } as const;
const graphOf = (outputs?: readonly string[]) =>
  decodeOnnxModel(buildVggOnnx(config, { weights, ...(outputs ? { outputs } : {}) })).graph!;
const opCounts = (graph: ReturnType<typeof graphOf>) => {
  const counts: Record<string, number> = {};
  for (const node of graph.node) counts[node.opType] = (counts[node.opType] ?? 0) + 1;
  return counts;
};

describe('buildVggOnnx outputs', () => {
  it('declares every tap by default, each conv tap as a ReduceMean', () => {
    const graph = graphOf();
    expect(graph.output.map((o) => o.name)).toEqual([
      'relu1_1',
      'relu2_1',
      'pool5',
      'fc6',
      'fc7',
      'logits',
      'probs',
    ]);
    expect(opCounts(graph).ReduceMean).toBe(3);
  });

  it('declares only the requested taps, in network order, and drops the nodes nothing reads', () => {
    const probs = graphOf(['probs']);
    expect(probs.output.map((o) => o.name)).toEqual(['probs']);
    expect(opCounts(probs)).toEqual({ Conv: 2, Relu: 4, MaxPool: 2, Flatten: 1, Gemm: 3, Softmax: 1 });

    const mixed = graphOf(['fc7', 'relu2_1', 'probs', 'fc7']);
    expect(mixed.output.map((o) => o.name)).toEqual(['relu2_1', 'fc7', 'probs']);
    expect(opCounts(mixed).ReduceMean).toBe(1);

    // Like a plain torch.onnx.export: the network up to the logits, nothing else.
    const plain = graphOf(['logits']);
    expect(plain.output.map((o) => o.name)).toEqual(['logits']);
    expect(Object.keys(opCounts(plain)).sort()).toEqual(['Conv', 'Flatten', 'Gemm', 'MaxPool', 'Relu']);

    // Weights that no kept node reads are left out too.
    const features = graphOf(['relu1_1']);
    expect(features.initializer.map((t) => t.name)).toEqual(['features.0.weight', 'features.0.bias']);
  });

  it('builds a float16 network with float32 edges: cast input, cast outputs, softmax on float32 logits', () => {
    const build = (outputs: string[]) =>
      decodeOnnxModel(buildVggOnnx(config, { weights, outputs, precision: 'float16' })).graph!;
    const graph = build(['fc7', 'probs']);
    expect(new Set(graph.initializer.map((t) => t.dataType))).toEqual(new Set([DataType.FLOAT16]));
    expect(graph.initializer.find((t) => t.name === 'features.0.weight')!.rawData.byteLength).toBe(
      4 * 27 * 2,
    );
    expect(graph.node[0]).toMatchObject({ opType: 'Cast', input: ['input'], output: ['input.f16'] });
    expect(graph.output.map((o) => [o.name, valueElemType(o)])).toEqual([
      ['fc7', DataType.FLOAT],
      ['probs', DataType.FLOAT],
    ]);
    const producer = (name: string) => graph.node.find((n) => n.output.includes(name))!;
    expect(producer('fc7')).toMatchObject({ opType: 'Cast', input: ['fc7.f16'] });
    expect(producer('probs')).toMatchObject({ opType: 'Softmax', input: ['logits'] });
    expect(producer('logits')).toMatchObject({ opType: 'Cast', input: ['logits.f16'] });
    // Only the casts the declared outputs need survive pruning.
    expect(opCounts(graph).Cast).toBe(3);
    expect(() => buildVggOnnx(config, { weights, precision: 'bfloat16' as 'float16' })).toThrow(
      /for precision/,
    );
  });

  it('rejects unknown taps with the list and an empty list as an invalid option', () => {
    expect(() => graphOf(['fc9'])).toThrow(
      expect.objectContaining({
        code: 'VGG_UNKNOWN_TAP',
        message: expect.stringMatching(/relu1_1, relu2_1/),
      }),
    );
    expect(() => graphOf([])).toThrow(expect.objectContaining({ code: 'VGG_INVALID_OPTION' }));
  });
});
