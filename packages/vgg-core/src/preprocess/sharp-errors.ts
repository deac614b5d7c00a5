// Turning sharp's failures into ImageDecodeError reasons.
import { type ImageErrorReason, ImageDecodeError } from '../errors.js';
import { isTruncated, sniffFormat } from './truncation.js';

// Messages that sharp composes itself are reliable; text that libvips adds may come from a concurrent decode of
// another image (its error buffer is process-wide), so it only ever decides between 'truncated' and 'corrupt'
// when the bytes cannot (see isTruncated), and it is kept in `cause` rather than in the message.

/** The header could not be read, so nothing about the image is known yet. */
export function headerError(error: unknown, bytes: Uint8Array): ImageDecodeError {
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
export function dataError(error: unknown, bytes: Uint8Array): ImageDecodeError {
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
