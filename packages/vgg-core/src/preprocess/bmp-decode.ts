// A BMP decoder that reads files the way Pillow's BmpImagePlugin does, so that `Image.open(f).convert('RGB')` and
// this decoder give the same bytes: the same header handling (Windows v3–v5, OS/2 v1 and v2), the same palette
// rules (a grey ramp makes an 'L' image whose values are the indices; colours past the palette are black), the
// same 5/6-bit expansion (v * 255 / 31, truncated) and the same RLE4/RLE8 walk, including its handling of runs
// that overflow a row (as fixed for odd RLE4 runs in Pillow 13). Where Pillow refuses a valid file (2-bit palettes, bitfield layouts outside its table,
// BI_ALPHABITFIELDS, OS/2 v2 headers of 16 bytes, more than 256 palette entries, RLE streams that end early), the
// file is decoded by the format's rules instead. Alpha is dropped, as convert('RGB') drops it.
// No npm package handled the OS/2 headers and palettes correctly (bmp-ts, bmp-js, fast-bmp were tried).

import { ImageDecodeError } from '../errors.js';
import type { RgbImage } from './rgb-image.js';

const RAW = 0;
const RLE8 = 1;
const RLE4 = 2;
const BITFIELDS = 3;
const JPEG = 4;
const PNG = 5;
const ALPHABITFIELDS = 6;

/** Header sizes Pillow reads as Windows v3–v5 or OS/2 v2 headers; 16 is the short OS/2 v2 form. */
const INFO_HEADER_SIZES = new Set([16, 40, 52, 56, 64, 108, 124]);

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d; // "BM"
}

function corrupt(message: string): ImageDecodeError {
  return new ImageDecodeError('corrupt', `Cannot decode image: ${message}`);
}

function truncated(): ImageDecodeError {
  return new ImageDecodeError('truncated', 'Cannot decode image: the BMP data ends early (truncated file)');
}

interface Channel {
  mask: number;
  shift: number;
  max: number;
}

function channel(mask: number): Channel {
  const m = mask >>> 0;
  if (m === 0) return { mask: 0, shift: 0, max: 0 };
  let shift = 0;
  while (((m >>> shift) & 1) === 0) shift += 1;
  return { mask: m, shift, max: m >>> shift };
}

/** Decodes a BMP file into RGB. Throws ImageDecodeError (corrupt, truncated, unsupported_format, too_many_pixels). */
export function decodeBmp(bytes: Uint8Array, maxPixels: number): RgbImage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (end: number) => {
    if (end > bytes.length) throw truncated();
  };
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);

  need(18);
  let offset = u32(10);
  const headerSize = u32(14);
  let width: number;
  let height: number;
  let bits: number;
  let compression = RAW;
  let colors = 0;
  let paletteEntry: 3 | 4;
  let topDown = false;
  let masks: [number, number, number] | null = null;
  // The stream position after the header; Pillow reads bitfield masks of 40-byte headers and the palette here.
  let position = 14 + headerSize;
  if (headerSize === 12) {
    need(26);
    width = u16(18);
    height = u16(20);
    bits = u16(24);
    paletteEntry = 3;
  } else if (INFO_HEADER_SIZES.has(headerSize)) {
    need(14 + headerSize);
    // Pillow's test for a top-down image: the height's top byte is 0xFF (a small negative number).
    topDown = bytes[25] === 0xff;
    width = u32(18);
    height = topDown ? 2 ** 32 - u32(22) : u32(22);
    bits = u16(28);
    if (headerSize >= 40) {
      compression = u32(30);
      colors = u32(46);
    }
    paletteEntry = 4;
    if (compression === BITFIELDS || compression === ALPHABITFIELDS) {
      if (headerSize >= 52) {
        masks = [u32(54), u32(58), u32(62)];
      } else {
        need(position + 12);
        masks = [u32(position), u32(position + 4), u32(position + 8)];
        position += compression === ALPHABITFIELDS ? 16 : 12;
      }
    }
  } else {
    throw corrupt(`the BMP header has an unknown size (${headerSize} bytes)`);
  }

  if (width === 0 || height === 0) throw corrupt(`the BMP header gives a size of ${width}x${height}`);
  if (width * height > maxPixels) {
    throw new ImageDecodeError(
      'too_many_pixels',
      `Cannot decode image: ${width}x${height} exceeds maxPixels (${maxPixels})`,
    );
  }
  if (colors === 0) colors = 2 ** bits;
  if (offset === 14 + headerSize && bits <= 8) offset += paletteEntry * colors;

  if (compression === JPEG || compression === PNG) {
    throw new ImageDecodeError(
      'unsupported_format',
      `Cannot decode image: BMP files that wrap ${compression === JPEG ? 'JPEG' : 'PNG'} data are not supported; convert the file to JPEG or PNG`,
    );
  }
  const paletted = bits === 1 || bits === 2 || bits === 4 || bits === 8;
  if (!paletted && bits !== 16 && bits !== 24 && bits !== 32) {
    throw corrupt(`the BMP header gives an unsupported bit depth (${bits})`);
  }
  if (compression === BITFIELDS || compression === ALPHABITFIELDS) {
    if (paletted) throw corrupt(`the BMP header gives bitfields for a ${bits}-bit image`);
  } else if (compression === RLE8 || compression === RLE4) {
    if (!paletted) throw corrupt(`the BMP header gives RLE compression for a ${bits}-bit image`);
  } else if (compression !== RAW) {
    throw corrupt(`the BMP header gives an unknown compression (${compression})`);
  }

  // Palette → a 256-entry RGB table, or an identity map when Pillow would open the image as '1' or 'L'.
  let lut: Uint8Array | null = null;
  if (paletted) {
    if (!(colors > 0 && colors <= 65536)) throw corrupt(`the BMP palette size is invalid (${colors})`);
    const palette = bytes.subarray(position, Math.min(bytes.length, position + paletteEntry * colors));
    lut = new Uint8Array(256 * 3);
    let grey = true;
    for (let i = 0; i < colors && grey; i += 1) {
      const value = colors === 2 ? (i === 0 ? 0 : 255) : i & 255;
      const at = i * paletteEntry;
      if (at + 3 > palette.length) grey = false;
      else grey = palette[at] === value && palette[at + 1] === value && palette[at + 2] === value;
    }
    for (let i = 0; i < 256; i += 1) {
      if (grey) {
        // 'L' (or '1') image: the stored index is the grey level.
        const v = colors === 2 ? (i === 0 ? 0 : 255) : i;
        lut.fill(v, i * 3, i * 3 + 3);
      } else if (i < colors && i * paletteEntry + 3 <= palette.length) {
        const at = i * paletteEntry;
        lut[i * 3] = palette[at + 2]!;
        lut[i * 3 + 1] = palette[at + 1]!;
        lut[i * 3 + 2] = palette[at]!;
      }
    }
  }

  const out = new Uint8Array(width * height * 3);
  if (compression === RLE8 || compression === RLE4) {
    const indices = rleIndices(bytes, offset, width, height, compression === RLE4);
    for (let row = 0; row < height; row += 1) {
      const y = topDown ? row : height - 1 - row;
      for (let x = 0, i = row * width, o = y * width * 3; x < width; x += 1, i += 1, o += 3) {
        const at = indices[i]! * 3;
        out[o] = lut![at]!;
        out[o + 1] = lut![at + 1]!;
        out[o + 2] = lut![at + 2]!;
      }
    }
    return { width, height, data: out };
  }

  const stride = Math.floor((width * bits + 31) / 32) * 4;
  // The last row need not carry its padding.
  need(offset + stride * (height - 1) + Math.ceil((width * bits) / 8));
  const readRow = rowReader(bytes, bits, width, lut, masks);
  for (let row = 0; row < height; row += 1) {
    const y = topDown ? row : height - 1 - row;
    readRow(offset + row * stride, out, y * width * 3);
  }
  return { width, height, data: out };
}

type RowReader = (start: number, out: Uint8Array, outStart: number) => void;

function rowReader(
  bytes: Uint8Array,
  bits: number,
  width: number,
  lut: Uint8Array | null,
  masks: [number, number, number] | null,
): RowReader {
  if (lut !== null) {
    const perByte = 8 / bits;
    const valueMask = (1 << bits) - 1;
    return (start, out, o) => {
      for (let x = 0; x < width; x += 1, o += 3) {
        const byte = bytes[start + Math.floor(x / perByte)]!;
        // Most significant bits first.
        const index = (byte >> (8 - bits * ((x % perByte) + 1))) & valueMask;
        out[o] = lut[index * 3]!;
        out[o + 1] = lut[index * 3 + 1]!;
        out[o + 2] = lut[index * 3 + 2]!;
      }
    };
  }
  const pixelBytes = bits / 8;
  if (masks === null && bits !== 16) {
    // B, G, R (, X) bytes.
    return (start, out, o) => {
      for (let x = 0, p = start; x < width; x += 1, p += pixelBytes, o += 3) {
        out[o] = bytes[p + 2]!;
        out[o + 1] = bytes[p + 1]!;
        out[o + 2] = bytes[p]!;
      }
    };
  }
  // Without bitfields: 16-bit is 5-5-5, 24- and 32-bit are B, G, R (, X) bytes. Pillow reads 32-bit bitfields
  // that are all zero as B, G, R, A bytes too.
  if (masks === null || (bits === 32 && masks.every((m) => m === 0))) {
    masks = bits === 16 ? [0x7c00, 0x3e0, 0x1f] : [0xff0000, 0xff00, 0xff];
  }
  const [r, g, b] = masks.map(channel) as [Channel, Channel, Channel];
  if (masks.every((m) => m === 0)) throw corrupt('the BMP bitfield masks are all zero');
  const scaled = (pixel: number, c: Channel) =>
    c.max === 0 ? 0 : Math.floor((((pixel & c.mask) >>> c.shift) * 255) / c.max);
  return (start, out, o) => {
    for (let x = 0, p = start; x < width; x += 1, p += pixelBytes, o += 3) {
      let pixel = bytes[p]! | (bytes[p + 1]! << 8);
      if (pixelBytes >= 3) pixel |= bytes[p + 2]! << 16;
      if (pixelBytes === 4) pixel = (pixel | (bytes[p + 3]! << 24)) >>> 0;
      out[o] = scaled(pixel, r);
      out[o + 1] = scaled(pixel, g);
      out[o + 2] = scaled(pixel, b);
    }
  };
}

/**
 * Pillow's BmpRleDecoder: a stream of palette indices, row after row in file order, of width × height entries.
 * Encoded runs are clipped at the row's end, absolute runs are not (they spill into the next row, as in Pillow).
 */
function rleIndices(bytes: Uint8Array, offset: number, width: number, height: number, rle4: boolean) {
  const total = width * height;
  const data = new Uint8Array(total);
  let length = 0;
  const push = (value: number) => {
    if (length < total) data[length] = value;
    length += 1;
  };
  let x = 0;
  let p = offset;
  let ended = false;
  while (length < total) {
    if (p + 2 > bytes.length) break;
    let count = bytes[p]!;
    const byte = bytes[p + 1]!;
    p += 2;
    if (count !== 0) {
      if (x + count > width) count = Math.max(0, width - x);
      if (rle4) {
        for (let i = 0; i < count; i += 1) push(i % 2 === 0 ? byte >> 4 : byte & 0x0f);
      } else {
        for (let i = 0; i < count; i += 1) push(byte);
      }
      x += count;
    } else if (byte === 0) {
      // End of line: pad to the row's end.
      length = Math.ceil(length / width) * width;
      x = 0;
    } else if (byte === 1) {
      ended = true;
      break;
    } else if (byte === 2) {
      if (p + 2 > bytes.length) break;
      const right = bytes[p]!;
      const up = bytes[p + 1]!;
      p += 2;
      length += right + up * width;
      x = length % width;
    } else {
      // Absolute run of `byte` pixels (RLE4 packs two per byte), padded to a 16-bit boundary. Pillow 12 reads
      // byte // 2 bytes for RLE4, losing the last pixel of odd runs and shifting the rest of the row; this
      // follows the fix in Pillow 13 (python-pillow/Pillow#9710), which decodes such files correctly.
      const pixelCount = Math.min(total - length, byte);
      const byteCount = rle4 ? (pixelCount + 1) >> 1 : pixelCount;
      const available = Math.min(byteCount, bytes.length - p);
      for (let i = 0; i < available; i += 1) {
        const value = bytes[p + i]!;
        if (rle4) {
          push(value >> 4);
          if (i * 2 + 1 < pixelCount) push(value & 0x0f);
        } else {
          push(value);
        }
      }
      p += available;
      if (available < byteCount || length === total) break;
      x += byte;
      if (p % 2 !== 0) p += 1;
    }
  }
  // Pillow refuses a stream that fills fewer pixels; a stream closed by its end-of-bitmap marker is complete by
  // the format's rules (the rest is index 0), one that runs out of bytes is truncated.
  if (length < total && !ended) throw truncated();
  return data;
}
