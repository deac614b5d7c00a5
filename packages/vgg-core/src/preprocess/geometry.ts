// torchvision's arithmetic for Resize(int) and CenterCrop on a PIL image.

export interface CropBox {
  /** Size of the resized image: shorter side = resizeSize. */
  resizedWidth: number;
  resizedHeight: number;
  left: number;
  top: number;
  width: number;
  height: number;
}

/** torchvision's Resize(size) for an int size: shorter side = size, longer side = int(size * long / short). */
export function resizedSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/** Python 3's round(): halves go to the even neighbour. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Resize(resizeSize) then CenterCrop(cropSize): top = int(round((h - crop) / 2.0)), and the same for left. */
export function centreCropBox(width: number, height: number, resizeSize: number, cropSize: number): CropBox {
  const resized = resizedSize(width, height, resizeSize);
  return {
    resizedWidth: resized.width,
    resizedHeight: resized.height,
    left: roundHalfEven((resized.width - cropSize) / 2),
    top: roundHalfEven((resized.height - cropSize) / 2),
    width: cropSize,
    height: cropSize,
  };
}
