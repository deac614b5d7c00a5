import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Dispatcher } from 'undici';
import { SourceError } from '../errors.js';
import { classifyS3Error } from '../storage/s3-client.js';
import { parseS3Uri } from '../uri.js';
import { SOURCE_HELP } from './source-kinds.js';

/**
 * Where a manifest's bytes are, for the producer: a local file, an S3 object or an http(s) URL. An http(s)
 * manifest is fetched through `dispatcher` when given (the producer passes its network policy's, so every
 * connection, redirect hops included, meets the same address check as the workers' inputs).
 */
export type SourceFile =
  | { kind: 'local'; path: string }
  | { kind: 's3'; bucket: string; key: string; client: S3Client }
  | { kind: 'http'; url: string; dispatcher?: Dispatcher };

/** Streams a source file's bytes. Failures are {@link SourceError}s naming the source. */
export async function openSourceStream(
  source: string,
  file: SourceFile,
  signal: AbortSignal | undefined,
): Promise<AsyncIterable<Uint8Array>> {
  const options = signal !== undefined ? { abortSignal: signal } : {};
  switch (file.kind) {
    case 'local': {
      // Opened first so a missing file fails here, not in the middle of iteration.
      const handle = await open(file.path, 'r').catch((cause: unknown) => {
        throw localError(source, file.path, cause);
      });
      return handle.createReadStream({ autoClose: true, ...(signal ? { signal } : {}) });
    }
    case 's3':
      try {
        const response = await file.client.send(
          new GetObjectCommand({ Bucket: file.bucket, Key: file.key }),
          options,
        );
        return response.Body as Readable;
      } catch (cause) {
        throw s3SourceError(source, cause, signal);
      }
    case 'http': {
      const response = await httpFetch(source, file, {}, signal);
      if (response.body === null) return (async function* () {})();
      return response.body as unknown as AsyncIterable<Uint8Array>;
    }
  }
}

/**
 * Random access to a source file, as hyparquet's AsyncBuffer: its length, and byte ranges read on demand (local
 * reads, S3 ranged GETs, http Range requests), so a Parquet manifest is read one row group at a time.
 */
export interface RangeReader {
  byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
  /** Releases the file handle of a local file. */
  close(): Promise<void>;
}

const nothingToClose = async (): Promise<void> => {};

export async function openRangeReader(
  source: string,
  file: SourceFile,
  signal: AbortSignal | undefined,
): Promise<RangeReader> {
  const options = signal !== undefined ? { abortSignal: signal } : {};
  switch (file.kind) {
    case 'local': {
      const handle = await open(file.path, 'r').catch((cause: unknown) => {
        throw localError(source, file.path, cause);
      });
      const { size } = await handle.stat();
      return {
        byteLength: size,
        close: () => handle.close(),
        slice: async (start, end = size) => {
          const buffer = Buffer.alloc(end - start);
          let at = 0;
          while (at < buffer.length) {
            const { bytesRead } = await handle.read(buffer, at, buffer.length - at, start + at);
            if (bytesRead === 0) break;
            at += bytesRead;
          }
          return toArrayBuffer(buffer.subarray(0, at));
        },
      };
    }
    case 's3': {
      let size: number;
      try {
        const head = await file.client.send(
          new HeadObjectCommand({ Bucket: file.bucket, Key: file.key }),
          options,
        );
        size = head.ContentLength ?? 0;
      } catch (cause) {
        throw s3SourceError(source, cause, signal);
      }
      return {
        byteLength: size,
        close: nothingToClose,
        slice: async (start, end = size) => {
          try {
            const response = await file.client.send(
              new GetObjectCommand({
                Bucket: file.bucket,
                Key: file.key,
                Range: `bytes=${start}-${end - 1}`,
              }),
              options,
            );
            const bytes = await (
              response.Body as { transformToByteArray(): Promise<Uint8Array> }
            ).transformToByteArray();
            return toArrayBuffer(bytes);
          } catch (cause) {
            throw s3SourceError(source, cause, signal);
          }
        },
      };
    }
    case 'http': {
      const head = await httpFetch(source, file, { method: 'HEAD' }, signal);
      const size = Number(head.headers.get('content-length') ?? Number.NaN);
      if (!Number.isSafeInteger(size)) {
        throw new SourceError(
          'SOURCE_READ',
          source,
          'the server gives no Content-Length, so Parquet cannot be read by ranges',
        );
      }
      return {
        byteLength: size,
        close: nothingToClose,
        slice: async (start, end = size) => {
          const response = await httpFetch(
            source,
            file,
            { headers: { range: `bytes=${start}-${end - 1}` } },
            signal,
          );
          const bytes = new Uint8Array(await response.arrayBuffer());
          if (response.status !== 206 && bytes.byteLength !== end - start) {
            throw new SourceError(
              'SOURCE_READ',
              source,
              'the server ignores Range requests, so Parquet cannot be read by ranges',
            );
          }
          return toArrayBuffer(bytes);
        },
      };
    }
  }
}

/** The SourceFile of an `s3://` URI. */
export function s3SourceFile(source: string, client: S3Client): SourceFile {
  const { bucket, key } = parseS3Uri(source);
  return { kind: 's3', bucket, key, client };
}

async function httpFetch(
  source: string,
  file: { url: string; dispatcher?: Dispatcher },
  init: RequestInit,
  signal: AbortSignal | undefined,
): Promise<Response> {
  let response: Response;
  try {
    const options: RequestInit = { ...init, ...(signal ? { signal } : {}) };
    // npm undici's Dispatcher differs nominally from the undici-types one in RequestInit; Node's fetch takes either.
    if (file.dispatcher !== undefined) Object.assign(options, { dispatcher: file.dispatcher });
    response = await fetch(file.url, options);
  } catch (cause) {
    if (signal?.aborted) throw signal.reason;
    const inner = (cause as { cause?: { code?: unknown; message?: unknown } }).cause;
    if (inner?.code === 'FORBIDDEN_ADDRESS') {
      throw new SourceError('SOURCE_READ', source, String(inner.message), { cause });
    }
    throw new SourceError('SOURCE_READ', source, `request failed (${String(inner?.code ?? cause)})`, {
      cause,
    });
  }
  if (response.status === 404 || response.status === 410) {
    throw new SourceError('SOURCE_NOT_FOUND', source, `HTTP ${response.status}; ${SOURCE_HELP}`);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new SourceError('SOURCE_READ', source, `HTTP ${response.status}`);
  }
  return response;
}

function localError(source: string, path: string, cause: unknown): SourceError {
  const code = (cause as { code?: unknown }).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new SourceError('SOURCE_NOT_FOUND', source, `${path} does not exist; ${SOURCE_HELP}`, { cause });
  }
  return new SourceError('SOURCE_READ', source, `cannot read ${path} (${String(code)})`, { cause });
}

/** Maps an S3 failure while listing a source to a SourceError (or the abort reason). */
export function s3SourceError(source: string, cause: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  const info = classifyS3Error(cause);
  if (info.noSuchBucket) {
    return new SourceError('SOURCE_NOT_FOUND', source, 'the bucket does not exist', { cause });
  }
  if (info.notFound) {
    return new SourceError('SOURCE_NOT_FOUND', source, `the object does not exist; ${SOURCE_HELP}`, {
      cause,
    });
  }
  if (info.forbidden) {
    return new SourceError('SOURCE_READ', source, 'access denied; check the credentials and bucket policy', {
      cause,
    });
  }
  return new SourceError('SOURCE_READ', source, `S3 request failed (${info.name})`, { cause });
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
