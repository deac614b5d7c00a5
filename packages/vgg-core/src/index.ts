// Public API of vgg-core. Each section is owned by one part of the package;
// add exports to your own section only.

// Errors: match on `code` with isVggError(error, 'VGG_...'); instanceof also works across copies of the package.
export {
  ImageDecodeError,
  invalidOption,
  isVggError,
  VGG_ERROR_CODES,
  VggError,
  VggWeightsError,
} from './errors.js';
export type { ImageErrorReason, VggErrorCode, VggErrorFor, WeightsProblem } from './errors.js';

// --- model: configurations, weights, ONNX building, inspection ---
export {
  DEFAULT_CLASSIFIER_WIDTH,
  DEFAULT_INPUT_SIZE,
  DEFAULT_NUM_CLASSES,
  DEFAULT_POOL_SIZE,
  featureOutputChannels,
  featureOutputSize,
  resolveVggConfig,
  VGG_CFGS,
  VGG_VARIANT_NAMES,
} from './model-config.js';
export type { VggConfig, VggConfigOverrides, VggLayerSpec, VggVariantName } from './model-config.js';
export { adaptivePoolBins, vggLayout } from './vgg-layout.js';
export type { VggConvStage, VggFeatureStage, VggLayout, VggLinearStage, VggPoolStage } from './vgg-layout.js';
export { countParameters, stateDictSpec } from './state-dict.js';
export type { StateDictEntry, StateDictRole } from './state-dict.js';
export { GRAM_TAP_PREFIX, getTap, listGramTaps, listTaps, tapDim } from './taps.js';
export { gramMatrixFromUpper, upperTriangleIndices } from './features/gram.js';
export {
  DEFAULT_CONTENT_LAYER,
  LPIPS_EPSILON,
  LPIPS_LAYERS,
  MIN_NATIVE_SIDE,
  PAIR_OUTPUT,
  type PairHeadOptions,
  pairColumns,
} from './features/pair-head.js';
export { type PairModelOptions, resolvePairLayers } from './features/pair-options.js';
export type { VggTap, VggTapKind } from './taps.js';
export {
  parseSafetensorsHeader,
  readSafetensors,
  readSafetensorsHeader,
  SAFETENSORS_DTYPE_BYTES,
  tensorToFloat32,
  writeSafetensors,
} from './safetensors.js';
export type {
  SafetensorsDtype,
  SafetensorsEntry,
  SafetensorsHeader,
  SafetensorsTensor,
  SafetensorsTensorInfo,
  WriteSafetensorsOptions,
  WriteSafetensorsResult,
} from './safetensors.js';
export { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from './half-float.js';
export { checkStateDict } from './weights-check.js';
export {
  SEEDED_INIT_VERSION,
  seededStateDictEntries,
  seededTensor,
  writeSeededWeights,
  Xoshiro128,
} from './seeded-init.js';
// ONNX: messages generated from onnx.proto (@bufbuild/protobuf), the VGG graph builder, user-file checks.
export {
  AttributeProto_AttributeType,
  decodeOnnxModel,
  encodeOnnxModel,
  TensorProto_DataType,
  valueInfo,
} from './onnx/onnx-codec.js';
export type {
  AttributeProto,
  GraphProto,
  ModelProto,
  NodeProto,
  OnnxDim,
  TensorProto,
  ValueInfoProto,
} from './onnx/onnx-codec.js';
export {
  buildVggOnnx,
  GRAPH_FORMAT_VERSION,
  ONNX_IR_VERSION,
  ONNX_OPSET,
  selectTaps,
} from './onnx/onnx-graph.js';
export type { BuildVggOnnxOptions, GraphPrecision, VggOnnxWeights } from './onnx/onnx-graph.js';
export { inspectOnnxFile, readUserOnnxFile } from './onnx/onnx-file.js';
export { checkUserOnnx } from './onnx/user-onnx.js';
export type { UserOnnxExpectations, UserOnnxSignature } from './onnx/user-onnx.js';
export { DEFAULT_MODEL, DEFAULT_SEED, getModelTap, modelOutputsFor, prepareModel } from './prepare-model.js';
export type { ModelIdentity, ModelOptions, PreparedModel } from './prepare-model.js';
export { describeRequestedModel, MODEL_FLAGS, modelOptionsOf } from './model-options.js';
export type { ModelFlagValues, RequestedModelIdentity } from './model-options.js';
export { inspectModel } from './inspect-model.js';
export { formatLayerTable, LAYER_TABLE_NOTES, layerTableToJson } from './layer-table.js';
export type { LayerRow, LayerTable, ReceptiveField } from './layer-table.js';

// --- runtime: preprocessing, labels, inference engine ---
export { resolvePreprocessOptions } from './preprocess-options.js';
export { PREPROCESS_FLAGS, preprocessOptionsOf } from './preprocess-flags.js';
export type { PreprocessFlagValues } from './preprocess-flags.js';
export type {
  ChannelTriple,
  PreprocessMode,
  PreprocessOptions,
  PreprocessPipeline,
  ResolvedPreprocessOptions,
} from './preprocess-options.js';
export { decodeImage, imageDecodeThreads, startImageDecoders } from './preprocess-decode.js';
export type { DecodedImage } from './preprocess-decode.js';
export { type ImageSize, toInputTensor } from './preprocess-tensor.js';
export { classLabel, imagenetLabels } from './labels.js';
export { describeProvider, parseExecutionProvider } from './execution-provider.js';
export type { ExecutionProvider, ExecutionProviderSetting } from './execution-provider.js';
export { InferenceEngine } from './inference-engine.js';
export type { InferenceEngineOptions } from './inference-engine.js';
export type {
  EmbeddingDtype,
  InferenceEmbedding,
  InferenceRequest,
  InferenceResult,
  PairInferenceResult,
} from './inference-protocol.js';
export { predictFiles } from './predict.js';
export type { ClassScore, PredictOptions, Prediction, PredictionErrorReason } from './predict.js';
