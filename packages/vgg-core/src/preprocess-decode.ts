import { ImageDecodeError, invalidOption } from './errors.js';
import { decodeInPool } from './preprocess/decode-pool.js';
import type { DecodedImage } from './preprocess/decoded-image.js';
import type { ResolvedPreprocessOptions } from './preprocess-options.js';

export { imageDecodeThreads, startImageDecoders } from './preprocess/decode-pool.js';
export type { DecodedImage } from './preprocess/decoded-image.js';
export { resizedSize } from './preprocess/geometry.js';

/**
 * Decodes an encoded image into the crop a classifier sees: Resize(resizeSize) on the shorter side, then
 * CenterCrop(cropSize), with the pixels of `options.pipeline` ('torchvision': exactly what torchvision's eval
 * transform makes of PIL's loader; 'fast': libvips, colour-managed). EXIF orientation is applied when
 * `options.autoOrient` is on. With `options.geometry` 'native' (torchvision pipeline only) there is no resize and no
 * crop: the pixels are the whole image, width × height × 3. Runs on a pool of decode threads and libuv's pool, so the calling thread stays free.
 * Fails only with ImageDecodeError.
 */
export async function decodeImage(
  bytes: Uint8Array,
  options: ResolvedPreprocessOptions,
): Promise<DecodedImage> {
  if (options.geometry === 'native' && options.pipeline !== 'torchvision') {
    throw invalidOption('pipeline', "'torchvision' with geometry 'native'", options.pipeline);
  }
  if (bytes.byteLength === 0) throw new ImageDecodeError('empty', 'Cannot decode image: it has zero bytes');
  if (options.maxBytes !== null && bytes.byteLength > options.maxBytes) {
    throw new ImageDecodeError(
      'too_large',
      `Cannot decode image: ${bytes.byteLength} bytes exceeds maxBytes (${options.maxBytes})`,
    );
  }
  return decodeInPool(bytes, options);
}
