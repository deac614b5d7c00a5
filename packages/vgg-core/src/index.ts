// Public API of vgg-core. Each section is owned by one part of the package;
// add exports to your own section only.

export { VggError, invalidOption } from './errors.js';
export type { VggErrorCode } from './errors.js';

// --- model: configurations, weights, ONNX building, inspection ---

// --- runtime: preprocessing, labels, inference engine ---
export { ImageDecodeError } from './image-decode-error.js';
export type { ImageErrorReason } from './image-decode-error.js';
export { resolvePreprocessOptions } from './preprocess-options.js';
export type {
  ChannelTriple,
  PreprocessMode,
  PreprocessOptions,
  ResolvedPreprocessOptions,
} from './preprocess-options.js';
export { decodeImage } from './preprocess-decode.js';
export type { DecodedImage } from './preprocess-decode.js';
export { toInputTensor } from './preprocess-tensor.js';
export { classLabel, imagenetLabels } from './labels.js';
