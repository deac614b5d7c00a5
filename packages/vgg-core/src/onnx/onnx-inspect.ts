import type { LayerRow, LayerTable, ReceptiveField } from '../layer-table.js';
import { DEFAULT_INPUT_SIZE } from '../model-config.js';
import { numel } from '../state-dict.js';
import {
  intAttribute as int,
  intsAttribute as ints,
  type ModelProto,
  type NodeProto,
  stringAttribute as str,
  TensorProto_DataType as DataType,
  type TensorProto,
  tensorAttribute,
  tensorDims,
  tensorInts,
  valueShape,
} from './onnx-codec.js';

interface ValueState {
  /** Per-image shape (batch axis dropped), null where unknown. */
  shape: number[] | null;
  rf: ReceptiveField | null;
  jump: number | null;
}

const SAME_SHAPE_OPS = new Set([
  'Relu',
  'LeakyRelu',
  'Sigmoid',
  'Tanh',
  'Clip',
  'Dropout',
  'Identity',
  'Softmax',
  'LogSoftmax',
  'BatchNormalization',
  'LRN',
]);
const BINARY_OPS = new Set(['Add', 'Sub', 'Mul', 'Div']);
const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE, DataType.BFLOAT16]);

/**
 * Builds a layer table from an ONNX graph by simple shape inference over the ops VGG exports use (Conv, pools,
 * BatchNormalization, Flatten, Reshape, Gemm, MatMul, element-wise ops); other ops get an unknown shape.
 */
export function inspectOnnxGraph(
  model: ModelProto,
  name: string,
  notes: string[],
  fallbackInputSize = DEFAULT_INPUT_SIZE,
): LayerTable {
  const graph = model.graph;
  if (graph === undefined) throw new Error('inspectOnnxGraph: the model has no graph');
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const constants = new Map<string, TensorProto>(initializers);
  const values = new Map<string, ValueState>();
  const counted = new Set<string>();
  const imageInput = graph.input.find((input) => !initializers.has(input.name));
  const rawShape = imageInput === undefined ? null : valueShape(imageInput);
  const dim = (d: unknown, fallback: number) => (typeof d === 'number' && d > 0 ? d : fallback);
  const input = [
    dim(rawShape?.[1], 3),
    dim(rawShape?.[2], fallbackInputSize),
    dim(rawShape?.[3], dim(rawShape?.[2], fallbackInputSize)),
  ];
  if (imageInput) values.set(imageInput.name, { shape: input, rf: 1, jump: 1 });

  const rows: LayerRow[] = [];
  for (const node of graph.node) {
    if (node.opType === 'Constant') {
      const t = tensorAttribute(node, 'value');
      if (t !== null && node.output[0]) constants.set(node.output[0], t);
      continue;
    }
    const data = node.input.find((i) => i !== '' && !constants.has(i));
    const inState: ValueState = (data !== undefined ? values.get(data) : undefined) ?? {
      shape: null,
      rf: null,
      jump: null,
    };
    const { state, macs, type } = inferNode(node, inState, constants);
    let params = 0;
    node.input.forEach((inputName, index) => {
      const tensor = initializers.get(inputName);
      // BatchNormalization inputs 3 and 4 are running statistics: buffers, not parameters.
      if (!tensor || counted.has(inputName) || (node.opType === 'BatchNormalization' && index >= 3)) return;
      if (!FLOAT_TYPES.has(tensor.dataType)) return;
      counted.add(inputName);
      params += numel(tensorDims(tensor));
    });
    for (const output of node.output) values.set(output, state);
    rows.push({
      name: node.name || node.output[0] || node.opType,
      module: null,
      type,
      outputShape: state.shape,
      params,
      macs,
      receptiveField: state.rf,
      jump: state.jump,
    });
  }
  return {
    model: name,
    input,
    rows,
    params: rows.reduce((sum, row) => sum + row.params, 0),
    macs: rows.reduce((sum, row) => sum + row.macs, 0),
    notes,
  };
}

function inferNode(
  node: NodeProto,
  input: ValueState,
  constants: ReadonlyMap<string, TensorProto>,
): { state: ValueState; macs: number; type: string } {
  const unknown = { shape: null, rf: null, jump: null };
  const shape = input.shape;
  const op = node.opType;
  if (SAME_SHAPE_OPS.has(op)) return { state: input, macs: 0, type: op };
  if (BINARY_OPS.has(op)) return { state: input, macs: 0, type: op };
  if (op === 'Conv' || op === 'MaxPool' || op === 'AveragePool') {
    const weight = op === 'Conv' ? constants.get(node.input[1] ?? '') : undefined;
    const weightDims = weight === undefined ? undefined : tensorDims(weight);
    const kernel = ints(node, 'kernel_shape') ?? weightDims?.slice(2) ?? null;
    if (kernel?.length !== 2 || !shape || shape.length !== 3) return { state: unknown, macs: 0, type: op };
    const [kh, kw] = kernel as [number, number];
    const strides = ints(node, 'strides') ?? [1, 1];
    const dilations = ints(node, 'dilations') ?? [1, 1];
    const pads = ints(node, 'pads') ?? [0, 0, 0, 0];
    const ceil = (int(node, 'ceil_mode') ?? 0) === 1;
    const autoPad = str(node, 'auto_pad') ?? 'NOTSET';
    const out = [0, 1].map((axis) => {
      const size = shape[axis + 1]!;
      const s = strides[axis] ?? 1;
      if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(size / s);
      const k = (dilations[axis] ?? 1) * ((axis === 0 ? kh : kw) - 1) + 1;
      const span = size + (pads[axis] ?? 0) + (pads[axis + 2] ?? 0) - k;
      return (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    }) as [number, number];
    const channels = op === 'Conv' ? (weightDims?.[0] ?? null) : shape[0]!;
    const group = int(node, 'group') ?? 1;
    const effective = (dilations[0] ?? 1) * (kh - 1) + 1;
    const state: ValueState = {
      shape: channels === null ? null : [channels, out[0], out[1]],
      rf:
        typeof input.rf === 'number' && input.jump !== null
          ? input.rf + (effective - 1) * input.jump
          : input.rf,
      jump: input.jump === null ? null : input.jump * (strides[0] ?? 1),
    };
    const macs =
      op === 'Conv' && channels !== null ? channels * out[0] * out[1] * (shape[0]! / group) * kh * kw : 0;
    return { state, macs, type: `${op} ${kh}x${kw}${(strides[0] ?? 1) > 1 ? `/${strides[0]}` : ''}` };
  }
  if (op === 'GlobalAveragePool' || op === 'GlobalMaxPool') {
    return {
      state: { shape: shape ? [shape[0]!, 1, 1] : null, rf: 'global', jump: null },
      macs: 0,
      type: op,
    };
  }
  if (op === 'ReduceMean') {
    const axes = ints(node, 'axes') ?? tensorValues(constants.get(node.input[1] ?? ''));
    const keep = (int(node, 'keepdims') ?? 1) === 1;
    if (!shape || !axes) return { state: unknown, macs: 0, type: op };
    const reduced = new Set(axes.map((a) => (a < 0 ? a + shape.length + 1 : a) - 1));
    const next = keep
      ? shape.map((d, i) => (reduced.has(i) ? 1 : d))
      : shape.filter((_, i) => !reduced.has(i));
    return { state: { shape: next, rf: 'global', jump: null }, macs: 0, type: `${op} (global)` };
  }
  if (op === 'Flatten') {
    const axis = int(node, 'axis') ?? 1;
    if (!shape || axis !== 1) return { state: unknown, macs: 0, type: op };
    return { state: { ...input, shape: [numel(shape)] }, macs: 0, type: op };
  }
  if (op === 'Reshape') {
    const target = tensorValues(constants.get(node.input[1] ?? ''));
    if (!shape || !target || target.length < 1) return { state: unknown, macs: 0, type: op };
    const perImage = target.slice(1);
    const total = numel(shape);
    const known = perImage.reduce((p, d, i) => (d === -1 ? p : p * (d === 0 ? (shape[i] ?? 1) : d)), 1);
    const next = perImage.map((d, i) => (d === -1 ? total / known : d === 0 ? (shape[i] ?? 1) : d));
    return { state: { ...input, shape: next }, macs: 0, type: op };
  }
  if (op === 'Gemm' || op === 'MatMul') {
    const weight = constants.get(node.input[1] ?? '');
    const dims = weight === undefined ? [] : tensorDims(weight);
    if (dims.length !== 2 || !shape) return { state: unknown, macs: 0, type: op };
    const transB = op === 'Gemm' && (int(node, 'transB') ?? 0) === 1;
    const inFeatures = transB ? dims[1]! : dims[0]!;
    const outFeatures = transB ? dims[0]! : dims[1]!;
    return {
      state: { shape: [...shape.slice(0, -1), outFeatures], rf: 'global', jump: null },
      macs: inFeatures * outFeatures * (numel(shape) / (shape[shape.length - 1] ?? 1)),
      type: op === 'Gemm' ? 'Gemm (Linear)' : 'MatMul',
    };
  }
  return { state: unknown, macs: 0, type: op };
}

function tensorValues(tensor: TensorProto | undefined): number[] | null {
  return tensor ? tensorInts(tensor) : null;
}
