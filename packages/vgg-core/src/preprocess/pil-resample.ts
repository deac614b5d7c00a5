// PIL's bilinear resize (Pillow's src/libImaging/Resample.c, 8 bits per channel), computed only for the pixels of a
// centre crop. torchvision's Resize on a PIL image is `img.resize(size, Image.BILINEAR)`: a separable filter,
// horizontal pass then vertical pass, each rounding to 8 bits through 22-bit fixed-point coefficients, with the
// filter's support widened by the scale when downscaling (so it antialiases) and no shrink-on-load. Every output
// pixel of a pass depends only on its own precomputed kernel, so restricting both passes to the crop (and the
// horizontal pass to the source rows the crop's rows read) gives exactly the bytes PIL would, at a fraction of the
// work.

import type { CropBox } from './geometry.js';
import type { RgbImage } from './rgb-image.js';

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);
/** The bilinear (triangle) filter's support at scale 1. */
const SUPPORT = 1;

/** Fixed-point kernels of one pass for a run of consecutive output positions. */
export interface PassCoefficients {
  /** Taps per output position (unused taps are 0). */
  readonly ksize: number;
  /** For output i: first source index `bounds[2i]` and tap count `bounds[2i + 1]`. */
  readonly bounds: Int32Array;
  /** `ksize` weights per output, scaled by 2^22 and rounded as Pillow's normalize_coeffs_8bpc does. */
  readonly weights: Int32Array;
}

function bilinear(x: number): number {
  const ax = x < 0 ? -x : x;
  return ax < 1 ? 1 - ax : 0;
}

/**
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc for `count` output positions starting at `first`, resizing
 * `inSize` source pixels to `outSize`. The double arithmetic follows the C source step by step, so the rounded
 * weights are the same integers.
 */
export function bilinearCoefficients(
  inSize: number,
  outSize: number,
  first: number,
  count: number,
): PassCoefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const invFilterScale = 1 / filterScale;
  const bounds = new Int32Array(count * 2);
  const weights = new Int32Array(count * ksize);
  const k = new Float64Array(ksize);
  for (let i = 0; i < count; i += 1) {
    const xx = first + i;
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x += 1) {
      const w = bilinear((x + xmin - center + 0.5) * invFilterScale);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x += 1) {
      let w = x < xmax ? k[x]! : 0;
      if (x < xmax && ww !== 0) w /= ww;
      weights[i * ksize + x] =
        w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[i * 2] = xmin;
    bounds[i * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : Math.min(v, 255);
}

/**
 * The `crop` region of `img.resize((resizedWidth, resizedHeight), Image.BILINEAR)` for an RGB image, byte for byte.
 * Returns crop.width × crop.height × 3 bytes, HWC, in a fresh (transferable) ArrayBuffer.
 */
export function pilBilinearResizeCrop(source: RgbImage, crop: CropBox): Uint8Array<ArrayBuffer> {
  const { width: inW, height: inH, data } = source;
  const { resizedWidth: outW, resizedHeight: outH, left, top, width, height } = crop;
  if (left < 0 || top < 0 || left + width > outW || top + height > outH) {
    throw new RangeError(`crop ${width}x${height}+${left}+${top} lies outside ${outW}x${outH}`);
  }
  // Pillow skips a pass whose size does not change (its box is the whole image here).
  const needHorizontal = outW !== inW;
  const needVertical = outH !== inH;

  // Source rows the crop's rows read, and the vertical kernels that read them.
  let rowFirst = top;
  let rowEnd = top + height;
  let vertical: PassCoefficients | null = null;
  if (needVertical) {
    vertical = bilinearCoefficients(inH, outH, top, height);
    rowFirst = Number.POSITIVE_INFINITY;
    rowEnd = 0;
    for (let i = 0; i < height; i += 1) {
      const ymin = vertical.bounds[i * 2]!;
      rowFirst = Math.min(rowFirst, ymin);
      rowEnd = Math.max(rowEnd, ymin + vertical.bounds[i * 2 + 1]!);
    }
  }
  const rows = rowEnd - rowFirst;

  // Horizontal pass over those rows, only the crop's columns: rows × width × 3.
  const temp = new Uint8Array(rows * width * 3);
  if (needHorizontal) {
    const { ksize, bounds, weights } = bilinearCoefficients(inW, outW, left, width);
    for (let r = 0; r < rows; r += 1) {
      const rowBase = (rowFirst + r) * inW * 3;
      let out = r * width * 3;
      for (let i = 0; i < width; i += 1) {
        const xmin = bounds[i * 2]!;
        const taps = bounds[i * 2 + 1]!;
        const kBase = i * ksize;
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let p = rowBase + xmin * 3;
        for (let x = 0; x < taps; x += 1, p += 3) {
          const w = weights[kBase + x]!;
          s0 += data[p]! * w;
          s1 += data[p + 1]! * w;
          s2 += data[p + 2]! * w;
        }
        temp[out] = clip8(s0);
        temp[out + 1] = clip8(s1);
        temp[out + 2] = clip8(s2);
        out += 3;
      }
    }
  } else {
    for (let r = 0; r < rows; r += 1) {
      const start = ((rowFirst + r) * inW + left) * 3;
      temp.set(data.subarray(start, start + width * 3), r * width * 3);
    }
  }
  if (vertical === null) return temp;

  // Vertical pass: each crop row from the rows its kernel spans.
  const out = new Uint8Array(width * height * 3);
  const { ksize, bounds, weights } = vertical;
  const stride = width * 3;
  for (let i = 0; i < height; i += 1) {
    const first = (bounds[i * 2]! - rowFirst) * stride;
    const taps = bounds[i * 2 + 1]!;
    const kBase = i * ksize;
    const outBase = i * stride;
    for (let c = 0; c < stride; c += 1) {
      let s = HALF;
      let p = first + c;
      for (let y = 0; y < taps; y += 1, p += stride) s += temp[p]! * weights[kBase + y]!;
      out[outBase + c] = clip8(s);
    }
  }
  return out;
}
