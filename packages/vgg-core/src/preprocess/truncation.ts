// Whether an encoded image stops before its format's end marker. libvips reports decode failures only as text,
// and that text comes from a process-wide error buffer that concurrent decodes write into as well, so a failure's
// message may describe another image. The bytes themselves are a reliable witness.

/**
 * True or false when the format, recognised by its magic bytes, has an end marker to look for (JPEG, PNG, GIF,
 * WebP); null for other formats (TIFF, HEIF, ...).
 */
export function isTruncated(bytes: Uint8Array): boolean | null {
  switch (sniffFormat(bytes)) {
    case 'jpeg':
      // EOI (FF D9) ends a JPEG; entropy-coded data never contains FF D9, and encoders rarely append much after it.
      return !containsNear(bytes, [0xff, 0xd9], 1024);
    case 'png':
      return !containsNear(bytes, [0x49, 0x45, 0x4e, 0x44], 64); // "IEND"
    case 'gif':
      return trimZeros(bytes).at(-1) !== 0x3b; // trailer ";"
    case 'webp': {
      if (bytes.length < 12) return true;
      const riffSize = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
      return riffSize + 8 > bytes.length;
    }
    default:
      return null;
  }
}

/** The format named by the file's magic bytes, for the formats isTruncated understands. */
export function sniffFormat(bytes: Uint8Array): 'jpeg' | 'png' | 'gif' | 'webp' | null {
  const starts = (offset: number, magic: readonly number[]) =>
    magic.every((byte, i) => bytes[offset + i] === byte);
  if (starts(0, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (starts(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (starts(0, [0x47, 0x49, 0x46, 0x38])) return 'gif'; // "GIF8"
  if (starts(0, [0x52, 0x49, 0x46, 0x46]) && starts(8, [0x57, 0x45, 0x42, 0x50])) return 'webp'; // "RIFF" "WEBP"
  return null;
}

function containsNear(bytes: Uint8Array, marker: readonly number[], window: number): boolean {
  const start = Math.max(0, bytes.length - window);
  for (let i = bytes.length - marker.length; i >= start; i -= 1) {
    if (marker.every((byte, j) => bytes[i + j] === byte)) return true;
  }
  return false;
}

function trimZeros(bytes: Uint8Array): Uint8Array {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end -= 1;
  return bytes.subarray(0, end);
}
