// The 'torchvision' pipeline: the crop torchvision's eval transform makes of `Image.open(f).convert('RGB')`.
// The file is decoded at full size with no colour management (as PIL), converted to RGB by PIL's rules, then
// resized and cropped by PIL's fixed-point bilinear filter. sharp decodes what libvips reads; BMP and Netpbm,
// which the prebuilt libvips lacks, have decoders of their own here.
import type { Sharp } from 'sharp';
import type { ResolvedPreprocessOptions } from '../preprocess-options.js';
import { decodeBmp, isBmp } from './bmp-decode.js';
import type { DecodedImage } from './decoded-image.js';
import { centreCropBox } from './geometry.js';
import { gifFirstFrameRgb, readGifFirstFrame } from './gif-first-frame.js';
import { type PixelLayout, toPilRgb } from './pil-convert.js';
import { pilBilinearResizeCrop } from './pil-resample.js';
import { decodePnm, isPnm } from './pnm-decode.js';
import type { RgbImage } from './rgb-image.js';
import { openWithSharp } from './sharp-open.js';
import { dataError } from './sharp-errors.js';

export async function decodeTorchvision(
  bytes: Uint8Array,
  options: ResolvedPreprocessOptions,
): Promise<DecodedImage> {
  const rgb = isBmp(bytes)
    ? decodeBmp(bytes, options.maxPixels)
    : isPnm(bytes)
      ? decodePnm(bytes, options.maxPixels)
      : await decodeWithSharp(bytes, options);
  if (options.geometry === 'native') {
    // The whole image, as PIL's RGB conversion gives it: the input of a same-size pair scored at its own size.
    const pixels =
      rgb.data.byteOffset === 0 &&
      rgb.data.byteLength === rgb.data.buffer.byteLength &&
      rgb.data.buffer instanceof ArrayBuffer
        ? (rgb.data as Uint8Array<ArrayBuffer>)
        : new Uint8Array(rgb.data);
    return { width: rgb.width, height: rgb.height, pixels };
  }
  const box = centreCropBox(rgb.width, rgb.height, options.resizeSize, options.cropSize);
  return { width: rgb.width, height: rgb.height, pixels: pilBilinearResizeCrop(rgb, box) };
}

/** libvips colour spaces whose samples PIL's conversions apply to, and how. */
const LAYOUTS: Record<string, PixelLayout> = {
  srgb: 'rgb',
  rgb16: 'rgb',
  'b-w': 'grey',
  grey16: 'grey',
  cmyk: 'cmyk',
};

/** Full-size RGB as PIL's loader gives it. */
export async function decodeWithSharp(
  bytes: Uint8Array,
  options: ResolvedPreprocessOptions,
): Promise<RgbImage> {
  // ignoreIcc: PIL applies no embedded profile.
  const { image, metadata } = await openWithSharp(bytes, options, { ignoreIcc: true });
  const space = metadata.space ?? 'srgb';
  const layout = LAYOUTS[space];
  const wide = space === 'rgb16' || space === 'grey16' || metadata.depth === 'ushort';
  const gif = metadata.format === 'gif' ? readGifFirstFrame(bytes) : null;
  let pipeline: Sharp;
  if (layout === undefined) {
    // LAB, XYZ, float and other spaces that PIL mostly cannot open or convert: libvips' colour-managed sRGB.
    pipeline = image.toColourspace('srgb').removeAlpha();
  } else if (layout === 'cmyk') {
    // A CMYK pipeline keeps sharp from converting through a CMYK profile; PIL applies its own formula.
    pipeline = image.pipelineColourspace('cmyk').toColourspace('cmyk');
  } else {
    // The output colour space equal to the input's, so sharp converts nothing.
    pipeline = image.toColourspace(space);
    if (gif !== null) pipeline = pipeline.ensureAlpha();
  }
  try {
    const { data, info } = await pipeline
      .raw({ depth: wide && layout !== undefined ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (gif !== null && info.channels === 4) return gifFirstFrameRgb(data, info.width, info.height, gif);
    const samples = wide && layout !== undefined ? uint16View(data) : data;
    return toPilRgb({
      width: info.width,
      height: info.height,
      channels: info.channels,
      layout: layout ?? 'rgb',
      data: samples,
    });
  } catch (error) {
    throw dataError(error, bytes);
  }
}

function uint16View(data: Buffer): Uint16Array {
  if (data.byteOffset % 2 === 0) return new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
  return new Uint16Array(new Uint8Array(data).buffer);
}
