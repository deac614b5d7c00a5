import { invalidOption } from './errors.js';

/**
 * How pixels become model inputs.
 * - `torchvision`: RGB, scaled to 0..1, then `(x - mean) / std` (torchvision's ImageNet weights).
 * - `caffe`: BGR, 0..255 minus a per-channel mean, no scaling (weights converted from the original Caffe VGG).
 */
export type PreprocessMode = 'torchvision' | 'caffe';

/**
 * How an encoded image becomes the crop (the flag is `--preprocess`).
 * - `torchvision`: what torchvision's ImageNet eval transform sees, byte for byte: PIL's loader (no colour
 *   management, PIL's RGB conversions, alpha dropped), PIL's bilinear Resize on the full-size decode, CenterCrop.
 * - `fast`: libvips all the way: ICC profiles converted to sRGB, JPEG/WebP shrink-on-load, libvips' own resampling
 *   and alpha composited onto black. Faster on large photos; not torchvision-exact (README, "Parity with PyTorch").
 */
export type PreprocessPipeline = 'torchvision' | 'fast';

export type ChannelTriple = readonly [number, number, number];

export interface PreprocessOptions {
  /**
   * Length in pixels of the shorter side after resizing; the longer side keeps the aspect ratio with
   * torchvision's arithmetic, `int(resizeSize * long / short)`.
   * Default: `cropSize × 256 / 224` rounded, which is 256 for the default crop.
   */
  resizeSize?: number;
  /** Side in pixels of the centre crop fed to the model; must not exceed resizeSize. Default: 224. */
  cropSize?: number;
  /** Channel order and normalisation convention. Default: 'torchvision'. */
  mode?: PreprocessMode;
  /** Decoding and resampling: exact torchvision parity, or libvips' faster path. Default: 'torchvision'. */
  pipeline?: PreprocessPipeline;
  /**
   * Whether the EXIF orientation is applied before resizing. torchvision's default_loader ignores it, so false gives
   * strict parity; true (the default) turns phone photos upright, which is what a classifier should see.
   * Default: true.
   */
  autoOrient?: boolean;
  /**
   * Per-channel mean in the model's channel order: fractions of 0..1 in RGB order for 'torchvision'
   * (default [0.485, 0.456, 0.406]), levels of 0..255 in BGR order for 'caffe' (default [103.939, 116.779, 123.68]).
   */
  mean?: ChannelTriple;
  /**
   * Per-channel standard deviation, same order and units as `mean`. Default: [0.229, 0.224, 0.225] for
   * 'torchvision', [1, 1, 1] for 'caffe'.
   */
  std?: ChannelTriple;
  /**
   * Largest width × height (in pixels, as the file header claims) that is decoded; larger images fail with reason
   * `too_many_pixels` before any pixel memory is allocated. Guards against decompression bombs. Default: 100_000_000.
   */
  maxPixels?: number;
  /** Largest encoded file in bytes; larger files fail with reason `too_large`. Default: no limit. */
  maxBytes?: number;
  /** Whether SVG is rasterised (at 72 DPI); when false SVG fails with reason `unsupported_format`. Default: true. */
  allowSvg?: boolean;
  /** Seconds one decode may take before it is aborted with reason `timeout`; 0 disables the limit. Default: 30. */
  timeoutSeconds?: number;
}

/** PreprocessOptions after validation, every field present. Plain data, so it can be posted to a worker thread. */
export interface ResolvedPreprocessOptions {
  readonly resizeSize: number;
  readonly cropSize: number;
  readonly mode: PreprocessMode;
  readonly pipeline: PreprocessPipeline;
  readonly autoOrient: boolean;
  readonly mean: ChannelTriple;
  readonly std: ChannelTriple;
  readonly maxPixels: number;
  readonly maxBytes: number | null;
  readonly allowSvg: boolean;
  readonly timeoutSeconds: number;
  /**
   * `native`: no Resize and no CenterCrop; the decode's pixels are the whole image at its own size (pair runs'
   * `--pair-size native`). Absent: the centre crop. Set by callers on a copy of resolved options, never by
   * {@link resolvePreprocessOptions}, so stored and compared preprocessing is unchanged.
   */
  readonly geometry?: 'native';
}

const DEFAULTS = {
  torchvision: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  caffe: { mean: [103.939, 116.779, 123.68], std: [1, 1, 1] },
} as const satisfies Record<PreprocessMode, { mean: ChannelTriple; std: ChannelTriple }>;

/** Validates preprocessing options once and fills in defaults. Throws VggError('VGG_INVALID_OPTION'). */
export function resolvePreprocessOptions(options: PreprocessOptions = {}): ResolvedPreprocessOptions {
  const cropSize = options.cropSize ?? 224;
  if (!isPositiveInteger(cropSize)) throw invalidOption('cropSize', 'positive integer', cropSize);
  const resizeSize = options.resizeSize ?? Math.round((cropSize * 256) / 224);
  if (!isPositiveInteger(resizeSize)) throw invalidOption('resizeSize', 'positive integer', resizeSize);
  if (cropSize > resizeSize) {
    throw invalidOption('cropSize', `integer no larger than resizeSize (${resizeSize})`, cropSize);
  }
  const mode = options.mode ?? 'torchvision';
  if (mode !== 'torchvision' && mode !== 'caffe') {
    throw invalidOption('mode', "one of 'torchvision', 'caffe'", mode);
  }
  const pipeline = options.pipeline ?? 'torchvision';
  if (pipeline !== 'torchvision' && pipeline !== 'fast') {
    throw invalidOption('pipeline', "one of 'torchvision', 'fast'", pipeline);
  }
  const autoOrient = options.autoOrient ?? true;
  if (typeof autoOrient !== 'boolean') throw invalidOption('autoOrient', 'boolean', autoOrient);
  const mean = options.mean ?? DEFAULTS[mode].mean;
  if (!isTriple(mean, Number.isFinite)) throw invalidOption('mean', 'array of 3 finite numbers', mean);
  const std = options.std ?? DEFAULTS[mode].std;
  if (!isTriple(std, (v) => Number.isFinite(v) && v > 0)) {
    throw invalidOption('std', 'array of 3 positive numbers', std);
  }
  const maxPixels = options.maxPixels ?? 100_000_000;
  if (!isPositiveInteger(maxPixels)) throw invalidOption('maxPixels', 'positive integer', maxPixels);
  const maxBytes = options.maxBytes ?? null;
  if (maxBytes !== null && !isPositiveInteger(maxBytes)) {
    throw invalidOption('maxBytes', 'positive integer', maxBytes);
  }
  const allowSvg = options.allowSvg ?? true;
  if (typeof allowSvg !== 'boolean') throw invalidOption('allowSvg', 'boolean', allowSvg);
  const timeoutSeconds = options.timeoutSeconds ?? 30;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 0) {
    throw invalidOption('timeoutSeconds', 'non-negative integer', timeoutSeconds);
  }
  return Object.freeze({
    resizeSize,
    cropSize,
    mode,
    pipeline,
    autoOrient,
    mean: Object.freeze([mean[0], mean[1], mean[2]] as const),
    std: Object.freeze([std[0], std[1], std[2]] as const),
    maxPixels,
    maxBytes,
    allowSvg,
    timeoutSeconds,
  });
}

function isPositiveInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function isTriple(value: unknown, check: (v: number) => boolean): value is ChannelTriple {
  return Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'number' && check(v));
}
