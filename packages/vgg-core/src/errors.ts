/**
 * Errors of vgg-core. Each has a stable `code` for programs and a message that
 * says what was wrong and what to do, in the style of sharp:
 * "Expected positive integer for batchSize but received 0".
 */

export type VggErrorCode =
  /** An option or argument failed validation. */
  | 'VGG_INVALID_OPTION'
  /** A weights file (safetensors or ONNX) does not fit the requested model. */
  | 'VGG_WEIGHTS'
  /** A model file could not be read or parsed. */
  | 'VGG_MODEL_FORMAT'
  /** A requested embedding tap does not exist in this model. */
  | 'VGG_UNKNOWN_TAP'
  /** The execution provider could not be loaded. */
  | 'VGG_PROVIDER'
  /** Inference failed or the engine was closed. */
  | 'VGG_INFERENCE'
  /** An image could not be decoded; see ImageDecodeError.reason. */
  | 'VGG_IMAGE_DECODE';

export class VggError extends Error {
  readonly code: VggErrorCode;
  constructor(code: VggErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VggError';
    this.code = code;
  }
}

/** Builds the standard validation message: "Expected X for name but received Y". */
export function invalidOption(name: string, expected: string, received: unknown): VggError {
  return new VggError(
    'VGG_INVALID_OPTION',
    `Expected ${expected} for ${name} but received ${describe(received)}`,
  );
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  return String(value);
}
