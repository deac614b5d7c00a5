// Public API of vgg-core. Each section is owned by one part of the package;
// add exports to your own section only.

export { VggError, invalidOption } from './errors.js';
export type { VggErrorCode } from './errors.js';

// --- model: configurations, weights, ONNX building, inspection ---

// --- runtime: preprocessing, labels, inference engine ---
