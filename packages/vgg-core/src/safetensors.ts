import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { VggError } from './errors.js';
import { bfloat16ToFloat32, float16ToFloat32 } from './half-float.js';
import { numel } from './state-dict.js';

/** Element types of the safetensors format. */
export type SafetensorsDtype =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'F8_E4M3'
  | 'F8_E5M2'
  | 'U16'
  | 'I16'
  | 'F16'
  | 'BF16'
  | 'U32'
  | 'I32'
  | 'F32'
  | 'U64'
  | 'I64'
  | 'F64';

/** Bytes per element of each dtype. */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  U64: 8,
  I64: 8,
  F64: 8,
};

/** Float dtypes that {@link tensorToFloat32} converts. */
export const CONVERTIBLE_FLOAT_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16', 'F64'];

export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Absolute byte offset of the data in the file (8 + header length + data_offsets[0]). */
  readonly byteOffset: number;
  readonly byteLength: number;
}

export interface SafetensorsHeader {
  readonly path: string;
  /** Length of the JSON header in bytes (the u64 at the start of the file). */
  readonly headerLength: number;
  /** Absolute offset where the data area starts: 8 + headerLength. */
  readonly dataStart: number;
  readonly fileSize: number;
  /** Tensors in file order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  readonly metadata: Readonly<Record<string, string>> | null;
}

export interface SafetensorsTensor extends SafetensorsTensorInfo {
  /** The raw little-endian bytes (a view into the file buffer). */
  readonly data: Uint8Array;
}

/** A tensor to write: raw data, or a generator of chunks so that large tensors never sit in memory whole. */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: ArrayBufferView | (() => Iterable<ArrayBufferView>);
}

export interface WriteSafetensorsOptions {
  /** String metadata stored under `__metadata__`. Default: none. */
  metadata?: Record<string, string>;
}

export interface WriteSafetensorsResult {
  /** sha256 hex of the bytes written. */
  readonly sha256: string;
  readonly byteLength: number;
}

/** The format's own cap on header size; anything bigger is a corrupt or foreign file. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Reads and validates the header of a safetensors file without reading tensor data. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const handle = await openForRead(path);
  try {
    const { size } = await handle.stat();
    if (size < 8) throw formatError(path, `file is ${size} bytes, shorter than the 8-byte header length`);
    const prefix = Buffer.alloc(8);
    await handle.read(prefix, 0, 8, 0);
    const headerLength = readHeaderLength(prefix, size, path);
    const json = Buffer.alloc(headerLength);
    await handle.read(json, 0, headerLength, 8);
    return parseSafetensorsHeader(json, size, path);
  } finally {
    await handle.close();
  }
}

/** Parses a header given the JSON bytes and the total file size; validates offsets and sizes. */
export function parseSafetensorsHeader(json: Uint8Array, fileSize: number, path: string): SafetensorsHeader {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8'));
  } catch (cause) {
    throw formatError(path, 'header is not valid JSON', cause);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw formatError(path, 'header is not a JSON object');
  }
  const dataStart = 8 + json.byteLength;
  const dataLength = fileSize - dataStart;
  let metadata: Record<string, string> | null = null;
  const raw: Array<{ name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }> =
    [];
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw formatError(path, '__metadata__ is not an object of strings');
      }
      metadata = {};
      for (const [key, text] of Object.entries(value as Record<string, unknown>)) {
        if (typeof text !== 'string') throw formatError(path, `__metadata__.${key} is not a string`);
        metadata[key] = text;
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (info === null || typeof info !== 'object') throw formatError(path, `entry ${name} is not an object`);
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string' || !(dtype in SAFETENSORS_DTYPE_BYTES)) {
      throw formatError(path, `tensor ${name} has unknown dtype ${JSON.stringify(dtype)}`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw formatError(path, `tensor ${name} has invalid shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw formatError(path, `tensor ${name} has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const typed = dtype as SafetensorsDtype;
    const expected = numel(shape as number[]) * SAFETENSORS_DTYPE_BYTES[typed];
    const [begin, end] = offsets as [number, number];
    if (end - begin !== expected) {
      throw formatError(
        path,
        `tensor ${name} (${typed} ${JSON.stringify(shape)}) needs ${expected} bytes but data_offsets span ${end - begin}`,
      );
    }
    raw.push({ name, dtype: typed, shape: shape as number[], begin, end });
  }
  raw.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const t of raw) {
    if (t.begin !== cursor) {
      throw formatError(
        path,
        `data_offsets are not contiguous: tensor ${t.name} starts at ${t.begin} but the previous tensor ends at ${cursor}`,
      );
    }
    cursor = t.end;
    tensors.set(t.name, {
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      byteOffset: dataStart + t.begin,
      byteLength: t.end - t.begin,
    });
  }
  if (cursor !== dataLength) {
    throw formatError(path, `tensors cover ${cursor} bytes but the data area holds ${dataLength}`);
  }
  return { path, headerLength: json.byteLength, dataStart, fileSize, tensors, metadata };
}

/** Reads a whole safetensors file; tensor data are views into one buffer. */
export async function readSafetensors(path: string): Promise<Map<string, SafetensorsTensor>> {
  const handle = await openForRead(path);
  let bytes: Buffer;
  try {
    bytes = await handle.readFile();
  } finally {
    await handle.close();
  }
  if (bytes.length < 8)
    throw formatError(path, `file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const headerLength = readHeaderLength(bytes.subarray(0, 8), bytes.length, path);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + headerLength), bytes.length, path);
  const out = new Map<string, SafetensorsTensor>();
  for (const info of header.tensors.values()) {
    out.set(info.name, { ...info, data: bytes.subarray(info.byteOffset, info.byteOffset + info.byteLength) });
  }
  return out;
}

/** Converts a float tensor (F32, F16, BF16, F64) to a new Float32Array. */
export function tensorToFloat32(tensor: Pick<SafetensorsTensor, 'name' | 'dtype' | 'data'>): Float32Array {
  const { data } = tensor;
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  switch (tensor.dtype) {
    case 'F32':
      return new Float32Array(copy.buffer);
    case 'F16':
      return float16ToFloat32(new Uint16Array(copy.buffer));
    case 'BF16':
      return bfloat16ToFloat32(new Uint16Array(copy.buffer));
    case 'F64':
      return Float32Array.from(new Float64Array(copy.buffer));
    default:
      throw new VggError(
        'VGG_WEIGHTS',
        `Expected a float tensor (F32, F16, BF16 or F64) for ${tensor.name} but received ${tensor.dtype}`,
      );
  }
}

/**
 * Writes a safetensors file. The header is padded with spaces to a multiple of 8 bytes, so every tensor of
 * 8-byte or smaller elements starts aligned, which lets ONNX external data and mmap readers use it directly.
 */
export async function writeSafetensors(
  path: string,
  entries: readonly SafetensorsEntry[],
  options: WriteSafetensorsOptions = {},
): Promise<WriteSafetensorsResult> {
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  let offset = 0;
  const seen = new Set<string>();
  for (const entry of entries) {
    if (entry.name === '__metadata__' || seen.has(entry.name)) {
      throw new VggError(
        'VGG_INVALID_OPTION',
        `Expected unique tensor names but received ${entry.name} twice`,
      );
    }
    seen.add(entry.name);
    const size = numel(entry.shape) * SAFETENSORS_DTYPE_BYTES[entry.dtype];
    header[entry.name] = { dtype: entry.dtype, shape: entry.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));

  const hash = createHash('sha256');
  const handle = await open(path, 'w');
  let position = 0;
  const write = async (chunk: Uint8Array): Promise<void> => {
    hash.update(chunk);
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position);
      done += bytesWritten;
      position += bytesWritten;
    }
  };
  try {
    await write(prefix);
    await write(json);
    for (const entry of entries) {
      const expected = numel(entry.shape) * SAFETENSORS_DTYPE_BYTES[entry.dtype];
      let written = 0;
      const chunks = typeof entry.data === 'function' ? entry.data() : [entry.data];
      for (const view of chunks) {
        const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
        written += bytes.length;
        if (written > expected) break;
        await write(bytes);
      }
      if (written !== expected) {
        throw new VggError(
          'VGG_INVALID_OPTION',
          `Expected ${expected} bytes for tensor ${entry.name} (${entry.dtype} ${JSON.stringify(entry.shape)}) but received ${written}`,
        );
      }
    }
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest('hex'), byteLength: position };
}

function readHeaderLength(prefix: Uint8Array, fileSize: number, path: string): number {
  const length = Buffer.from(prefix.buffer, prefix.byteOffset, 8).readBigUInt64LE(0);
  if (length > BigInt(Math.min(MAX_HEADER_BYTES, fileSize - 8))) {
    throw formatError(path, `header length ${length} does not fit a ${fileSize}-byte file`);
  }
  return Number(length);
}

async function openForRead(path: string) {
  try {
    return await open(path, 'r');
  } catch (cause) {
    throw new VggError(
      'VGG_MODEL_FORMAT',
      `Cannot open safetensors file ${path}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}

function formatError(path: string, detail: string, cause?: unknown): VggError {
  return new VggError(
    'VGG_MODEL_FORMAT',
    `Invalid safetensors file ${path}: ${detail}`,
    cause === undefined ? undefined : { cause },
  );
}
