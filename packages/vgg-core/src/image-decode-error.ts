import { VggError } from './errors.js';

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

export class ImageDecodeError extends VggError {
  readonly reason: ImageErrorReason;
  constructor(reason: ImageErrorReason, message: string, options?: { cause?: unknown }) {
    super('VGG_IMAGE_DECODE', message, options);
    this.name = 'ImageDecodeError';
    this.reason = reason;
  }
}
