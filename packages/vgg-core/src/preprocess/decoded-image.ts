export interface DecodedImage {
  /** Width in pixels of the original image (after EXIF orientation when autoOrient is on), before resizing. */
  width: number;
  /** Height in pixels of the original image (after EXIF orientation when autoOrient is on), before resizing. */
  height: number;
  /** The centre crop: cropSize × cropSize × 3 uint8, HWC, RGB (width × height × 3 with geometry 'native'). Backed by its own ArrayBuffer, so transferable. */
  pixels: Uint8Array<ArrayBuffer>;
}
