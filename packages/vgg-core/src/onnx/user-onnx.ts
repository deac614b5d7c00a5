import { VggError } from '../errors.js';
import { DEFAULT_INPUT_SIZE } from '../model-config.js';
import {
  dataTypeName,
  type ModelProto,
  type OnnxDim,
  TensorProto_DataType as DataType,
  type ValueInfoProto,
  valueElemType,
  valueShape,
} from './onnx-codec.js';

/** What the runtime needs to know about a user-supplied classifier graph. */
export interface UserOnnxSignature {
  readonly inputName: string;
  /** Height and width of the square input. */
  readonly inputSize: number;
  /** Fixed batch size the graph demands, or null when the batch axis is dynamic. */
  readonly fixedBatchSize: number | null;
  /** The graph's first output, taken as logits [N, C]. */
  readonly outputName: string;
  readonly numClasses: number;
}

export interface UserOnnxExpectations {
  /** Input size to use when the graph leaves height and width symbolic; must match fixed ones. Default 224. */
  inputSize?: number;
  /** Class count to use when the output's class axis is symbolic; must match a fixed one. Default: required then. */
  numClasses?: number;
}

/**
 * Validates that a graph takes one float image batch [N, 3, H, W] (N dynamic or fixed, H = W) and gives logits
 * [N, C] as its first output.
 */
export function checkUserOnnx(
  model: ModelProto,
  path: string,
  expect: UserOnnxExpectations = {},
): UserOnnxSignature {
  const fail = (detail: string): VggError =>
    new VggError('VGG_WEIGHTS', `ONNX file ${path} is not a usable image classifier: ${detail}`);
  const graph = model.graph;
  if (graph === undefined) throw fail('the file holds no graph');
  const initializers = new Set(graph.initializer.map((t) => t.name));
  const inputs = graph.input.filter((input) => !initializers.has(input.name));
  if (inputs.length !== 1) {
    throw fail(
      `expected exactly one input but the graph has ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`,
    );
  }
  const input = inputs[0]!;
  checkFloat(input, 'input', fail);
  const shape = valueShape(input);
  if (shape === null || shape.length !== 4) {
    throw fail(`expected input ${input.name} of shape [N, 3, H, W] but received ${describeShape(shape)}`);
  }
  const [batch, channels, height, width] = shape as [OnnxDim, OnnxDim, OnnxDim, OnnxDim];
  if (typeof channels === 'number' && channels !== 3) {
    throw fail(`expected 3 channels in input ${input.name} but received ${describeShape(shape)}`);
  }
  let inputSize: number;
  if (typeof height === 'number' || typeof width === 'number') {
    if (height !== width) {
      throw fail(`expected a square input (H = W) but received ${describeShape(shape)}`);
    }
    inputSize = height as number;
    if (expect.inputSize !== undefined && expect.inputSize !== inputSize) {
      throw new VggError(
        'VGG_INVALID_OPTION',
        `Expected inputSize ${inputSize} or unset for ONNX file ${path} (input ${describeShape(shape)}) but received ${expect.inputSize}`,
        { option: 'inputSize' },
      );
    }
  } else {
    inputSize = expect.inputSize ?? DEFAULT_INPUT_SIZE;
  }
  if (graph.output.length === 0) throw fail('the graph has no outputs');
  const output = graph.output[0]!;
  checkFloat(output, 'output', fail);
  const outputShape = valueShape(output);
  if (outputShape !== null && outputShape.length !== 2) {
    throw fail(`expected output ${output.name} of shape [N, C] but received ${describeShape(outputShape)}`);
  }
  const classes = outputShape?.[1] ?? null;
  let numClasses: number;
  if (typeof classes === 'number' && classes > 0) {
    numClasses = classes;
    if (expect.numClasses !== undefined && expect.numClasses !== numClasses) {
      throw new VggError(
        'VGG_INVALID_OPTION',
        `Expected numClasses ${numClasses} or unset for ONNX file ${path} but received ${expect.numClasses}`,
        { option: 'numClasses' },
      );
    }
  } else if (expect.numClasses !== undefined) {
    numClasses = expect.numClasses;
  } else {
    throw fail(
      `output ${output.name} has no fixed class count (${describeShape(outputShape)}); pass numClasses`,
    );
  }
  return {
    inputName: input.name,
    inputSize,
    fixedBatchSize: typeof batch === 'number' && batch > 0 ? batch : null,
    outputName: output.name,
    numClasses,
  };
}

function checkFloat(value: ValueInfoProto, role: string, fail: (detail: string) => VggError): void {
  const elemType = valueElemType(value);
  if (elemType !== DataType.FLOAT) {
    throw fail(
      `expected ${role} ${value.name} of type float32 but received element type ${dataTypeName(elemType)}`,
    );
  }
}

function describeShape(shape: readonly OnnxDim[] | null): string {
  if (shape === null) return 'no shape';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}
