// PIL's `convert('RGB')`, which torchvision's default_loader applies to every image: no colour management, alpha
// dropped (never composited), grey replicated, CMYK by Pillow's own formula (src/libImaging/Convert.c, cmyk2rgb).
// 16-bit samples keep their high byte, which is what Pillow does when it opens 16-bit RGB, RGBA and grey+alpha
// PNG and TIFF files; for single-channel 16-bit grey, where Pillow's 'I;16' → 'RGB' clips every value above 255 to
// white, this is the pipeline's one deliberate deviation (see README, "Parity with PyTorch").

import type { RgbImage } from './rgb-image.js';

/** How a decoded buffer's channels are read: colour (+ extra channels), grey (+ alpha), or CMYK (+ extra). */
export type PixelLayout = 'rgb' | 'grey' | 'cmyk';

export interface RawPixels {
  readonly width: number;
  readonly height: number;
  /** Interleaved samples per pixel, including alpha and any extra channels (which are dropped). */
  readonly channels: number;
  readonly layout: PixelLayout;
  readonly data: Uint8Array | Uint16Array;
}

const MIN_CHANNELS: Record<PixelLayout, number> = { rgb: 3, grey: 1, cmyk: 4 };

/** Pillow's MULDIV255: (a * b + 127) / 255, computed its way. */
function mulDiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/** The RGB image PIL's convert('RGB') makes of these pixels. Returns the input's buffer when it is already RGB. */
export function toPilRgb(raw: RawPixels): RgbImage {
  const { width, height, channels, layout, data } = raw;
  const pixels = width * height;
  if (channels < MIN_CHANNELS[layout] || data.length < pixels * channels) {
    throw new RangeError(
      `expected ${pixels} pixels of ${channels} ${layout} channels, got ${data.length} samples`,
    );
  }
  if (layout === 'rgb' && channels === 3 && data instanceof Uint8Array) {
    return { width, height, data: data.subarray(0, pixels * 3) };
  }
  const shift = data instanceof Uint16Array ? 8 : 0;
  const out = new Uint8Array(pixels * 3);
  switch (layout) {
    case 'rgb':
      for (let i = 0, p = 0, o = 0; i < pixels; i += 1, p += channels, o += 3) {
        out[o] = data[p]! >> shift;
        out[o + 1] = data[p + 1]! >> shift;
        out[o + 2] = data[p + 2]! >> shift;
      }
      break;
    case 'grey':
      for (let i = 0, p = 0, o = 0; i < pixels; i += 1, p += channels, o += 3) {
        const v = data[p]! >> shift;
        out[o] = v;
        out[o + 1] = v;
        out[o + 2] = v;
      }
      break;
    case 'cmyk':
      for (let i = 0, p = 0, o = 0; i < pixels; i += 1, p += channels, o += 3) {
        const nk = 255 - (data[p + 3]! >> shift);
        // nk - MULDIV255(c, nk) lies in 0..nk, so Pillow's CLIP8 never changes it.
        out[o] = nk - mulDiv255(data[p]! >> shift, nk);
        out[o + 1] = nk - mulDiv255(data[p + 1]! >> shift, nk);
        out[o + 2] = nk - mulDiv255(data[p + 2]! >> shift, nk);
      }
      break;
  }
  return { width, height, data: out };
}
