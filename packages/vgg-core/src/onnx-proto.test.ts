import { describe, expect, it } from 'vitest';
import { decodeOnnxModel, encodeOnnxModel, ONNX_DTYPE, type OnnxModel, tensorInts } from './onnx-proto.js';

describe('ONNX protobuf codec', () => {
  it('round-trips a model with attributes of every kind, negative ints and external data', () => {
    const raw = new Uint8Array(new BigInt64Array([-1n, 3n]).buffer);
    const model: OnnxModel = {
      irVersion: 8,
      opsetImports: [{ domain: '', version: 17 }],
      producerName: 'test',
      producerVersion: '1',
      docString: 'doc',
      graph: {
        name: 'g',
        nodes: [
          {
            name: 'n0',
            opType: 'Op',
            inputs: ['x', 'w'],
            outputs: ['y'],
            attributes: [
              { name: 'f', type: 'float', f: 1.5 },
              { name: 'i', type: 'int', i: -1 },
              { name: 'big', type: 'int', i: 2 ** 40 + 3 },
              { name: 's', type: 'string', s: 'héllo' },
              { name: 'fs', type: 'floats', floats: [0.25, -2] },
              { name: 'is', type: 'ints', ints: [1, -2, 300] },
              {
                name: 't',
                type: 'tensor',
                t: { name: 'c', dims: [2], dataType: ONNX_DTYPE.INT64, rawData: raw },
              },
            ],
          },
        ],
        initializers: [
          {
            name: 'w',
            dims: [64, 3, 3, 3],
            dataType: ONNX_DTYPE.FLOAT,
            externalData: { location: 'weights.safetensors', offset: 4096, length: 6912 },
          },
          { name: 'k', dims: [3], dataType: ONNX_DTYPE.INT64, int64Data: [5, -6, 7] },
        ],
        inputs: [{ name: 'x', elemType: ONNX_DTYPE.FLOAT, shape: ['batch', 3, 224, 224] }],
        outputs: [
          { name: 'y', elemType: ONNX_DTYPE.FLOAT, shape: [null, 1000] },
          { name: 'z', elemType: ONNX_DTYPE.FLOAT, shape: null },
        ],
        valueInfo: [],
      },
    };
    const decoded = decodeOnnxModel(encodeOnnxModel(model));
    expect(decoded.irVersion).toBe(8);
    expect(decoded.opsetImports).toEqual([{ domain: '', version: 17 }]);
    expect(decoded.producerName).toBe('test');
    expect(decoded.graph.inputs).toEqual(model.graph.inputs);
    expect(decoded.graph.outputs).toEqual(model.graph.outputs);
    const node = decoded.graph.nodes[0]!;
    expect(node).toMatchObject({ name: 'n0', opType: 'Op', inputs: ['x', 'w'], outputs: ['y'] });
    expect(node.attributes.slice(0, 6)).toEqual(model.graph.nodes[0]!.attributes.slice(0, 6));
    const t = node.attributes[6]!;
    expect(t.type === 'tensor' && tensorInts(t.t)).toEqual([-1, 3]);
    expect(decoded.graph.initializers[0]).toMatchObject({
      name: 'w',
      dims: [64, 3, 3, 3],
      dataType: 1,
      externalData: { location: 'weights.safetensors', offset: 4096, length: 6912 },
    });
    expect(tensorInts(decoded.graph.initializers[1]!)).toEqual([5, -6, 7]);
  });

  it('reads packed repeated ints as written by other encoders', () => {
    // TensorProto { dims: packed [2, 300] (field 1, wire 2), data_type: 7 }, wrapped in a node attribute 't'.
    const tensor = [0x0a, 0x03, 0x02, 0xac, 0x02, 0x10, 0x07, 0x42, 0x01, 0x63];
    const attribute = [0x0a, 0x01, 0x74, 0x2a, tensor.length, ...tensor, 0xa0, 0x01, 0x04];
    const node = [0x22, 0x08, ...Buffer.from('Constant'), 0x2a, attribute.length, ...attribute];
    const graph = [0x0a, node.length, ...node];
    const model = Uint8Array.from([0x08, 0x08, 0x3a, graph.length, ...graph]);
    const decoded = decodeOnnxModel(model);
    const attr = decoded.graph.nodes[0]!.attributes[0]!;
    expect(attr.type).toBe('tensor');
    expect(attr.type === 'tensor' && attr.t.dims).toEqual([2, 300]);
    expect(attr.type === 'tensor' && attr.t.name).toBe('c');
  });

  it('rejects truncated input', () => {
    const bytes = encodeOnnxModel({
      irVersion: 8,
      opsetImports: [],
      graph: { name: 'g', nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [] },
    });
    expect(() => decodeOnnxModel(bytes.subarray(0, bytes.length - 1))).toThrow(/runs past the end/);
    expect(() => decodeOnnxModel(Uint8Array.from([0x08, 0x08]))).toThrow(/no graph/);
  });
});
