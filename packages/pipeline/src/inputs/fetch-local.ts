import { open } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FetchError } from '../errors.js';
import { schemeOf } from '../uri.js';
import type { ResolvedFetchOptions } from './fetch-options.js';

const TRANSIENT_FS_CODES = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EINTR', 'EIO', 'ETIMEDOUT']);

/** Reads a local file (or `file://` URL) up to maxBytes. */
export async function fetchLocal(
  uri: string,
  isFileUrl: boolean,
  options: ResolvedFetchOptions,
): Promise<Uint8Array> {
  const file = isFileUrl ? localPathOf(uri) : path.resolve(uri);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(file, 'r');
    const info = await handle.stat();
    if (!info.isFile()) throw new FetchError('invalid_uri', uri, 'not a regular file');
    if (info.size > options.maxBytes) {
      throw new FetchError('too_large', uri, `${info.size} bytes exceeds maxBytes ${options.maxBytes}`);
    }
    await options.reserve?.(info.size);
    // One byte of headroom detects a file that grew past the limit after stat.
    const buffer = Buffer.allocUnsafe(Math.min(info.size, options.maxBytes) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) {
        throw new FetchError(
          'too_large',
          uri,
          `file grew past maxBytes ${options.maxBytes} while being read`,
        );
      }
    }
    return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
  } catch (cause) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw localFetchError(uri, cause);
  } finally {
    await handle?.close();
  }
}

/** A failure of reading local file `uri` as a FetchError: missing, forbidden, a directory, or an I/O error. */
export function localFetchError(uri: string, cause: unknown): FetchError {
  if (cause instanceof FetchError) return cause;
  const code = (cause as { code?: unknown }).code;
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new FetchError('not_found', uri, 'no such file', { cause });
  if (code === 'EACCES' || code === 'EPERM')
    return new FetchError('forbidden', uri, 'permission denied', { cause });
  if (code === 'EISDIR') return new FetchError('invalid_uri', uri, 'is a directory', { cause });
  const transient = typeof code === 'string' && TRANSIENT_FS_CODES.has(code);
  return new FetchError('network', uri, `read failed (${String(code ?? 'error')})`, { cause, transient });
}

/**
 * The local path of a local input: a path as given (resolved), or a `file:` URL's path. A `file:` URL with a host
 * other than localhost, an encoded `/` or a NUL is FetchError `invalid_uri` (Node's fileURLToPath throws a
 * TypeError for these).
 */
export function localPathOf(uri: string): string {
  if (schemeOf(uri) !== 'file') return path.resolve(uri);
  try {
    return path.resolve(fileURLToPath(uri));
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new FetchError('invalid_uri', uri, `not a local file URL (${detail}); use file:///absolute/path`, {
      cause,
    });
  }
}
