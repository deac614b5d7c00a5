// What Pillow shows of a GIF's first frame where libvips shows nothing. Pillow opens frame 0 as a palette image on
// a canvas filled with the frame's transparent index (or index 0 when it has none), and convert('RGB') turns every
// index into its palette colour, transparent or not. libvips renders transparent and uncovered pixels as
// transparent black. Opaque pixels agree, so only the others are filled in, from the GIF's own header.

import type { RgbImage } from './rgb-image.js';

export interface GifFirstFrame {
  /** The frame's rectangle on the logical screen. */
  left: number;
  top: number;
  width: number;
  height: number;
  /** RGB colour of the canvas fill (the transparent index, else index 0) in the frame's palette. */
  fill: readonly [number, number, number];
}

/** Reads the first frame's rectangle, palette and transparency; null when the bytes are not a GIF this reads. */
export function readGifFirstFrame(bytes: Uint8Array): GifFirstFrame | null {
  const ascii = String.fromCharCode(...bytes.subarray(0, 6));
  if ((ascii !== 'GIF87a' && ascii !== 'GIF89a') || bytes.length < 13) return null;
  const u16 = (at: number) => bytes[at]! | (bytes[at + 1]! << 8);
  let p = 13;
  let palette: Uint8Array | null = null;
  const screenFlags = bytes[10]!;
  if (screenFlags & 0x80) {
    const size = 3 * (2 << (screenFlags & 7));
    palette = bytes.subarray(p, p + size);
    p += size;
  }
  let transparency: number | null = null;
  while (p < bytes.length) {
    const block = bytes[p]!;
    if (block === 0x21) {
      const label = bytes[p + 1];
      p += 2;
      // Graphic control extension: flags, delay (2 bytes), transparent index.
      if (label === 0xf9 && bytes[p]! >= 4 && p + 4 < bytes.length) {
        transparency = bytes[p + 1]! & 1 ? bytes[p + 4]! : null;
      }
      while (p < bytes.length && bytes[p] !== 0) p += bytes[p]! + 1;
      p += 1;
    } else if (block === 0x2c) {
      if (p + 10 > bytes.length) return null;
      const flags = bytes[p + 9]!;
      if (flags & 0x80) palette = bytes.subarray(p + 10, p + 10 + 3 * (2 << (flags & 7)));
      if (palette === null) return null;
      const index = transparency ?? 0;
      const colour = (c: number) => palette![index * 3 + c] ?? 0;
      return {
        left: u16(p + 1),
        top: u16(p + 3),
        width: u16(p + 5),
        height: u16(p + 7),
        fill: [colour(0), colour(1), colour(2)],
      };
    } else {
      return null;
    }
  }
  return null;
}

/**
 * RGB of a libvips RGBA render of frame 0 as Pillow's convert('RGB') gives it: opaque pixels inside the frame
 * keep their colour, all others take the canvas fill colour.
 */
export function gifFirstFrameRgb(
  rgba: Uint8Array,
  width: number,
  height: number,
  frame: GifFirstFrame,
): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const [r, g, b] = frame.fill;
  const right = frame.left + frame.width;
  const bottom = frame.top + frame.height;
  for (let y = 0, i = 0; y < height; y += 1) {
    const rowInside = y >= frame.top && y < bottom;
    for (let x = 0; x < width; x += 1, i += 1) {
      const o = i * 3;
      const p = i * 4;
      if (rowInside && x >= frame.left && x < right && rgba[p + 3] === 255) {
        data[o] = rgba[p]!;
        data[o + 1] = rgba[p + 1]!;
        data[o + 2] = rgba[p + 2]!;
      } else {
        data[o] = r;
        data[o + 1] = g;
        data[o + 2] = b;
      }
    }
  }
  return { width, height, data };
}
