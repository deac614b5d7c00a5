import type { MessageInitShape } from '@bufbuild/protobuf';
import { invalidOption } from '../errors.js';
import { float32ToFloat16 } from '../half-float.js';
import type { VggConfig } from '../model-config.js';
import { stateDictSpec } from '../state-dict.js';
import type { GraphOps } from '../features/graph-ops.js';
import { addGramNodes } from '../features/gram.js';
import { addPairHead, PAIR_OUTPUT, type PairHeadOptions, pairColumns } from '../features/pair-head.js';
import { GRAM_TAP_PREFIX, getTap, listGramTaps, listTaps, type VggTap } from '../taps.js';
import { adaptivePoolBins, vggLayout } from '../vgg-layout.js';
import {
  AttributeProto_AttributeType as AttributeType,
  encodeOnnxModel,
  TensorProto_DataType as DataType,
  valueInfo,
} from './onnx-codec.js';
import { TensorProto_DataLocation } from './generated/onnx_pb.js';
import type { AttributeProtoSchema, NodeProtoSchema, TensorProtoSchema } from './generated/onnx_pb.js';

type Attribute = MessageInitShape<typeof AttributeProtoSchema>;
type Node = MessageInitShape<typeof NodeProtoSchema> & { input: string[]; output: string[] };
type Tensor = MessageInitShape<typeof TensorProtoSchema> & { name: string };

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;
/** Bump when the generated graph changes, so cached graphs are rebuilt. */
export const GRAPH_FORMAT_VERSION = 3;
/** torch.nn.BatchNorm2d's default epsilon. */
const BN_EPSILON = 1e-5;

/** Where initializers come from: byte ranges of an external float32 file, or data embedded in the graph. */
export type VggOnnxWeights =
  | {
      readonly kind: 'external';
      /** File name relative to the directory of the .onnx file. */
      readonly location: string;
      /** Absolute byte ranges of each state_dict tensor in that file: float32, or float16 for a float16 graph. */
      readonly tensors: ReadonlyMap<string, { readonly byteOffset: number; readonly byteLength: number }>;
    }
  | { readonly kind: 'inline'; readonly tensors: ReadonlyMap<string, Float32Array> };

export interface BuildVggOnnxOptions {
  readonly weights: VggOnnxWeights;
  /**
   * Taps to declare as outputs, by name ("probs", "fc7", "relu3_3"): the graph keeps only the nodes they need, so
   * `['logits']` gives the plain network of a torch.onnx.export. Declared in network order whatever the order
   * here. Default: every tap of {@link listTaps}.
   */
  readonly outputs?: readonly string[];
  /** Name of the image input. Default "input". */
  readonly inputName?: string;
  /**
   * Element type of the weights and of every activation. 'float16' is for CUDA (half the weight memory, tensor
   * cores): the input and the declared outputs stay float32 through Cast nodes at the edges, and softmax runs on
   * float32 logits. External weights must then hold IEEE half floats; inline ones are converted. Default 'float32'.
   */
  readonly precision?: GraphPrecision;
  /**
   * Adds the pair head (perceptual distance, its per-layer terms, feature reconstruction loss) as output
   * {@link PAIR_OUTPUT}, [pairs, columns]: the batch holds the a images, then the b images. The input's height and
   * width are then free (the head only needs conv features), and `outputs` may be empty.
   */
  readonly pair?: PairHeadOptions;
}

export type GraphPrecision = 'float32' | 'float16';

/**
 * Builds the ONNX graph (opset 17, IR 8) of a VGG configuration. Input: float32 [batch, 3, S, S] (batch dynamic).
 * Outputs: the requested taps (default all), each [batch, dim]. Dropout is omitted (inference). Initializers are
 * named after the torchvision state_dict keys. An unknown tap name throws VGG_UNKNOWN_TAP.
 */
export function buildVggOnnx(config: VggConfig, options: BuildVggOnnxOptions): Uint8Array {
  const inputName = options.inputName ?? 'input';
  const pair = options.pair;
  const taps = pair !== undefined && options.outputs?.length === 0 ? [] : selectTaps(config, options.outputs);
  const half = options.precision === 'float16';
  if (options.precision !== undefined && options.precision !== 'float32' && !half) {
    throw invalidOption('precision', "one of 'float32', 'float16'", options.precision);
  }
  // In a float16 graph the network's tap values are named `<tap>.f16` and a Cast gives the float32 `<tap>`.
  const tapValue = (name: string) => (half ? `${name}.f16` : name);
  const layout = vggLayout(config);
  const nodes: Node[] = [];
  const initializers: Tensor[] = [];
  const constants = new Map<string, string>();

  const node = (
    opType: string,
    name: string,
    inputs: string[],
    output: string,
    attribute: Attribute[] = [],
  ) => {
    nodes.push({ name, opType, input: inputs, output: [output], attribute });
    return output;
  };
  const ints = (name: string, values: number[]): Attribute => ({
    name,
    type: AttributeType.INTS,
    ints: values.map(BigInt),
  });
  const int = (name: string, value: number): Attribute => ({
    name,
    type: AttributeType.INT,
    i: BigInt(value),
  });
  const int64Constant = (values: number[]): string => {
    const key = values.join(',');
    const existing = constants.get(key);
    if (existing) return existing;
    const name = `const.i64.${constants.size}`;
    const raw = new Uint8Array(values.length * 8);
    const view = new DataView(raw.buffer);
    for (const [i, v] of values.entries()) view.setBigInt64(i * 8, BigInt(v), true);
    initializers.push({ name, dims: [BigInt(values.length)], dataType: DataType.INT64, rawData: raw });
    constants.set(key, name);
    return name;
  };
  const ops: GraphOps = {
    node: (opType, name, inputs, output, attribute = []) => node(opType, name, inputs, output, attribute),
    nodeOutputs: (opType, name, inputs, outputs, attribute = []) => {
      nodes.push({ name, opType, input: inputs, output: outputs, attribute });
      return outputs;
    },
    ints,
    int,
    int64Constant,
    floatConstant: (name, dims, values) => {
      initializers.push({
        name,
        dims: dims.map(BigInt),
        dataType: DataType.FLOAT,
        rawData: new Uint8Array(
          values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength),
        ),
      });
      return name;
    },
    int64Tensor: (name, values) => {
      const raw = new Uint8Array(values.length * 8);
      const view = new DataView(raw.buffer);
      for (let i = 0; i < values.length; i++) view.setBigInt64(i * 8, BigInt(values[i] as number), true);
      initializers.push({ name, dims: [BigInt(values.length)], dataType: DataType.INT64, rawData: raw });
      return name;
    },
  };
  // Gram taps and the pair head work on float32 features whatever the graph's precision (sums over many
  // positions would lose too much, or overflow, in half floats).
  const grams = new Set(taps.filter((tap) => tap.kind === 'gram').map((tap) => tap.name));
  const pairLayers = new Set(pair ? [...pair.layers, pair.contentLayer] : []);
  const pairFeatures = new Map<string, { value: string; channels: number }>();
  const floats = new Map<string, string>();
  const asFloat = (x: string) => {
    if (!half) return x;
    const existing = floats.get(x);
    if (existing !== undefined) return existing;
    const cast32 = cast(`${x}.cast`, x, DataType.FLOAT, `${x}.f32`);
    floats.set(x, cast32);
    return cast32;
  };
  const globalMean = (name: string, x: string) =>
    node('ReduceMean', name, [x], tapValue(name), [ints('axes', [2, 3]), int('keepdims', 0)]);
  const cast = (name: string, x: string, to: DataType, output: string) =>
    node('Cast', name, [x], output, [int('to', to)]);

  for (const entry of stateDictSpec(config)) {
    if (entry.role === 'bn.num_batches_tracked') continue;
    initializers.push(weightInitializer(entry.name, entry.shape, options.weights, half));
  }

  let x = half ? cast('input.cast', inputName, DataType.FLOAT16, `${inputName}.f16`) : inputName;
  for (const stage of layout.features) {
    if (stage.kind === 'pool') {
      x = node('MaxPool', `features.${stage.index}`, [x], `features.${stage.index}`, [
        ints('kernel_shape', [2, 2]),
        ints('strides', [2, 2]),
      ]);
      continue;
    }
    const conv = `features.${stage.convIndex}`;
    x = node('Conv', conv, [x, `${conv}.weight`, `${conv}.bias`], conv, [
      ints('kernel_shape', [3, 3]),
      ints('pads', [1, 1, 1, 1]),
      ints('strides', [1, 1]),
      ints('dilations', [1, 1]),
      int('group', 1),
    ]);
    if (stage.bnIndex !== null) {
      const bn = `features.${stage.bnIndex}`;
      x = node(
        'BatchNormalization',
        bn,
        [x, `${bn}.weight`, `${bn}.bias`, `${bn}.running_mean`, `${bn}.running_var`],
        bn,
        [{ name: 'epsilon', type: AttributeType.FLOAT, f: BN_EPSILON }],
      );
    }
    x = node('Relu', `features.${stage.reluIndex}`, [x], `features.${stage.reluIndex}`);
    const relu = `relu${stage.block}_${stage.layer}`;
    globalMean(relu, x);
    if (grams.has(`${GRAM_TAP_PREFIX}${relu}`)) {
      addGramNodes(ops, asFloat(x), stage.outChannels, stage.size * stage.size, `${GRAM_TAP_PREFIX}${relu}`);
    }
    if (pairLayers.has(relu)) pairFeatures.set(relu, { value: asFloat(x), channels: stage.outChannels });
  }
  globalMean('pool5', x);

  const size = layout.featureSize;
  const pool = config.poolSize;
  if (size !== pool) {
    if (size % pool === 0) {
      const k = size / pool;
      x = node('AveragePool', 'avgpool', [x], 'avgpool', [
        ints('kernel_shape', [k, k]),
        ints('strides', [k, k]),
      ]);
    } else {
      // PyTorch's adaptive pooling with uneven, possibly overlapping cells: one Slice + ReduceMean per cell.
      const bins = adaptivePoolBins(size, pool);
      const rows: string[] = [];
      bins.forEach(([hStart, hEnd], i) => {
        const row = node(
          'Slice',
          `avgpool.row${i}`,
          [x, int64Constant([hStart]), int64Constant([hEnd]), int64Constant([2])],
          `avgpool.row${i}`,
        );
        const cells = bins.map(([wStart, wEnd], j) => {
          const cell = node(
            'Slice',
            `avgpool.cell${i}_${j}`,
            [row, int64Constant([wStart]), int64Constant([wEnd]), int64Constant([3])],
            `avgpool.cell${i}_${j}`,
          );
          return node('ReduceMean', `avgpool.mean${i}_${j}`, [cell], `avgpool.mean${i}_${j}`, [
            ints('axes', [2, 3]),
            int('keepdims', 1),
          ]);
        });
        rows.push(node('Concat', `avgpool.concat${i}`, cells, `avgpool.concat${i}`, [int('axis', 3)]));
      });
      x = node('Concat', 'avgpool', rows, 'avgpool', [int('axis', 2)]);
    }
  }
  x = node('Flatten', 'flatten', [x], 'flatten', [int('axis', 1)]);
  for (const fc of layout.classifier) {
    const name = `classifier.${fc.index}`;
    const out = fc.relu ? name : tapValue('logits');
    x = node('Gemm', name, [x, `${name}.weight`, `${name}.bias`], out, [int('transB', 1)]);
    if (fc.relu) x = node('Relu', `classifier.${fc.index + 1}`, [x], tapValue(fc.name));
  }
  if (half) {
    for (const tap of listTaps(config)) {
      if (tap.name !== 'probs') cast(`${tap.name}.cast`, tapValue(tap.name), DataType.FLOAT, tap.name);
    }
  }
  node('Softmax', 'probs', ['logits'], 'probs', [int('axis', 1)]);

  const outputs = taps.map((tap) => valueInfo(tap.name, DataType.FLOAT, ['batch', tap.dim]));
  const outputNames = taps.map((tap) => tap.name);
  if (pair) {
    for (const layer of pairLayers) {
      if (!pairFeatures.has(layer)) {
        const convs = listTaps(config).filter((tap) => tap.kind === 'conv');
        throw invalidOption(
          'pair layers',
          `conv taps of ${config.name} (${convs.map((t) => t.name).join(', ')})`,
          layer,
        );
      }
    }
    addPairHead(ops, pairFeatures, pair);
    outputs.push(valueInfo(PAIR_OUTPUT, DataType.FLOAT, ['pairs', pairColumns(pair).length]));
    outputNames.push(PAIR_OUTPUT);
  }
  // Each tap not asked for would cost a full pass over its activation (and keep it alive), so unused nodes go.
  const graphNodes = pruneTo(nodes, outputNames);
  const used = new Set(graphNodes.flatMap((n) => n.input));
  return encodeOnnxModel({
    irVersion: BigInt(ONNX_IR_VERSION),
    opsetImport: [{ domain: '', version: BigInt(ONNX_OPSET) }],
    producerName: 'vgg-core',
    producerVersion: String(GRAPH_FORMAT_VERSION),
    docString:
      `${config.name}: ${JSON.stringify(config)}. Conv taps relu{block}_{layer} and pool5 are ` +
      'global-average-pooled over height and width to [batch, channels].',
    graph: {
      name: config.name,
      node: graphNodes,
      initializer: initializers.filter((t) => used.has(t.name)),
      input: [
        valueInfo(
          inputName,
          DataType.FLOAT,
          pair ? ['batch', 3, 'height', 'width'] : ['batch', 3, config.inputSize, config.inputSize],
        ),
      ],
      output: outputs,
    },
  });
}

function weightInitializer(
  name: string,
  shape: readonly number[],
  weights: VggOnnxWeights,
  half: boolean,
): Tensor {
  const dims = shape.map(BigInt);
  const dataType = half ? DataType.FLOAT16 : DataType.FLOAT;
  if (weights.kind === 'inline') {
    const f32 = weights.tensors.get(name);
    if (!f32) throw new Error(`buildVggOnnx: no inline data for ${name}`);
    const data = half ? float32ToFloat16(f32) : f32;
    return { name, dims, dataType, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  }
  const range = weights.tensors.get(name);
  if (!range) throw new Error(`buildVggOnnx: no external range for ${name}`);
  // onnx's external-data convention: key/value entries, with data_location EXTERNAL.
  return {
    name,
    dims,
    dataType,
    dataLocation: TensorProto_DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: weights.location },
      { key: 'offset', value: String(range.byteOffset) },
      { key: 'length', value: String(range.byteLength) },
    ],
  };
}

/**
 * The taps named in `outputs` (every tap when undefined), in network order, without repeats. Throws
 * VGG_UNKNOWN_TAP for a name the configuration lacks, and VGG_INVALID_OPTION for an empty list.
 */
export function selectTaps(config: VggConfig, outputs: readonly string[] | undefined): VggTap[] {
  const all = listTaps(config);
  if (outputs === undefined) return all;
  if (!Array.isArray(outputs) || outputs.length === 0) {
    throw invalidOption('outputs', 'non-empty array of tap names (e.g. ["probs"])', outputs);
  }
  const wanted = new Set(outputs.map((name) => getTap(config, name).name));
  return [...all, ...listGramTaps(config)].filter((tap) => wanted.has(tap.name));
}

/** Keeps only the nodes the given outputs depend on. */
function pruneTo(nodes: readonly Node[], outputs: readonly string[]): Node[] {
  const needed = new Set(outputs);
  const kept: Node[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!n.output.some((o) => needed.has(o))) continue;
    kept.push(n);
    for (const input of n.input) needed.add(input);
  }
  return kept.reverse();
}
