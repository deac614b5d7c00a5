import { invalidOption } from '../errors.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/**
 * Encodes a 2-D little-endian C-order array as `.npy` version 1.0: magic, version, uint16 header length, then
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (N, D), }` padded with spaces to a 64-byte boundary and
 * ending in `\n`, then the raw data. float16 data is given as raw IEEE half bits (`<f2`).
 */
export function encodeNpy(
  data: Float32Array | Uint16Array,
  shape: readonly [number, number],
  dtype: 'float32' | 'float16',
): Uint8Array {
  const [rows, cols] = shape;
  if (!Number.isSafeInteger(rows) || rows < 0) throw invalidOption('shape[0]', 'non-negative integer', rows);
  if (!Number.isSafeInteger(cols) || cols < 0) throw invalidOption('shape[1]', 'non-negative integer', cols);
  if (dtype === 'float32' && !(data instanceof Float32Array)) {
    throw invalidOption('data', 'Float32Array for dtype float32', data?.constructor?.name);
  }
  if (dtype === 'float16' && !(data instanceof Uint16Array)) {
    throw invalidOption('data', 'Uint16Array of half-float bits for dtype float16', data?.constructor?.name);
  }
  if (dtype !== 'float32' && dtype !== 'float16')
    throw invalidOption('dtype', "'float32' or 'float16'", dtype);
  if (data.length !== rows * cols)
    throw invalidOption('data.length', `${rows * cols} (rows × cols)`, data.length);

  const descr = dtype === 'float32' ? '<f4' : '<f2';
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  // magic (6) + version (2) + header length (2) + dict + padding + '\n' is a multiple of 64.
  const unpadded = 10 + dict.length + 1;
  const headerLength = dict.length + 1 + ((64 - (unpadded % 64)) % 64);
  if (headerLength > 0xffff) throw invalidOption('shape', 'shape whose .npy header fits version 1.0', shape);
  const out = new Uint8Array(10 + headerLength + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = headerLength & 0xff;
  out[9] = headerLength >> 8;
  const header = `${dict}${' '.repeat(headerLength - dict.length - 1)}\n`;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (isLittleEndian()) {
    out.set(bytes, 10 + headerLength);
  } else {
    const width = data.BYTES_PER_ELEMENT;
    for (let i = 0; i < bytes.length; i += width) {
      for (let b = 0; b < width; b++) out[10 + headerLength + i + b] = bytes[i + width - 1 - b] as number;
    }
  }
  return out;
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}
