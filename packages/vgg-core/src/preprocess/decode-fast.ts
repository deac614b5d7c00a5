// The 'fast' pipeline: libvips end to end. Embedded ICC profiles are converted to sRGB, JPEG and WebP shrink on
// load, and libvips' linear kernel resamples. It follows torchvision's geometry (Resize on the shorter side,
// CenterCrop with Python's rounding) and PIL's alpha handling (dropped, never composited) but not PIL's pixels;
// its measured deviation is in README, "Parity with PyTorch".
import sharp, { type Sharp } from 'sharp';
import type { ResolvedPreprocessOptions } from '../preprocess-options.js';
import { decodeBmp, isBmp } from './bmp-decode.js';
import type { DecodedImage } from './decoded-image.js';
import { centreCropBox } from './geometry.js';
import { type GifFirstFrame, gifFirstFrameRgb, readGifFirstFrame } from './gif-first-frame.js';
import { decodePnm, isPnm } from './pnm-decode.js';
import type { RgbImage } from './rgb-image.js';
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
    const opened = await openWithSharp(bytes, options);
    ({ image, width, height } = opened);
    const gif = opened.metadata.format === 'gif' ? readGifFirstFrame(bytes) : null;
    if (opened.metadata.hasAlpha || gif !== null) {
      // sharp resizes alpha images premultiplied and cannot drop alpha before resizing, so a first pass at full
      // size drops it the way PIL's convert('RGB') does (transparent pixels keep their stored colour).
      const rgb = await fullSizeWithoutAlpha(image, gif, bytes);
      image = sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } });
    }
  }
  const box = centreCropBox(width, height, options.resizeSize, options.cropSize);
  try {
    const data = await image
      .resize({ width: box.resizedWidth, height: box.resizedHeight, fit: 'fill', kernel: 'linear' })
      .extract({ left: box.left, top: box.top, width: box.width, height: box.height })
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

async function fullSizeWithoutAlpha(
  image: Sharp,
  gif: GifFirstFrame | null,
  bytes: Uint8Array,
): Promise<RgbImage> {
  try {
    const pipeline = image.toColourspace('srgb');
    if (gif !== null) {
      const { data, info } = await pipeline.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      return gifFirstFrameRgb(data, info.width, info.height, gif);
    }
    const { data, info } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data };
  } catch (error) {
    throw dataError(error, bytes);
  }
}
