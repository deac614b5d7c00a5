import { float16ToFloat32 } from 'vgg-core';
import { IndexError } from '../errors.js';

/** Query vectors read from a `.npy` file: `rows` × `dim`, row-major float32. */
export interface NpyVectors {
  rows: number;
  dim: number;
  data: Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/**
 * Reads a NumPy `.npy` file of shape (D,) or (N, D), little-endian float32, float16 or float64, C order (what
 * `np.save` writes for `np.float32` arrays; the pipeline writes the same layout).
 */
export function readNpyVectors(bytes: Uint8Array, where: string): NpyVectors {
  const fail = (detail: string) =>
    new IndexError('INDEX_QUERY_INVALID', `${where} is not a usable .npy vector file: ${detail}`, {
      uri: where,
    });
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b))
    throw fail('it does not start with \\x93NUMPY');
  const major = bytes[6] as number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  if (major < 1 || major > 3) throw fail(`unknown format version ${major}`);
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw fail(`unreadable header ${header.trim()}`);
  if (fortran === 'True') throw fail('it is in Fortran order; save a C-ordered array (np.ascontiguousarray)');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.length < 1 || shape.length > 2 || shape.some((n) => !Number.isSafeInteger(n) || n < 1)) {
    throw fail(`expected shape (D,) or (N, D) but found (${shapeText})`);
  }
  const rows = shape.length === 1 ? 1 : (shape[0] as number);
  const dim = shape[shape.length - 1] as number;
  const count = rows * dim;
  const dataStart = headerStart + headerLength;
  const width = descr === '<f4' ? 4 : descr === '<f2' ? 2 : descr === '<f8' ? 8 : 0;
  if (width === 0)
    throw fail(`expected dtype float32, float16 or float64 ('<f4', '<f2', '<f8') but found '${descr}'`);
  if (bytes.length - dataStart < count * width) {
    throw fail(
      `it holds ${bytes.length - dataStart} data bytes but shape (${shape.join(', ')}) needs ${count * width}`,
    );
  }
  const data = new Float32Array(count);
  if (width === 2) {
    const halves = new Uint16Array(count);
    for (let i = 0; i < count; i++) halves[i] = view.getUint16(dataStart + i * 2, true);
    float16ToFloat32(halves, data);
  } else {
    for (let i = 0; i < count; i++) {
      data[i] =
        width === 4 ? view.getFloat32(dataStart + i * 4, true) : view.getFloat64(dataStart + i * 8, true);
    }
  }
  return { rows, dim, data };
}
