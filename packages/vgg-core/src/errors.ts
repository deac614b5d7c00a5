/**
 * Errors of vgg-core: three classes, each with a stable `code` for programs and a message that says what was wrong
 * and what to do, in the style of sharp: "Expected positive integer for batchSize but received 0".
 *
 * Match on codes with {@link isVggError}, not on class identity: a process can hold two copies of vgg-core (a
 * bundled app, or vitest loading src/ beside another package's dist/), and a class from one copy is not the class
 * of the other. Every instance also carries a `Symbol.for` brand that each class's `instanceof` checks, as the
 * Temporal SDK's SymbolBasedInstanceOfError does, so `instanceof` holds across copies too.
 */

export type VggErrorCode =
  /** An option or argument failed validation. */
  | 'VGG_INVALID_OPTION'
  /** A weights file (safetensors or ONNX) does not fit the requested model; see VggWeightsError for tensor ones. */
  | 'VGG_WEIGHTS'
  /** A model file could not be read or parsed. */
  | 'VGG_MODEL_FORMAT'
  /** A requested embedding tap does not exist in this model. */
  | 'VGG_UNKNOWN_TAP'
  /** The execution provider could not be loaded. */
  | 'VGG_PROVIDER'
  /** Inference failed or the engine was closed. */
  | 'VGG_INFERENCE'
  /** An image could not be decoded; always an ImageDecodeError, whose `reason` says why. */
  | 'VGG_IMAGE_DECODE';

/** Every code, for exhaustive handling and documentation. */
export const VGG_ERROR_CODES: readonly VggErrorCode[] = [
  'VGG_INVALID_OPTION',
  'VGG_WEIGHTS',
  'VGG_MODEL_FORMAT',
  'VGG_UNKNOWN_TAP',
  'VGG_PROVIDER',
  'VGG_INFERENCE',
  'VGG_IMAGE_DECODE',
];

/** Marks instances of `target` with a registry symbol and makes `instanceof target` test for it. */
function brand(target: abstract new (...args: never[]) => unknown, name: string): void {
  const symbol = Symbol.for(`vgg-core.${name}`);
  Object.defineProperty(target.prototype, symbol, { value: true });
  Object.defineProperty(target, Symbol.hasInstance, {
    value: (value: unknown) =>
      typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[symbol] === true,
  });
}

export class VggError<C extends VggErrorCode = VggErrorCode> extends Error {
  static {
    brand(VggError, 'VggError');
  }
  readonly code: C;
  /**
   * For VGG_INVALID_OPTION: the option at fault, as vgg-core names it (`poolSize`, `model`, `resizeSize`), so a CLI
   * can name its own flag without reading the message. Undefined when no single option is at fault.
   */
  readonly option: string | undefined;
  constructor(code: C, message: string, options?: { cause?: unknown; option?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VggError';
    this.code = code;
    this.option = options?.option;
  }
}

/** What is wrong with one tensor of a weights file. */
export type WeightsProblem = 'missing' | 'unexpected' | 'shape' | 'dtype';

/** A weights file does not fit the model: names the tensor and the expected versus actual shape or dtype. */
export class VggWeightsError extends VggError<'VGG_WEIGHTS'> {
  static {
    brand(VggWeightsError, 'VggWeightsError');
  }
  readonly problem: WeightsProblem;
  readonly tensor: string;
  readonly expectedShape: readonly number[] | null;
  readonly actualShape: readonly number[] | null;
  readonly path: string;
  constructor(
    fields: {
      problem: WeightsProblem;
      tensor: string;
      expectedShape: readonly number[] | null;
      actualShape: readonly number[] | null;
      path: string;
    },
    message: string,
    options?: { cause?: unknown },
  ) {
    super('VGG_WEIGHTS', message, options);
    this.name = 'VggWeightsError';
    this.problem = fields.problem;
    this.tensor = fields.tensor;
    this.expectedShape = fields.expectedShape;
    this.actualShape = fields.actualShape;
    this.path = fields.path;
  }
}

/**
 * Why an image could not become a tensor. Callers record it per image; one bad file never fails a batch.
 * - `empty`: zero bytes.
 * - `corrupt`: the bytes claim a known format but the decoder rejects them (broken header, bad data).
 * - `truncated`: the file ends before the image data does.
 * - `unsupported_format`: not an image format this build decodes (or SVG where SVG is refused).
 * - `too_many_pixels`: width × height is over `maxPixels` (decompression-bomb guard).
 * - `too_large`: the encoded file is over `maxBytes`.
 * - `timeout`: decoding ran past `timeoutSeconds`; a guard against pathological inputs that decode very slowly.
 */
export type ImageErrorReason =
  | 'empty'
  | 'corrupt'
  | 'truncated'
  | 'unsupported_format'
  | 'too_many_pixels'
  | 'too_large'
  | 'timeout';

export class ImageDecodeError extends VggError<'VGG_IMAGE_DECODE'> {
  static {
    brand(ImageDecodeError, 'ImageDecodeError');
  }
  readonly reason: ImageErrorReason;
  constructor(reason: ImageErrorReason, message: string, options?: { cause?: unknown }) {
    super('VGG_IMAGE_DECODE', message, options);
    this.name = 'ImageDecodeError';
    this.reason = reason;
  }
}

/** The error type a code narrows to: codes owned by a subclass narrow to it. */
export type VggErrorFor<C extends VggErrorCode> = C extends 'VGG_IMAGE_DECODE'
  ? ImageDecodeError
  : VggError<C>;

/**
 * Whether `value` is a vgg-core error, from any copy of the package, and (when codes are given) has one of them.
 * `isVggError(e, 'VGG_IMAGE_DECODE')` narrows to ImageDecodeError, so `e.reason` can be read.
 */
export function isVggError(value: unknown): value is VggError;
export function isVggError<C extends VggErrorCode>(
  value: unknown,
  ...codes: readonly C[]
): value is VggErrorFor<C>;
export function isVggError(value: unknown, ...codes: readonly VggErrorCode[]): boolean {
  if (!(value instanceof VggError)) return false;
  if (codes.length === 0) return true;
  if (!codes.includes(value.code)) return false;
  // A plain VggError that claims the image-decode code has no `reason`; it must not narrow to ImageDecodeError.
  return value.code !== 'VGG_IMAGE_DECODE' || value instanceof ImageDecodeError;
}

/** Builds the standard validation message: "Expected X for name but received Y". */
export function invalidOption(
  name: string,
  expected: string,
  received: unknown,
): VggError<'VGG_INVALID_OPTION'> {
  return new VggError(
    'VGG_INVALID_OPTION',
    `Expected ${expected} for ${name} but received ${describe(received)}`,
    { option: name },
  );
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  return String(value);
}
