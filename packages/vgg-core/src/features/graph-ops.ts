import type { MessageInitShape } from '@bufbuild/protobuf';
import type { AttributeProtoSchema } from '../onnx/generated/onnx_pb.js';

export type GraphAttribute = MessageInitShape<typeof AttributeProtoSchema>;

/**
 * The node and constant makers of a graph under construction (buildVggOnnx's), so feature heads (Gram matrices,
 * the pair head) add their nodes to it without knowing how it is encoded.
 */
export interface GraphOps {
  /** Adds a node with one output and returns the output's name. */
  node(opType: string, name: string, inputs: string[], output: string, attribute?: GraphAttribute[]): string;
  /** Adds a node with several outputs. */
  nodeOutputs(
    opType: string,
    name: string,
    inputs: string[],
    outputs: string[],
    attribute?: GraphAttribute[],
  ): string[];
  ints(name: string, values: number[]): GraphAttribute;
  int(name: string, value: number): GraphAttribute;
  /** A shared int64 initializer holding `values` (1-D); returns its name. */
  int64Constant(values: number[]): string;
  /** A float32 initializer of the given shape; returns its name. */
  floatConstant(name: string, dims: number[], values: Float32Array): string;
  /** A named int64 initializer (large index lists that should not be keyed by value). */
  int64Tensor(name: string, values: ArrayLike<number>): string;
}
