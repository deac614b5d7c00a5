import { invalidOption } from './errors.js';
import type { ResolvedPreprocessOptions } from './preprocess-options.js';

/** Width and height of an image in pixels. */
export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

const lookupTables = new WeakMap<ResolvedPreprocessOptions, Float32Array>();

/**
 * Lays out decoded crops (HWC uint8 RGB, cropSize² × 3 each) as one normalised NCHW float32 batch.
 * Writes into `out` when given (it may be longer than needed, so a buffer sized for the largest batch can be
 * reused) and returns the view holding exactly this batch. `size` gives the images' width and height when they are
 * not crops (geometry 'native'); default cropSize × cropSize.
 */
export function toInputTensor(
  images: readonly Uint8Array[],
  options: ResolvedPreprocessOptions,
  out?: Float32Array,
  size: ImageSize = { width: options.cropSize, height: options.cropSize },
): Float32Array {
  const plane = size.width * size.height;
  const needed = images.length * 3 * plane;
  if (out !== undefined && out.length < needed) {
    throw invalidOption('out.length', `at least ${needed} (${images.length} images)`, out.length);
  }
  const tensor = out === undefined ? new Float32Array(needed) : out.subarray(0, needed);
  const lut = lookupTable(options);
  // Caffe weights expect BGR: output channel c reads source channel 2 - c.
  const bgr = options.mode === 'caffe';
  const [src0, src1, src2] = bgr ? [2, 1, 0] : [0, 1, 2];
  for (let n = 0; n < images.length; n += 1) {
    const pixels = images[n]!;
    if (pixels.length !== plane * 3) {
      throw invalidOption(
        `images[${n}].length`,
        `${plane * 3} (${size.width}x${size.height}x3)`,
        pixels.length,
      );
    }
    const base = n * 3 * plane;
    for (let i = 0, p = 0; i < plane; i += 1, p += 3) {
      tensor[base + i] = lut[pixels[p + src0]!]!;
      tensor[base + plane + i] = lut[256 + pixels[p + src1]!]!;
      tensor[base + 2 * plane + i] = lut[512 + pixels[p + src2]!]!;
    }
  }
  return tensor;
}

/**
 * The normalised value of every uint8 level for each output channel (3 × 256), computed once per options object
 * with float32 rounding at each step as torch does, so the fill is a table lookup and matches
 * `Normalize(mean, std)(ToTensor()(img))` bit for bit.
 */
function lookupTable(options: ResolvedPreprocessOptions): Float32Array {
  let lut = lookupTables.get(options);
  if (lut !== undefined) return lut;
  lut = new Float32Array(3 * 256);
  const f = Math.fround;
  for (let c = 0; c < 3; c += 1) {
    const mean = f(options.mean[c]!);
    const std = f(options.std[c]!);
    for (let level = 0; level < 256; level += 1) {
      const scaled = options.mode === 'caffe' ? level : f(level / 255);
      lut[c * 256 + level] = f(f(scaled - mean) / std);
    }
  }
  lookupTables.set(options, lut);
  return lut;
}
