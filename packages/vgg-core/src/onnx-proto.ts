// A minimal protobuf encoder and decoder for the subset of onnx.proto that VGG graphs use. Field numbers follow
// onnx/onnx.proto (proto2). Repeated scalars are written unpacked (the proto2 default) and read in both forms.

import { VggError } from './errors.js';

/** TensorProto.DataType values used here. */
export const ONNX_DTYPE = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;

export interface OnnxExternalData {
  /** File path relative to the model's directory. */
  readonly location: string;
  /** Byte offset in that file. */
  readonly offset: number;
  /** Byte length. */
  readonly length: number;
}

export interface OnnxTensor {
  readonly name: string;
  readonly dims: readonly number[];
  /** A TensorProto.DataType, see {@link ONNX_DTYPE}. */
  readonly dataType: number;
  /** Little-endian bytes; on decode a view into the model bytes. */
  readonly rawData?: Uint8Array;
  readonly floatData?: readonly number[];
  readonly int64Data?: readonly number[];
  readonly int32Data?: readonly number[];
  readonly externalData?: OnnxExternalData;
}

export type OnnxAttribute =
  | { readonly name: string; readonly type: 'float'; readonly f: number }
  | { readonly name: string; readonly type: 'int'; readonly i: number }
  | { readonly name: string; readonly type: 'string'; readonly s: string }
  | { readonly name: string; readonly type: 'tensor'; readonly t: OnnxTensor }
  | { readonly name: string; readonly type: 'floats'; readonly floats: readonly number[] }
  | { readonly name: string; readonly type: 'ints'; readonly ints: readonly number[] }
  /** Kinds this codec does not model (graphs, sparse tensors, ...); decode only. */
  | { readonly name: string; readonly type: 'other'; readonly typeCode: number };

export interface OnnxNode {
  readonly name: string;
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: readonly OnnxAttribute[];
  readonly domain?: string;
}

/** One dimension: a fixed size, a named symbolic size, or unknown. */
export type OnnxDim = number | string | null;

export interface OnnxValueInfo {
  readonly name: string;
  /** Element type of a tensor value, or 0 when the value is not a tensor or has no type. */
  readonly elemType: number;
  /** Null when the shape is not given at all (unknown rank). */
  readonly shape: readonly OnnxDim[] | null;
}

export interface OnnxGraph {
  readonly name: string;
  readonly nodes: readonly OnnxNode[];
  readonly initializers: readonly OnnxTensor[];
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  readonly valueInfo: readonly OnnxValueInfo[];
  readonly docString?: string;
}

export interface OnnxModel {
  readonly irVersion: number;
  readonly opsetImports: ReadonlyArray<{ readonly domain: string; readonly version: number }>;
  readonly producerName?: string;
  readonly producerVersion?: string;
  readonly docString?: string;
  readonly graph: OnnxGraph;
}

// ---------------------------------------------------------------------------------------------- encoding

class Writer {
  private buffer = new Uint8Array(1024);
  length = 0;

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }

  varint(value: number): void {
    if (!Number.isSafeInteger(value)) throw new RangeError(`Cannot encode ${value} as a protobuf varint`);
    if (value < 0) {
      let big = BigInt.asUintN(64, BigInt(value));
      this.reserve(10);
      while (big >= 0x80n) {
        this.buffer[this.length++] = Number(big & 0x7fn) | 0x80;
        big >>= 7n;
      }
      this.buffer[this.length++] = Number(big);
      return;
    }
    this.reserve(10);
    let v = value;
    while (v >= 0x80) {
      this.buffer[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buffer[this.length++] = v;
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.reserve(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }

  string(field: number, text: string): void {
    this.bytes(field, new TextEncoder().encode(text));
  }

  int(field: number, value: number): void {
    this.tag(field, 0);
    this.varint(value);
  }

  float(field: number, value: number): void {
    this.tag(field, 5);
    this.reserve(4);
    new DataView(this.buffer.buffer).setFloat32(this.length, value, true);
    this.length += 4;
  }

  message(field: number, build: (w: Writer) => void): void {
    const inner = new Writer();
    build(inner);
    this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

/** Serialises a model to ONNX protobuf bytes. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const w = new Writer();
  w.int(1, model.irVersion);
  if (model.producerName !== undefined) w.string(2, model.producerName);
  if (model.producerVersion !== undefined) w.string(3, model.producerVersion);
  if (model.docString !== undefined) w.string(6, model.docString);
  w.message(7, (g) => encodeGraph(g, model.graph));
  for (const opset of model.opsetImports) {
    w.message(8, (o) => {
      o.string(1, opset.domain);
      o.int(2, opset.version);
    });
  }
  return w.finish();
}

function encodeGraph(w: Writer, graph: OnnxGraph): void {
  for (const node of graph.nodes) w.message(1, (n) => encodeNode(n, node));
  w.string(2, graph.name);
  for (const tensor of graph.initializers) w.message(5, (t) => encodeTensor(t, tensor));
  if (graph.docString !== undefined) w.string(10, graph.docString);
  for (const input of graph.inputs) w.message(11, (v) => encodeValueInfo(v, input));
  for (const output of graph.outputs) w.message(12, (v) => encodeValueInfo(v, output));
  for (const info of graph.valueInfo) w.message(13, (v) => encodeValueInfo(v, info));
}

function encodeNode(w: Writer, node: OnnxNode): void {
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  w.string(3, node.name);
  w.string(4, node.opType);
  for (const attribute of node.attributes) w.message(5, (a) => encodeAttribute(a, attribute));
  if (node.domain !== undefined) w.string(7, node.domain);
}

function encodeAttribute(w: Writer, attribute: OnnxAttribute): void {
  w.string(1, attribute.name);
  switch (attribute.type) {
    case 'float':
      w.float(2, attribute.f);
      w.int(20, 1);
      break;
    case 'int':
      w.int(3, attribute.i);
      w.int(20, 2);
      break;
    case 'string':
      w.string(4, attribute.s);
      w.int(20, 3);
      break;
    case 'tensor':
      w.message(5, (t) => encodeTensor(t, attribute.t));
      w.int(20, 4);
      break;
    case 'floats':
      for (const f of attribute.floats) w.float(7, f);
      w.int(20, 6);
      break;
    case 'ints':
      for (const i of attribute.ints) w.int(8, i);
      w.int(20, 7);
      break;
    case 'other':
      throw new VggError(
        'VGG_MODEL_FORMAT',
        `Cannot encode ONNX attribute ${attribute.name} of type ${attribute.typeCode}`,
      );
  }
}

function encodeTensor(w: Writer, tensor: OnnxTensor): void {
  for (const d of tensor.dims) w.int(1, d);
  w.int(2, tensor.dataType);
  for (const f of tensor.floatData ?? []) w.float(4, f);
  for (const i of tensor.int32Data ?? []) w.int(5, i);
  for (const i of tensor.int64Data ?? []) w.int(7, i);
  w.string(8, tensor.name);
  if (tensor.rawData !== undefined) w.bytes(9, tensor.rawData);
  if (tensor.externalData !== undefined) {
    const entries: Array<[string, string]> = [
      ['location', tensor.externalData.location],
      ['offset', String(tensor.externalData.offset)],
      ['length', String(tensor.externalData.length)],
    ];
    for (const [key, value] of entries) {
      w.message(13, (e) => {
        e.string(1, key);
        e.string(2, value);
      });
    }
    w.int(14, 1);
  }
}

function encodeValueInfo(w: Writer, info: OnnxValueInfo): void {
  w.string(1, info.name);
  w.message(2, (type) => {
    type.message(1, (tensorType) => {
      tensorType.int(1, info.elemType);
      if (info.shape !== null) {
        const shape = info.shape;
        tensorType.message(2, (s) => {
          for (const dim of shape) {
            s.message(1, (d) => {
              if (typeof dim === 'number') d.int(1, dim);
              else if (typeof dim === 'string') d.string(2, dim);
            });
          }
        });
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------- decoding

interface Field {
  readonly field: number;
  readonly wire: number;
  /** Varint or fixed value (wire 0, 1, 5). */
  readonly value: number;
  /** Length-delimited payload (wire 2). */
  readonly start: number;
  readonly end: number;
}

class Reader {
  constructor(
    readonly bytes: Uint8Array,
    private readonly view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  ) {}

  *fields(start: number, end: number): Generator<Field> {
    let pos = start;
    while (pos < end) {
      const [key, afterKey] = this.varint(pos, end);
      pos = afterKey;
      const field = Math.floor(key / 8);
      const wire = key % 8;
      switch (wire) {
        case 0: {
          const [value, next] = this.varint(pos, end);
          pos = next;
          yield { field, wire, value, start: 0, end: 0 };
          break;
        }
        case 1:
          if (pos + 8 > end) throw truncated();
          yield { field, wire, value: this.view.getFloat64(pos, true), start: pos, end: pos + 8 };
          pos += 8;
          break;
        case 2: {
          const [length, next] = this.varint(pos, end);
          if (next + length > end) throw truncated();
          yield { field, wire, value: 0, start: next, end: next + length };
          pos = next + length;
          break;
        }
        case 5:
          if (pos + 4 > end) throw truncated();
          yield { field, wire, value: this.view.getFloat32(pos, true), start: pos, end: pos + 4 };
          pos += 4;
          break;
        default:
          throw new VggError(
            'VGG_MODEL_FORMAT',
            `Invalid protobuf: unsupported wire type ${wire} at byte ${pos}`,
          );
      }
    }
  }

  /** Reads a varint as a signed 64-bit value converted to a number (exact within ±2^53). */
  varint(start: number, end: number): [number, number] {
    let pos = start;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (pos >= end) throw truncated();
      const byte = this.bytes[pos++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return [result, pos];
      scale *= 0x80;
    }
    // Long varints (negative int64 or beyond 49 bits): fall back to BigInt.
    let big = BigInt(result);
    let shift = 49n;
    for (;;) {
      if (pos >= end || shift > 63n) throw truncated();
      const byte = this.bytes[pos++]!;
      big |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) break;
      shift += 7n;
    }
    return [Number(BigInt.asIntN(64, big)), pos];
  }

  string(f: Field): string {
    return new TextDecoder().decode(this.bytes.subarray(f.start, f.end));
  }

  /** Repeated integer field entry: one unpacked value or a packed run. */
  ints(f: Field, into: number[]): void {
    if (f.wire === 0) {
      into.push(f.value);
      return;
    }
    let pos = f.start;
    while (pos < f.end) {
      const [value, next] = this.varint(pos, f.end);
      into.push(value);
      pos = next;
    }
  }

  floats(f: Field, into: number[]): void {
    if (f.wire === 5) {
      into.push(f.value);
      return;
    }
    for (let pos = f.start; pos + 4 <= f.end; pos += 4) into.push(this.view.getFloat32(pos, true));
  }
}

function truncated(): VggError {
  return new VggError('VGG_MODEL_FORMAT', 'Invalid protobuf: a field runs past the end of its message');
}

/** Parses ONNX protobuf bytes. Tensor raw data are views into `bytes`, not copies. */
export function decodeOnnxModel(bytes: Uint8Array): OnnxModel {
  const r = new Reader(bytes);
  let irVersion = 0;
  let graph: OnnxGraph | null = null;
  let producerName: string | undefined;
  let producerVersion: string | undefined;
  let docString: string | undefined;
  const opsetImports: Array<{ domain: string; version: number }> = [];
  for (const f of r.fields(0, bytes.length)) {
    if (f.field === 1 && f.wire === 0) irVersion = f.value;
    else if (f.field === 2 && f.wire === 2) producerName = r.string(f);
    else if (f.field === 3 && f.wire === 2) producerVersion = r.string(f);
    else if (f.field === 6 && f.wire === 2) docString = r.string(f);
    else if (f.field === 7 && f.wire === 2) graph = decodeGraph(r, f.start, f.end);
    else if (f.field === 8 && f.wire === 2) {
      let domain = '';
      let version = 0;
      for (const o of r.fields(f.start, f.end)) {
        if (o.field === 1 && o.wire === 2) domain = r.string(o);
        else if (o.field === 2 && o.wire === 0) version = o.value;
      }
      opsetImports.push({ domain, version });
    }
  }
  if (graph === null) throw new VggError('VGG_MODEL_FORMAT', 'Invalid ONNX model: no graph');
  return {
    irVersion,
    opsetImports,
    graph,
    ...(producerName !== undefined ? { producerName } : {}),
    ...(producerVersion !== undefined ? { producerVersion } : {}),
    ...(docString !== undefined ? { docString } : {}),
  };
}

function decodeGraph(r: Reader, start: number, end: number): OnnxGraph {
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const inputs: OnnxValueInfo[] = [];
  const outputs: OnnxValueInfo[] = [];
  const valueInfo: OnnxValueInfo[] = [];
  let name = '';
  for (const f of r.fields(start, end)) {
    if (f.wire !== 2) continue;
    switch (f.field) {
      case 1:
        nodes.push(decodeNode(r, f.start, f.end));
        break;
      case 2:
        name = r.string(f);
        break;
      case 5:
        initializers.push(decodeTensor(r, f.start, f.end));
        break;
      case 11:
        inputs.push(decodeValueInfo(r, f.start, f.end));
        break;
      case 12:
        outputs.push(decodeValueInfo(r, f.start, f.end));
        break;
      case 13:
        valueInfo.push(decodeValueInfo(r, f.start, f.end));
        break;
    }
  }
  return { name, nodes, initializers, inputs, outputs, valueInfo };
}

function decodeNode(r: Reader, start: number, end: number): OnnxNode {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attributes: OnnxAttribute[] = [];
  let name = '';
  let opType = '';
  let domain: string | undefined;
  for (const f of r.fields(start, end)) {
    if (f.wire !== 2) continue;
    if (f.field === 1) inputs.push(r.string(f));
    else if (f.field === 2) outputs.push(r.string(f));
    else if (f.field === 3) name = r.string(f);
    else if (f.field === 4) opType = r.string(f);
    else if (f.field === 5) attributes.push(decodeAttribute(r, f.start, f.end));
    else if (f.field === 7) domain = r.string(f);
  }
  return { name, opType, inputs, outputs, attributes, ...(domain !== undefined ? { domain } : {}) };
}

function decodeAttribute(r: Reader, start: number, end: number): OnnxAttribute {
  let name = '';
  let type = 0;
  let f32: number | undefined;
  let i64: number | undefined;
  let s: string | undefined;
  let t: OnnxTensor | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  for (const f of r.fields(start, end)) {
    if (f.field === 1 && f.wire === 2) name = r.string(f);
    else if (f.field === 2 && f.wire === 5) f32 = f.value;
    else if (f.field === 3 && f.wire === 0) i64 = f.value;
    else if (f.field === 4 && f.wire === 2) s = r.string(f);
    else if (f.field === 5 && f.wire === 2) t = decodeTensor(r, f.start, f.end);
    else if (f.field === 7) r.floats(f, floats);
    else if (f.field === 8) r.ints(f, ints);
    else if (f.field === 20 && f.wire === 0) type = f.value;
  }
  // Old exporters omit `type`; infer it from the field that is present.
  if (type === 0) {
    if (f32 !== undefined) type = 1;
    else if (i64 !== undefined) type = 2;
    else if (s !== undefined) type = 3;
    else if (t !== undefined) type = 4;
    else if (floats.length > 0) type = 6;
    else if (ints.length > 0) type = 7;
  }
  switch (type) {
    case 1:
      return { name, type: 'float', f: f32 ?? 0 };
    case 2:
      return { name, type: 'int', i: i64 ?? 0 };
    case 3:
      return { name, type: 'string', s: s ?? '' };
    case 4:
      if (t !== undefined) return { name, type: 'tensor', t };
      break;
    case 6:
      return { name, type: 'floats', floats };
    case 7:
      return { name, type: 'ints', ints };
  }
  return { name, type: 'other', typeCode: type };
}

function decodeTensor(r: Reader, start: number, end: number): OnnxTensor {
  const dims: number[] = [];
  const floatData: number[] = [];
  const int32Data: number[] = [];
  const int64Data: number[] = [];
  const external = new Map<string, string>();
  let dataType = 0;
  let name = '';
  let rawData: Uint8Array | undefined;
  let dataLocation = 0;
  for (const f of r.fields(start, end)) {
    switch (f.field) {
      case 1:
        r.ints(f, dims);
        break;
      case 2:
        dataType = f.value;
        break;
      case 4:
        r.floats(f, floatData);
        break;
      case 5:
        r.ints(f, int32Data);
        break;
      case 7:
        r.ints(f, int64Data);
        break;
      case 8:
        name = r.string(f);
        break;
      case 9:
        rawData = r.bytes.subarray(f.start, f.end);
        break;
      case 13: {
        let key = '';
        let value = '';
        for (const e of r.fields(f.start, f.end)) {
          if (e.field === 1) key = r.string(e);
          else if (e.field === 2) value = r.string(e);
        }
        external.set(key, value);
        break;
      }
      case 14:
        dataLocation = f.value;
        break;
    }
  }
  const tensor: {
    -readonly [K in keyof OnnxTensor]: OnnxTensor[K];
  } = { name, dims, dataType };
  if (rawData !== undefined) tensor.rawData = rawData;
  if (floatData.length > 0) tensor.floatData = floatData;
  if (int32Data.length > 0) tensor.int32Data = int32Data;
  if (int64Data.length > 0) tensor.int64Data = int64Data;
  if (dataLocation === 1) {
    tensor.externalData = {
      location: external.get('location') ?? '',
      offset: Number(external.get('offset') ?? 0),
      length: Number(external.get('length') ?? -1),
    };
  }
  return tensor;
}

function decodeValueInfo(r: Reader, start: number, end: number): OnnxValueInfo {
  let name = '';
  let elemType = 0;
  let shape: OnnxDim[] | null = null;
  for (const f of r.fields(start, end)) {
    if (f.field === 1 && f.wire === 2) name = r.string(f);
    else if (f.field === 2 && f.wire === 2) {
      for (const tf of r.fields(f.start, f.end)) {
        if (tf.field !== 1 || tf.wire !== 2) continue;
        for (const tt of r.fields(tf.start, tf.end)) {
          if (tt.field === 1 && tt.wire === 0) elemType = tt.value;
          else if (tt.field === 2 && tt.wire === 2) {
            shape = [];
            for (const d of r.fields(tt.start, tt.end)) {
              if (d.field !== 1 || d.wire !== 2) continue;
              let dim: OnnxDim = null;
              for (const dv of r.fields(d.start, d.end)) {
                if (dv.field === 1 && dv.wire === 0) dim = dv.value;
                else if (dv.field === 2 && dv.wire === 2) dim = r.string(dv);
              }
              shape.push(dim);
            }
          }
        }
      }
    }
  }
  return { name, elemType, shape };
}

/** Reads the integer values of a small int64/int32 tensor (shapes, axes), from raw or typed data. */
export function tensorInts(tensor: OnnxTensor): number[] | null {
  if (tensor.int64Data) return [...tensor.int64Data];
  if (tensor.int32Data) return [...tensor.int32Data];
  if (!tensor.rawData) return null;
  const view = new DataView(tensor.rawData.buffer, tensor.rawData.byteOffset, tensor.rawData.byteLength);
  const out: number[] = [];
  if (tensor.dataType === ONNX_DTYPE.INT64) {
    for (let i = 0; i + 8 <= view.byteLength; i += 8) out.push(Number(view.getBigInt64(i, true)));
  } else if (tensor.dataType === ONNX_DTYPE.INT32) {
    for (let i = 0; i + 4 <= view.byteLength; i += 4) out.push(view.getInt32(i, true));
  } else {
    return null;
  }
  return out;
}
