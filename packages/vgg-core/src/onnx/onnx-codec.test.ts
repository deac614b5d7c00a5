import { describe, expect, it } from 'vitest';
import { isVggError } from '../errors.js';
import { resolveVggConfig } from '../model-config.js';
import { Xoshiro128 } from '../seeded-init.js';
import { randomStateDict } from '../testing/random-state-dict.js';
import {
  AttributeProto_AttributeType as AttributeType,
  decodeOnnxModel,
  encodeOnnxModel,
  intAttribute,
  intsAttribute,
  stringAttribute,
  TensorProto_DataType as DataType,
  tensorAttribute,
  tensorDims,
  tensorInts,
  valueElemType,
  valueInfo,
  valueShape,
} from './onnx-codec.js';
import { buildVggOnnx } from './onnx-graph.js';

/** Protobuf framing for hand-made bytes: a varint, and a length-delimited field. */
const varint = (value: number): number[] => {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
};
const field = (number: number, payload: readonly number[]): number[] => [
  ...varint(number * 8 + 2),
  ...varint(payload.length),
  ...payload,
];
const text = (s: string): number[] => [...Buffer.from(s)];
/** A ModelProto around one NodeProto (model.graph.node). */
const modelWithNode = (node: readonly number[]): Uint8Array =>
  Uint8Array.from([0x08, 0x08, ...field(7, field(1, node))]);

/** Decodes or throws; anything thrown must be a VggError with VGG_MODEL_FORMAT. */
function decodeOrFormatError(bytes: Uint8Array): 'decoded' | 'rejected' {
  try {
    decodeOnnxModel(bytes);
    return 'decoded';
  } catch (error) {
    if (!isVggError(error, 'VGG_MODEL_FORMAT')) throw error;
    return 'rejected';
  }
}

describe('ONNX codec (generated from onnx.proto)', () => {
  it('round-trips attributes of every kind, negative and 2^40 ints, external data and symbolic shapes', () => {
    const raw = new Uint8Array(new BigInt64Array([-1n, 3n]).buffer);
    const bytes = encodeOnnxModel({
      irVersion: 8n,
      opsetImport: [{ domain: '', version: 17n }],
      producerName: 'test',
      graph: {
        name: 'g',
        node: [
          {
            name: 'n0',
            opType: 'Op',
            input: ['x', 'w'],
            output: ['y'],
            attribute: [
              { name: 'f', type: AttributeType.FLOAT, f: 1.5 },
              { name: 'i', type: AttributeType.INT, i: -1n },
              { name: 'big', type: AttributeType.INT, i: 2n ** 40n + 3n },
              { name: 's', type: AttributeType.STRING, s: Buffer.from('héllo') },
              { name: 'is', type: AttributeType.INTS, ints: [1n, -2n, 300n] },
              {
                name: 't',
                type: AttributeType.TENSOR,
                t: { name: 'c', dims: [2n], dataType: DataType.INT64, rawData: raw },
              },
            ],
          },
        ],
        initializer: [{ name: 'k', dims: [3n], dataType: DataType.INT64, int64Data: [5n, -6n, 7n] }],
        input: [valueInfo('x', DataType.FLOAT, ['batch', 3, 224, 224])],
        output: [valueInfo('y', DataType.FLOAT, [null, 1000]), valueInfo('z', DataType.FLOAT, null)],
      },
    });
    const model = decodeOnnxModel(bytes);
    expect(model.irVersion).toBe(8n);
    expect(model.opsetImport.map((o) => [o.domain, o.version])).toEqual([['', 17n]]);
    expect(model.producerName).toBe('test');
    const graph = model.graph!;
    expect(valueShape(graph.input[0]!)).toEqual(['batch', 3, 224, 224]);
    expect(valueElemType(graph.input[0]!)).toBe(DataType.FLOAT);
    expect(valueShape(graph.output[0]!)).toEqual([null, 1000]);
    expect(valueShape(graph.output[1]!)).toBeNull();
    const node = graph.node[0]!;
    expect(node.attribute.find((a) => a.name === 'f')?.f).toBe(1.5);
    expect(intAttribute(node, 'i')).toBe(-1);
    expect(intAttribute(node, 'big')).toBe(2 ** 40 + 3);
    expect(stringAttribute(node, 's')).toBe('héllo');
    expect(intsAttribute(node, 'is')).toEqual([1, -2, 300]);
    expect(intsAttribute(node, 'i')).toBeNull();
    expect(tensorInts(tensorAttribute(node, 't')!)).toEqual([-1, 3]);
    expect(tensorInts(graph.initializer[0]!)).toEqual([5, -6, 7]);
  });

  it('writes external-data initializers that point into a weights file', () => {
    const config = resolveVggConfig('[4,M]', {
      inputSize: 8,
      poolSize: 1,
      classifierWidth: 4,
      numClasses: 3,
    });
    const tensors = new Map(
      [...randomStateDict(config, 1)].map(([name, data], i) => [
        name,
        { byteOffset: 64 * i, byteLength: data.byteLength },
      ]),
    );
    const model = decodeOnnxModel(
      buildVggOnnx(config, { weights: { kind: 'external', location: 'w.safetensors', tensors } }),
    );
    const weight = model.graph!.initializer.find((t) => t.name === 'features.0.weight')!;
    expect(tensorDims(weight)).toEqual([4, 3, 3, 3]);
    expect(weight.dataLocation).toBe(1);
    expect(Object.fromEntries(weight.externalData.map((e) => [e.key, e.value]))).toEqual({
      location: 'w.safetensors',
      offset: String(tensors.get('features.0.weight')!.byteOffset),
      length: String(4 * 3 * 3 * 3 * 4),
    });
  });

  it('returns embedded tensor data as views of the file bytes, not copies', () => {
    const config = resolveVggConfig('[8,M,16,M]', {
      inputSize: 16,
      poolSize: 2,
      classifierWidth: 32,
      numClasses: 5,
    });
    const weights = randomStateDict(config, 2);
    const bytes = buildVggOnnx(config, {
      weights: { kind: 'inline', tensors: weights },
      outputs: ['logits'],
    });
    const model = decodeOnnxModel(bytes);
    const fc = model.graph!.initializer.find((t) => t.name === 'classifier.0.weight')!;
    expect(fc.rawData.buffer).toBe(bytes.buffer);
    expect(new Float32Array(fc.rawData.slice().buffer)).toEqual(weights.get('classifier.0.weight'));
  });

  it('reads packed repeated ints and attributes without a type, as older exporters write them', () => {
    // TensorProto { dims: packed [2, 300], data_type: INT64, name: 'c' } in attribute 't' of a Constant node,
    // and an attribute 'axis' with only `i` set (no `type`, as before IR version 2).
    const tensor = [0x0a, 0x03, 0x02, 0xac, 0x02, 0x10, 0x07, ...field(8, text('c'))];
    const typed = [...field(1, text('t')), ...field(5, tensor), 0xa0, 0x01, 0x04];
    const untyped = [...field(1, text('axis')), 0x18, 0x03];
    const node = [...field(4, text('Constant')), ...field(5, typed), ...field(5, untyped)];
    const decoded = decodeOnnxModel(modelWithNode(node)).graph!.node[0]!;
    expect(tensorDims(tensorAttribute(decoded, 't')!)).toEqual([2, 300]);
    expect(tensorAttribute(decoded, 't')!.name).toBe('c');
    expect(intAttribute(decoded, 'axis')).toBe(3);
  });

  it('rejects every truncation of a real graph with VGG_MODEL_FORMAT or decodes the valid prefix', () => {
    const config = resolveVggConfig('[4,M]', {
      inputSize: 8,
      poolSize: 1,
      classifierWidth: 4,
      numClasses: 3,
    });
    const bytes = buildVggOnnx(config, { weights: { kind: 'inline', tensors: randomStateDict(config, 3) } });
    const outcomes = new Set<string>();
    for (let length = 0; length < bytes.length; length += 1) {
      outcomes.add(decodeOrFormatError(bytes.subarray(0, length)));
    }
    expect(outcomes).toContain('rejected');
    expect(() => decodeOnnxModel(bytes.subarray(0, bytes.length - 1))).toThrow(
      /Cannot parse ONNX model as ONNX/,
    );
    expect(() => decodeOnnxModel(Uint8Array.from([0x08, 0x08]))).toThrow(/holds no ONNX graph/);
    expect(() => decodeOnnxModel(new Uint8Array(0))).toThrow(/holds no ONNX graph/);
  });

  it('rejects garbage bytes with VGG_MODEL_FORMAT and never anything else', () => {
    const rng = new Xoshiro128(7, 1);
    let rejected = 0;
    for (let trial = 0; trial < 300; trial += 1) {
      const bytes = new Uint8Array(1 + Math.floor(rng.uniform(0, 4096)));
      for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(rng.uniform(0, 256));
      if (decodeOrFormatError(bytes) === 'rejected') rejected += 1;
    }
    expect(rejected).toBe(300);
    expect(() => decodeOnnxModel(Buffer.from('not a model at all'))).toThrow(
      expect.objectContaining({
        code: 'VGG_MODEL_FORMAT',
        message: expect.stringMatching(/torch.onnx.export/),
      }),
    );
  });

  it('rejects hostile framing: overlong varints, lengths past the end, group wire types', () => {
    const cases: Array<[string, number[]]> = [
      ['overlong varint', [0x08, ...new Array(11).fill(0xff), 0x01]],
      ['length past the end', [0x3a, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00]],
      ['start group', [0x3b]],
      ['wire type 7', [0x3f, 0x00]],
      ['field number 0', [0x02, 0x00]],
    ];
    for (const [name, bytes] of cases) {
      expect(() => decodeOnnxModel(Uint8Array.from(bytes)), name).toThrow(
        expect.objectContaining({ code: 'VGG_MODEL_FORMAT' }),
      );
    }
  });

  it('refuses subgraphs nested past the recursion limit instead of overflowing the stack', () => {
    // Graph -> Node -> Attribute(g) -> Graph ... 40 levels deep: 120 nested messages.
    let graph: number[] = [];
    for (let level = 0; level < 40; level += 1) {
      const attribute = [...field(1, text('body')), ...field(6, graph)];
      graph = field(1, [...field(4, text('Loop')), ...field(5, attribute)]);
    }
    const bytes = Uint8Array.from([0x08, 0x08, ...field(7, graph)]);
    expect(() => decodeOnnxModel(bytes)).toThrow(
      expect.objectContaining({ code: 'VGG_MODEL_FORMAT', message: expect.stringMatching(/recursion/) }),
    );
  });
});
