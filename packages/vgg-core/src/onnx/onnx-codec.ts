// ONNX models as the messages generated from onnx.proto (./generated, @bufbuild/protobuf), with the few readers
// vgg-core needs on top: plain numbers for int64 fields, attributes by name, value shapes.
import { create, fromBinary, isFieldSet, type MessageInitShape, toBinary } from '@bufbuild/protobuf';
import { VggError } from '../errors.js';
import {
  type AttributeProto,
  AttributeProto_AttributeType as AttributeType,
  AttributeProtoSchema,
  type ModelProto,
  ModelProtoSchema,
  type NodeProto,
  type TensorProto,
  TensorProto_DataType as DataType,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from './generated/onnx_pb.js';

export type {
  AttributeProto,
  GraphProto,
  ModelProto,
  NodeProto,
  TensorProto,
  ValueInfoProto,
} from './generated/onnx_pb.js';
export { AttributeProto_AttributeType, TensorProto_DataType } from './generated/onnx_pb.js';

/** Nesting deeper than this (subgraphs in attributes) is refused rather than recursed into. */
const RECURSION_LIMIT = 64;

/**
 * Parses ONNX protobuf bytes. Tensor `rawData` are views into `bytes`, not copies, so a model with hundreds of MB
 * of embedded initializers decodes in milliseconds. Bytes that are not a protobuf ModelProto with a graph throw
 * VggError('VGG_MODEL_FORMAT').
 */
export function decodeOnnxModel(bytes: Uint8Array, source = 'ONNX model'): ModelProto {
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, bytes, {
      readUnknownFields: false,
      recursionLimit: RECURSION_LIMIT,
    });
  } catch (cause) {
    throw new VggError(
      'VGG_MODEL_FORMAT',
      `Cannot parse ${source} as ONNX (${bytes.length} bytes): ${(cause as Error).message}; ` +
        'expected an .onnx file as written by torch.onnx.export or onnx.save',
      { cause },
    );
  }
  if (model.graph === undefined) {
    throw new VggError(
      'VGG_MODEL_FORMAT',
      `Cannot use ${source} (${bytes.length} bytes): it decodes as a protobuf but holds no ONNX graph; ` +
        'expected an .onnx file as written by torch.onnx.export or onnx.save',
    );
  }
  return model;
}

/** Serialises a model to ONNX protobuf bytes. */
export function encodeOnnxModel(model: MessageInitShape<typeof ModelProtoSchema>): Uint8Array {
  return toBinary(ModelProtoSchema, create(ModelProtoSchema, model));
}

/** One dimension: a fixed size, a named symbolic size, or unknown. */
export type OnnxDim = number | string | null;

/** A tensor value declaration (graph input or output): element type and shape, null shape for unknown rank. */
export function valueInfo(
  name: string,
  elemType: DataType,
  shape: readonly OnnxDim[] | null,
): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: {
      value: {
        case: 'tensorType',
        value: {
          elemType,
          ...(shape === null
            ? {}
            : {
                shape: {
                  dim: shape.map((d) => ({
                    value:
                      typeof d === 'number'
                        ? { case: 'dimValue' as const, value: BigInt(d) }
                        : typeof d === 'string'
                          ? { case: 'dimParam' as const, value: d }
                          : { case: undefined },
                  })),
                },
              }),
        },
      },
    },
  });
}

/** Element type of a tensor value, or UNDEFINED (0) when the value is not a tensor or has no type. */
export function valueElemType(info: ValueInfoProto): DataType {
  const type = info.type?.value;
  return type?.case === 'tensorType' ? type.value.elemType : DataType.UNDEFINED;
}

/** Shape of a tensor value; null when no shape is given (unknown rank). */
export function valueShape(info: ValueInfoProto): OnnxDim[] | null {
  const type = info.type?.value;
  if (type?.case !== 'tensorType' || type.value.shape === undefined) return null;
  return type.value.shape.dim.map((d) =>
    d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : null,
  );
}

/** A tensor's dimensions as numbers. */
export function tensorDims(tensor: TensorProto): number[] {
  return tensor.dims.map(Number);
}

/** Reads the integer values of a small int64/int32 tensor (shapes, axes), from raw or typed data. */
export function tensorInts(tensor: TensorProto): number[] | null {
  if (tensor.int64Data.length > 0) return tensor.int64Data.map(Number);
  if (tensor.int32Data.length > 0) return [...tensor.int32Data];
  const raw = tensor.rawData;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: number[] = [];
  if (tensor.dataType === DataType.INT64) {
    for (let i = 0; i + 8 <= view.byteLength; i += 8) out.push(Number(view.getBigInt64(i, true)));
  } else if (tensor.dataType === DataType.INT32) {
    for (let i = 0; i + 4 <= view.byteLength; i += 4) out.push(view.getInt32(i, true));
  } else {
    return null;
  }
  return out;
}

/**
 * The kind of value an attribute holds. Old exporters leave `type` unset; it is then inferred from the field
 * that is present, as onnx's own checker does.
 */
export function attributeType(attribute: AttributeProto): AttributeType {
  if (attribute.type !== AttributeType.UNDEFINED) return attribute.type;
  const has = (field: keyof typeof AttributeProtoSchema.field) =>
    isFieldSet(attribute, AttributeProtoSchema.field[field]);
  if (has('f')) return AttributeType.FLOAT;
  if (has('i')) return AttributeType.INT;
  if (has('s')) return AttributeType.STRING;
  if (has('t')) return AttributeType.TENSOR;
  if (attribute.floats.length > 0) return AttributeType.FLOATS;
  if (attribute.ints.length > 0) return AttributeType.INTS;
  return AttributeType.UNDEFINED;
}

function attribute(node: NodeProto, name: string, type: AttributeType): AttributeProto | undefined {
  const found = node.attribute.find((a) => a.name === name);
  return found !== undefined && attributeType(found) === type ? found : undefined;
}

/** An INTS attribute as numbers, or null when the node has no such attribute. */
export function intsAttribute(node: NodeProto, name: string): number[] | null {
  return attribute(node, name, AttributeType.INTS)?.ints.map(Number) ?? null;
}

/** An INT attribute as a number, or null. */
export function intAttribute(node: NodeProto, name: string): number | null {
  const found = attribute(node, name, AttributeType.INT);
  return found === undefined ? null : Number(found.i);
}

/** A STRING attribute decoded as UTF-8, or null. */
export function stringAttribute(node: NodeProto, name: string): string | null {
  const found = attribute(node, name, AttributeType.STRING);
  return found === undefined ? null : new TextDecoder().decode(found.s);
}

/** A TENSOR attribute, or null. */
export function tensorAttribute(node: NodeProto, name: string): TensorProto | null {
  return attribute(node, name, AttributeType.TENSOR)?.t ?? null;
}

/** The name of a TensorProto.DataType code ("FLOAT", "INT64"), or the number for codes this build does not know. */
export function dataTypeName(code: number): string {
  return DataType[code] ?? String(code);
}
