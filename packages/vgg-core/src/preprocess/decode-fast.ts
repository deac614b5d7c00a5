// The 'fast' pipeline: libvips end to end. Embedded ICC profiles are converted to sRGB, JPEG and WebP shrink on
// load, libvips' linear kernel resamples, and alpha is composited onto black. It follows torchvision's geometry
// (Resize on the shorter side, CenterCrop with Python's rounding) but not PIL's pixels; its measured deviation is
// in README, "Parity with PyTorch".
import sharp, { type Sharp } from 'sharp';
import type { ResolvedPreprocessOptions } from '../preprocess-options.js';
import { decodeBmp, isBmp } from './bmp-decode.js';
import type { DecodedImage } from './decoded-image.js';
import { centreCropBox } from './geometry.js';
import { decodePnm, isPnm } from './pnm-decode.js';
import { dataError } from './sharp-errors.js';
import { openWithSharp } from './sharp-open.js';

export async function decodeFast(
  bytes: Uint8Array,
  options: ResolvedPreprocessOptions,
): Promise<DecodedImage> {
  let image: Sharp;
  let width: number;
  let height: number;
  if (isBmp(bytes) || isPnm(bytes)) {
    const rgb = isBmp(bytes) ? decodeBmp(bytes, options.maxPixels) : decodePnm(bytes, options.maxPixels);
    ({ width, height } = rgb);
    image = sharp(rgb.data, { raw: { width, height, channels: 3 } });
  } else {
    ({ image, width, height } = await openWithSharp(bytes, options));
  }
  const box = centreCropBox(width, height, options.resizeSize, options.cropSize);
  try {
    const data = await image
      .resize({ width: box.resizedWidth, height: box.resizedHeight, fit: 'fill', kernel: 'linear' })
      .extract({ left: box.left, top: box.top, width: box.width, height: box.height })
      // sharp cannot drop alpha before resizing, and dropping it after would resize premultiplied colours, so
      // hidden colours of transparent pixels would leak through at some sizes and not others. Black matches
      // convert('RGB') for opaque pixels and for the usual encoding of transparent pixels as (0, 0, 0, 0).
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      // CMYK (via its ICC profile or a generic one), LAB, grey and 16-bit inputs all end as 8-bit sRGB, 3 channels.
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer();
    if (data.byteLength !== box.width * box.height * 3) {
      throw new Error(`decoder returned ${data.byteLength} bytes, expected ${box.width * box.height * 3}`);
    }
    // sharp's buffer wraps native memory, which postMessage cannot transfer (it would copy it instead).
    return { width, height, pixels: new Uint8Array(data) };
  } catch (error) {
    throw dataError(error, bytes);
  }
}
