/** An 8-bit RGB image at full size: rows top to bottom, 3 bytes per pixel, no padding. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}
