import sharp, { type Metadata, type Sharp } from 'sharp';
import { type ImageErrorReason, ImageDecodeError } from './errors.js';
import type { ResolvedPreprocessOptions } from './preprocess-options.js';
import { isTruncated, sniffFormat } from './preprocess-truncation.js';

export interface DecodedImage {
  /** Width in pixels of the original image after EXIF orientation, before resizing. */
  width: number;
  /** Height in pixels of the original image after EXIF orientation, before resizing. */
  height: number;
  /** The centre crop: cropSize × cropSize × 3 uint8, HWC, RGB, sRGB. Backed by its own ArrayBuffer, so transferable. */
  pixels: Uint8Array<ArrayBuffer>;
}

/**
 * Decodes an encoded image into the crop a classifier sees, following torchvision's ImageNet eval transform:
 * upright by EXIF orientation, 8-bit sRGB, Resize(resizeSize) on the shorter side, CenterCrop(cropSize).
 * Runs on libuv's thread pool, so the calling thread stays free. Fails only with ImageDecodeError.
 */
export async function decodeImage(
  bytes: Uint8Array,
  options: ResolvedPreprocessOptions,
): Promise<DecodedImage> {
  if (bytes.byteLength === 0) throw new ImageDecodeError('empty', 'Cannot decode image: it has zero bytes');
  if (options.maxBytes !== null && bytes.byteLength > options.maxBytes) {
    throw new ImageDecodeError(
      'too_large',
      `Cannot decode image: ${bytes.byteLength} bytes exceeds maxBytes (${options.maxBytes})`,
    );
  }
  let image: Sharp;
  let metadata: Metadata;
  try {
    image = sharp(bytes, {
      // 'error' refuses truncated files and corrupt pixel data (as PIL does by default) but still accepts files
      // that only trigger decoder warnings, which is common among real-world JPEGs.
      failOn: 'error',
      limitInputPixels: options.maxPixels,
      // Only the first frame of animated GIF/WebP and the first page of multi-page TIFF/HEIF.
      animated: false,
      sequentialRead: true,
      autoOrient: true,
    });
    if (options.timeoutSeconds > 0) image.timeout({ seconds: options.timeoutSeconds });
    metadata = await image.metadata();
  } catch (error) {
    throw headerError(error, bytes);
  }

  const width = metadata.autoOrient.width;
  const height = metadata.autoOrient.height;
  if (metadata.format === 'svg' && !options.allowSvg) {
    throw new ImageDecodeError(
      'unsupported_format',
      'Cannot decode image: SVG is refused (allowSvg is false)',
    );
  }
  // The header is checked here as well as by limitInputPixels so that the reason does not depend on
  // sharp's message wording.
  if (width * height > options.maxPixels) {
    throw new ImageDecodeError(
      'too_many_pixels',
      `Cannot decode image: ${width}x${height} exceeds maxPixels (${options.maxPixels})`,
    );
  }

  const resized = resizedSize(width, height, options.resizeSize);
  const { cropSize } = options;
  try {
    const data = await image
      .resize({ width: resized.width, height: resized.height, fit: 'fill', kernel: 'linear' })
      .extract({
        left: roundHalfEven((resized.width - cropSize) / 2),
        top: roundHalfEven((resized.height - cropSize) / 2),
        width: cropSize,
        height: cropSize,
      })
      // Alpha is composited onto black before resizing. PIL's convert('RGB') (torchvision's loader) simply
      // drops alpha; sharp cannot drop it before resizing, and dropping it after would resize premultiplied
      // colours, so hidden colours of transparent pixels would leak through at some image sizes and not at
      // others. Black matches convert('RGB') for opaque pixels and for the usual encoding of transparent
      // pixels as (0, 0, 0, 0), and gives the same answer whatever the size.
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      // CMYK (via its ICC profile or a generic one), LAB, grey and 16-bit inputs all end as 8-bit sRGB, 3 channels.
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer();
    if (data.byteLength !== cropSize * cropSize * 3) {
      throw new Error(`decoder returned ${data.byteLength} bytes, expected ${cropSize * cropSize * 3}`);
    }
    // sharp's buffer wraps native memory, which postMessage cannot transfer (it would copy it instead).
    return { width, height, pixels: new Uint8Array(data) };
  } catch (error) {
    throw dataError(error, bytes);
  }
}

/** torchvision's Resize(size) for an int size: shorter side = size, longer side = int(size * long / short). */
export function resizedSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/** Python 3's round(), which torchvision's CenterCrop uses: halves go to the even neighbour. */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

// Messages that sharp composes itself are reliable; text that libvips adds may come from a concurrent decode of
// another image (its error buffer is process-wide), so it only ever decides between 'truncated' and 'corrupt'
// when the bytes cannot (see isTruncated), and it is kept in `cause` rather than in the message.

/** The header could not be read, so nothing about the image is known yet. */
function headerError(error: unknown, bytes: Uint8Array): ImageDecodeError {
  if (error instanceof ImageDecodeError) return error;
  const detail = messageOf(error);
  if (detail.startsWith('Input buffer contains unsupported image format')) {
    return new ImageDecodeError('unsupported_format', 'Cannot decode image: not a supported image format', {
      cause: error,
    });
  }
  return dataError(error, bytes);
}

/**
 * Decoding failed. A header that cannot be parsed is 'corrupt' even when the file was cut short inside it (as the
 * edge-case corpus's corrupt-header.jpg is); past the header, the end-marker check tells 'truncated' from 'corrupt'.
 */
function dataError(error: unknown, bytes: Uint8Array): ImageDecodeError {
  if (error instanceof ImageDecodeError) return error;
  const detail = messageOf(error);
  const fail = (reason: ImageErrorReason, message: string) =>
    new ImageDecodeError(reason, `Cannot decode image: ${message}`, { cause: error });
  if (detail.startsWith('Input image exceeds pixel limit'))
    return fail('too_many_pixels', 'it exceeds maxPixels');
  if (detail.startsWith('timeout:')) return fail('timeout', `decoding ran past timeoutSeconds (${detail})`);
  const name = sniffFormat(bytes)?.toUpperCase() ?? 'image';
  if (detail.startsWith('Input buffer has corrupt header')) {
    return fail('corrupt', `the ${name} header is corrupt`);
  }
  const truncated = isTruncated(bytes);
  if (
    truncated ??
    /premature end|truncated|unexpected end|end of (file|stream|data)|not enough data/i.test(detail)
  ) {
    return fail('truncated', `the ${name} data ends early (truncated file)`);
  }
  return fail('corrupt', `the ${name} data is corrupt`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
