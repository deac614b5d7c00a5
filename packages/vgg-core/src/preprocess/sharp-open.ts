// Opening an encoded image with sharp under the pipeline's guards: broken data refused, pixel bombs refused before
// any pixel memory is allocated, only the first frame or page, a per-image timeout.
import sharp, { type Metadata, type Sharp } from 'sharp';
import { ImageDecodeError } from '../errors.js';
import type { ResolvedPreprocessOptions } from '../preprocess-options.js';
import { headerError } from './sharp-errors.js';

export interface OpenedImage {
  image: Sharp;
  metadata: Metadata;
  /** Size after EXIF orientation when autoOrient is on, else as stored. */
  width: number;
  height: number;
}

export async function openWithSharp(
  bytes: Uint8Array,
  options: ResolvedPreprocessOptions,
  extra: { ignoreIcc?: boolean } = {},
): Promise<OpenedImage> {
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
      autoOrient: options.autoOrient,
      ...extra,
    });
    if (options.timeoutSeconds > 0) image.timeout({ seconds: options.timeoutSeconds });
    metadata = await image.metadata();
  } catch (error) {
    throw headerError(error, bytes);
  }
  const width = options.autoOrient ? metadata.autoOrient.width : metadata.width;
  const height = options.autoOrient ? metadata.autoOrient.height : metadata.height;
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
  return { image, metadata, width, height };
}
