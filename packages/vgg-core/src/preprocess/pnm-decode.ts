// Netpbm (PBM, PGM, PPM; plain and raw) decoded the way Pillow's PpmImagePlugin reads them: the same header
// tokens and comments, the same scaling of other maxvals (round(v / maxval × 255), halves to even), bilevel 1 as
// black. Grey with maxval above 255 Pillow opens as 32-bit 'I' holding round(v / maxval × 65535), and
// convert('RGB') clips that to white; here it keeps the high byte instead, the pipeline's documented 16-bit
// deviation (the same rule as for 16-bit grey PNG and TIFF).

import { ImageDecodeError } from '../errors.js';
import { roundHalfEven } from './geometry.js';
import type { RgbImage } from './rgb-image.js';

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);
const MAX_TOKEN = 10;

/** The Netpbm formats this decoder reads, by magic number. */
export function isPnm(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 3 &&
    bytes[0] === 0x50 &&
    bytes[1]! >= 0x31 &&
    bytes[1]! <= 0x36 &&
    WHITESPACE.has(bytes[2]!)
  );
}

function corrupt(message: string): ImageDecodeError {
  return new ImageDecodeError('corrupt', `Cannot decode image: ${message}`);
}

function truncated(): ImageDecodeError {
  return new ImageDecodeError('truncated', 'Cannot decode image: the PNM data ends early (truncated file)');
}

class Reader {
  position = 3;
  constructor(readonly bytes: Uint8Array) {}

  /** A header token: skips leading whitespace and '#' comments, stops after the whitespace that ends it. */
  token(): number {
    let text = '';
    while (text.length <= MAX_TOKEN) {
      if (this.position >= this.bytes.length) break;
      const c = this.bytes[this.position++]!;
      if (WHITESPACE.has(c)) {
        if (text === '') continue;
        break;
      }
      if (c === 0x23) {
        while (this.position < this.bytes.length) {
          const d = this.bytes[this.position++]!;
          if (d === 0x0a || d === 0x0d) break;
        }
        continue;
      }
      text += String.fromCharCode(c);
    }
    if (text === '') throw truncated();
    if (!/^\d{1,10}$/.test(text))
      throw corrupt(`the PNM header has an invalid number (${text.slice(0, 12)})`);
    return Number(text);
  }

  /** The next plain-format sample; '#' comments run to the end of the line. Null at the end of the file. */
  sample(single: boolean): number | null {
    let text = '';
    while (this.position < this.bytes.length) {
      const c = this.bytes[this.position]!;
      if (c === 0x23) {
        while (this.position < this.bytes.length) {
          const d = this.bytes[this.position++]!;
          if (d === 0x0a || d === 0x0d) break;
        }
        if (text !== '') break;
        continue;
      }
      this.position += 1;
      if (WHITESPACE.has(c)) {
        if (text === '') continue;
        break;
      }
      if (c < 0x30 || c > 0x39)
        throw corrupt(`the PNM data has an invalid character (${String.fromCharCode(c)})`);
      text += String.fromCharCode(c);
      // Plain PBM samples are single digits and may be written without separators.
      if (single) break;
      if (text.length > MAX_TOKEN) throw corrupt('the PNM data has a number that is too long');
    }
    return text === '' ? null : Number(text);
  }
}

/** One sample as an 8-bit level, as Pillow scales it (see the file's header for grey above 255). */
function scale(value: number, maxval: number, bands: number): number {
  if (bands === 1 && maxval > 255) {
    const wide = maxval === 65535 ? value : Math.min(65535, roundHalfEven((value / maxval) * 65535));
    return wide >> 8;
  }
  return Math.min(255, roundHalfEven((value / maxval) * 255));
}

/** Decodes P1–P6 into RGB. Throws ImageDecodeError (corrupt, truncated, too_many_pixels). */
export function decodePnm(bytes: Uint8Array, maxPixels: number): RgbImage {
  const kind = bytes[1]! - 0x30;
  const reader = new Reader(bytes);
  const width = reader.token();
  const height = reader.token();
  if (width === 0 || height === 0) throw corrupt(`the PNM header gives a size of ${width}x${height}`);
  if (width * height > maxPixels) {
    throw new ImageDecodeError(
      'too_many_pixels',
      `Cannot decode image: ${width}x${height} exceeds maxPixels (${maxPixels})`,
    );
  }
  const bilevel = kind === 1 || kind === 4;
  const maxval = bilevel ? 1 : reader.token();
  if (!(maxval > 0 && maxval < 65536)) throw corrupt(`the PNM maxval is out of range (${maxval})`);
  const bands = kind === 3 || kind === 6 ? 3 : 1;
  const pixels = width * height;
  const samples = new Uint8Array(pixels * bands);

  if (kind === 4) {
    // Raw PBM: one bit per pixel, most significant first, 1 is black; rows padded to a byte.
    const stride = Math.ceil(width / 8);
    if (reader.position + stride * height > bytes.length) throw truncated();
    for (let y = 0; y < height; y += 1) {
      const row = reader.position + y * stride;
      for (let x = 0; x < width; x += 1) {
        samples[y * width + x] = (bytes[row + (x >> 3)]! >> (7 - (x & 7))) & 1 ? 0 : 255;
      }
    }
  } else if (kind === 5 || kind === 6) {
    const wide = maxval > 255;
    const count = pixels * bands;
    if (reader.position + count * (wide ? 2 : 1) > bytes.length) throw truncated();
    const start = reader.position;
    for (let i = 0; i < count; i += 1) {
      const value = wide ? (bytes[start + 2 * i]! << 8) | bytes[start + 2 * i + 1]! : bytes[start + i]!;
      samples[i] = maxval === 255 ? value : scale(value, maxval, bands);
    }
  } else {
    for (let i = 0; i < samples.length; i += 1) {
      const value = reader.sample(kind === 1);
      if (value === null) throw truncated();
      if (kind === 1) {
        if (value > 1) throw corrupt(`the PBM data has an invalid sample (${value})`);
        samples[i] = value === 1 ? 0 : 255;
      } else {
        if (value > maxval) throw corrupt(`the PNM data has a sample (${value}) above maxval (${maxval})`);
        samples[i] = scale(value, maxval, bands);
      }
    }
  }

  if (bands === 3) return { width, height, data: samples };
  const data = new Uint8Array(pixels * 3);
  for (let i = 0, o = 0; i < pixels; i += 1, o += 3) {
    const v = samples[i]!;
    data[o] = v;
    data[o + 1] = v;
    data[o + 2] = v;
  }
  return { width, height, data };
}
