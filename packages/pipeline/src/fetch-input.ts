import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Dispatcher } from 'undici';
import { invalidOption } from 'vgg-core';
import { FetchError } from './fetch-error.js';
import { parseS3Uri } from './location.js';
import { classifyS3Error, TRANSIENT_SOCKET_CODES } from './s3-client.js';

/** Options of {@link fetchInput}. */
export interface FetchInputOptions {
  /** Client for `s3://` inputs; a function is called only when an s3:// input is fetched. */
  s3: S3Client | (() => S3Client);
  /** Largest input accepted, in bytes, enforced while streaming. Default 64 MiB. */
  maxBytes?: number;
  /**
   * HTTP(S): milliseconds from sending a request (each redirect hop) until its response headers arrive,
   * covering DNS, connect, TLS and the server's time to first byte. Default 10_000. S3 inputs use the client's
   * own connect timeout and retries instead.
   */
  connectTimeoutMs?: number;
  /** Milliseconds the body may stall between two chunks (HTTP and S3). Default 30_000. */
  readTimeoutMs?: number;
  /** HTTP redirects followed before failing with `redirect_loop`. Default 5. */
  maxRedirects?: number;
  /** Aborts the fetch; the promise then rejects with the signal's reason, not a FetchError. Default none. */
  signal?: AbortSignal;
  /**
   * Called with each HTTP(S) URL before it is requested, redirect targets included; throw to refuse it (a
   * FetchError is passed through, anything else becomes reason `forbidden`). Default none: all URLs allowed.
   */
  checkUrl?: (url: URL) => Promise<void>;
  /** `User-Agent` header for HTTP(S) requests. Default `vgg-batch`. */
  userAgent?: string;
  /**
   * undici dispatcher for HTTP(S) requests, e.g. an `Agent` whose `connect.lookup` refuses private addresses
   * (see NetworkPolicy). Default: Node's global dispatcher.
   */
  dispatcher?: Dispatcher;
}

/** The bytes of one input and their SHA-256 (lowercase hex). */
export interface FetchedInput {
  bytes: Uint8Array;
  sha256: string;
}

interface ResolvedOptions {
  s3: S3Client | (() => S3Client);
  maxBytes: number;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  maxRedirects: number;
  signal: AbortSignal | undefined;
  checkUrl: ((url: URL) => Promise<void>) | undefined;
  userAgent: string;
  dispatcher: Dispatcher | undefined;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Fetches an input's bytes from a local path (or `file://`), `s3://bucket/key` or `http(s)://` URL, enforcing a
 * byte limit while streaming and timeouts on stalls. Failures are {@link FetchError}s with a `reason` and a
 * `transient` flag; caller aborts reject with the signal's reason.
 */
export async function fetchInput(uri: string, options: FetchInputOptions): Promise<FetchedInput> {
  const resolved = resolveOptions(options);
  resolved.signal?.throwIfAborted();
  let bytes: Uint8Array;
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'file') {
    bytes = await fetchLocal(uri, scheme === 'file', resolved);
  } else if (scheme === 's3') {
    bytes = await fetchS3(uri, resolved);
  } else if (scheme === 'http' || scheme === 'https') {
    bytes = await fetchHttp(uri, resolved);
  } else {
    throw new FetchError(
      'invalid_uri',
      uri,
      `unsupported scheme ${scheme}://; use a local path, s3:// or http(s)://`,
    );
  }
  // Inline hashing runs at ~1.5 GB/s here (0.25 ms for a typical photo). WebCrypto's digest looks asynchronous
  // but on Node 20 does its copy and most of its work on the calling thread, 5x slower: measured, not used.
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function resolveOptions(options: FetchInputOptions): ResolvedOptions {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const readTimeoutMs = options.readTimeoutMs ?? 30_000;
  const maxRedirects = options.maxRedirects ?? 5;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
    throw invalidOption('maxBytes', 'positive integer', maxBytes);
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs < 1) {
    throw invalidOption('connectTimeoutMs', 'positive integer', connectTimeoutMs);
  }
  if (!Number.isInteger(readTimeoutMs) || readTimeoutMs < 1) {
    throw invalidOption('readTimeoutMs', 'positive integer', readTimeoutMs);
  }
  if (!Number.isInteger(maxRedirects) || maxRedirects < 0) {
    throw invalidOption('maxRedirects', 'non-negative integer', maxRedirects);
  }
  return {
    s3: options.s3,
    maxBytes,
    connectTimeoutMs,
    readTimeoutMs,
    maxRedirects,
    signal: options.signal,
    checkUrl: options.checkUrl,
    userAgent: options.userAgent ?? 'vgg-batch',
    dispatcher: options.dispatcher,
  };
}

// ---------------------------------------------------------------- local

const TRANSIENT_FS_CODES = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EINTR', 'EIO', 'ETIMEDOUT']);

async function fetchLocal(uri: string, isFileUrl: boolean, options: ResolvedOptions): Promise<Uint8Array> {
  let file: string;
  try {
    file = path.resolve(isFileUrl ? fileURLToPath(uri) : uri);
  } catch (cause) {
    throw new FetchError('invalid_uri', uri, 'not a valid file:// URL', { cause });
  }
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(file, 'r');
    const info = await handle.stat();
    if (!info.isFile()) throw new FetchError('invalid_uri', uri, 'not a regular file');
    if (info.size > options.maxBytes) {
      throw new FetchError('too_large', uri, `${info.size} bytes exceeds maxBytes ${options.maxBytes}`);
    }
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
    if (cause instanceof FetchError) throw cause;
    const code = (cause as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new FetchError('not_found', uri, 'no such file', { cause });
    if (code === 'EACCES' || code === 'EPERM')
      throw new FetchError('forbidden', uri, 'permission denied', { cause });
    if (code === 'EISDIR') throw new FetchError('invalid_uri', uri, 'is a directory', { cause });
    const transient = typeof code === 'string' && TRANSIENT_FS_CODES.has(code);
    throw new FetchError('network', uri, `read failed (${String(code ?? 'error')})`, { cause, transient });
  } finally {
    await handle?.close();
  }
}

// ---------------------------------------------------------------- s3

async function fetchS3(uri: string, options: ResolvedOptions): Promise<Uint8Array> {
  let bucket: string;
  let key: string;
  try {
    ({ bucket, key } = parseS3Uri(uri));
  } catch (cause) {
    throw new FetchError('invalid_uri', uri, 'expected s3://bucket/key', { cause });
  }
  if (key === '' || key.endsWith('/'))
    throw new FetchError('invalid_uri', uri, 'names a prefix, not an object');
  const client = typeof options.s3 === 'function' ? options.s3() : options.s3;
  const timer = new StallTimer(options.signal);
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), {
      abortSignal: timer.signal,
    });
    if (response.ContentLength !== undefined && response.ContentLength > options.maxBytes) {
      (response.Body as Readable | undefined)?.destroy();
      throw new FetchError(
        'too_large',
        uri,
        `${response.ContentLength} bytes exceeds maxBytes ${options.maxBytes}`,
      );
    }
    const body = response.Body as (Readable & AsyncIterable<Uint8Array>) | undefined;
    if (body === undefined) return new Uint8Array(0);
    // The SDK's abort signal does not reach a body already handed over, so deadlines and caller aborts destroy
    // the stream directly; the pending read then rejects.
    const destroy = () =>
      body.destroy(timer.signal.reason instanceof Error ? timer.signal.reason : undefined);
    if (timer.signal.aborted) destroy();
    else timer.signal.addEventListener('abort', destroy, { once: true });
    return await readLimited(body, uri, options, timer, () => body.destroy());
  } catch (cause) {
    throw mapS3Failure(cause, uri, options, timer);
  } finally {
    timer.clear();
  }
}

function mapS3Failure(cause: unknown, uri: string, options: ResolvedOptions, timer: StallTimer): unknown {
  if (cause instanceof FetchError) return cause;
  if (options.signal?.aborted) return options.signal.reason;
  if (timer.timedOut) {
    return new FetchError('timeout', uri, `no data for ${options.readTimeoutMs} ms`, {
      cause,
      transient: true,
    });
  }
  const info = classifyS3Error(cause);
  const status = info.status;
  if (info.notFound || info.noSuchBucket) {
    return new FetchError('not_found', uri, info.noSuchBucket ? 'no such bucket' : 'no such key', {
      cause,
      status,
    });
  }
  if (info.forbidden) return new FetchError('forbidden', uri, 'access denied', { cause, status });
  if (info.name === 'TimeoutError' || info.name === 'RequestTimeout' || info.name === 'ETIMEDOUT') {
    return new FetchError('timeout', uri, 'S3 request timed out', { cause, status, transient: true });
  }
  if (status !== undefined) {
    return new FetchError('http_error', uri, `S3 ${info.name}`, { cause, status, transient: info.transient });
  }
  return new FetchError('network', uri, `S3 request failed (${info.name})`, {
    cause,
    transient: info.transient,
  });
}

// ---------------------------------------------------------------- http

async function fetchHttp(uri: string, options: ResolvedOptions): Promise<Uint8Array> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch (cause) {
    throw new FetchError('invalid_uri', uri, 'not a valid URL', { cause });
  }
  for (let redirects = 0; ; redirects++) {
    const current = url.toString();
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new FetchError('invalid_uri', uri, `redirected to unsupported scheme ${url.protocol}//`);
    }
    if (url.username !== '' || url.password !== '') {
      throw new FetchError(
        'invalid_uri',
        current,
        'credentials in URLs are not supported; use a presigned URL',
      );
    }
    if (options.checkUrl !== undefined) {
      try {
        await options.checkUrl(url);
      } catch (cause) {
        if (cause instanceof FetchError) throw cause;
        const detail = cause instanceof Error ? cause.message : String(cause);
        throw new FetchError('forbidden', current, `refused by address check: ${detail}`, { cause });
      }
    }
    const timer = new StallTimer(options.signal);
    try {
      timer.arm(options.connectTimeoutMs);
      let response: Response;
      try {
        const init: RequestInit = {
          redirect: 'manual',
          signal: timer.signal,
          headers: { 'user-agent': options.userAgent, accept: 'image/*,*/*;q=0.8' },
        };
        // npm undici's Dispatcher type differs nominally from the undici-types one in RequestInit; at runtime
        // Node's fetch accepts either.
        if (options.dispatcher !== undefined) Object.assign(init, { dispatcher: options.dispatcher });
        response = await fetch(url, init);
      } catch (cause) {
        throw mapHttpFailure(cause, current, options, timer, 'waiting for response headers');
      }
      const status = response.status;
      if (REDIRECT_STATUSES.has(status)) {
        await response.body?.cancel().catch(() => {});
        const location = response.headers.get('location');
        if (location === null) {
          throw new FetchError('http_error', current, `HTTP ${status} redirect without Location`, { status });
        }
        if (redirects >= options.maxRedirects) {
          throw new FetchError('redirect_loop', uri, `more than ${options.maxRedirects} redirects`, {
            status,
          });
        }
        try {
          url = new URL(location, url);
        } catch (cause) {
          throw new FetchError('invalid_uri', current, 'redirect to an invalid Location', { cause, status });
        }
        continue;
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        throw httpStatusError(current, status);
      }
      const declared = Number(response.headers.get('content-length') ?? Number.NaN);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        await response.body?.cancel().catch(() => {});
        throw new FetchError('too_large', current, `${declared} bytes exceeds maxBytes ${options.maxBytes}`, {
          status,
        });
      }
      if (response.body === null) return new Uint8Array(0);
      const reader = response.body.getReader();
      try {
        return await readLimited(readerChunks(reader), current, options, timer, () => {
          reader.cancel().catch(() => {});
        });
      } catch (cause) {
        throw mapHttpFailure(cause, current, options, timer, 'reading the body');
      }
    } finally {
      timer.clear();
    }
  }
}

async function* readerChunks(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncGenerator<Uint8Array> {
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

function httpStatusError(uri: string, status: number): FetchError {
  if (status === 404 || status === 410) return new FetchError('not_found', uri, `HTTP ${status}`, { status });
  if (status === 401 || status === 403) return new FetchError('forbidden', uri, `HTTP ${status}`, { status });
  const transient = status >= 500 || status === 408 || status === 429;
  return new FetchError('http_error', uri, `HTTP ${status}`, { status, transient });
}

const TRANSIENT_NET_CODES = new Set([
  ...TRANSIENT_SOCKET_CODES,
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function mapHttpFailure(
  cause: unknown,
  uri: string,
  options: ResolvedOptions,
  timer: StallTimer,
  phase: string,
): unknown {
  if (cause instanceof FetchError) return cause;
  if (options.signal?.aborted) return options.signal.reason;
  if (timer.timedOut) {
    return new FetchError('timeout', uri, `timed out after ${timer.lastTimeoutMs} ms ${phase}`, {
      cause,
      transient: true,
    });
  }
  // undici reports network failures as TypeError('fetch failed') with the system error as cause.
  const inner = (cause as { cause?: unknown })?.cause ?? cause;
  const code = (inner as { code?: unknown })?.code;
  const codeText = typeof code === 'string' ? code : 'unknown';
  if (codeText === 'FORBIDDEN_ADDRESS') {
    const detail = inner instanceof Error ? inner.message : 'address refused by the network policy';
    return new FetchError('forbidden', uri, detail, { cause });
  }
  if (codeText.endsWith('TIMEOUT') || codeText === 'ETIMEDOUT') {
    return new FetchError('timeout', uri, `timed out ${phase} (${codeText})`, { cause, transient: true });
  }
  return new FetchError('network', uri, `network error ${phase} (${codeText})`, {
    cause,
    transient: TRANSIENT_NET_CODES.has(codeText),
  });
}

// ---------------------------------------------------------------- shared

/** Collects chunks up to maxBytes, re-arming the stall timer before each chunk. */
async function readLimited(
  chunks: AsyncIterable<Uint8Array>,
  uri: string,
  options: ResolvedOptions,
  timer: StallTimer,
  cancel: () => void,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  timer.arm(options.readTimeoutMs);
  for await (const chunk of chunks) {
    total += chunk.byteLength;
    if (total > options.maxBytes) {
      cancel();
      throw new FetchError('too_large', uri, `body exceeds maxBytes ${options.maxBytes}`);
    }
    parts.push(chunk);
    timer.arm(options.readTimeoutMs);
  }
  timer.clear();
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const joined = Buffer.concat(parts, total);
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
}

/**
 * An AbortSignal that fires when the caller aborts or when an armed deadline passes, remembering which, so
 * failures can be told apart: caller aborts propagate, deadlines become `timeout` FetchErrors.
 */
class StallTimer {
  readonly #controller = new AbortController();
  readonly #parent: AbortSignal | undefined;
  readonly #onParentAbort = () => this.#controller.abort(this.#parent?.reason);
  #timeout: NodeJS.Timeout | undefined;
  timedOut = false;
  lastTimeoutMs = 0;

  constructor(parent: AbortSignal | undefined) {
    this.#parent = parent;
    if (parent?.aborted) this.#controller.abort(parent.reason);
    else parent?.addEventListener('abort', this.#onParentAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  arm(timeoutMs: number): void {
    if (this.#timeout !== undefined) clearTimeout(this.#timeout);
    this.lastTimeoutMs = timeoutMs;
    this.#timeout = setTimeout(() => {
      this.timedOut = true;
      this.#controller.abort(this.timeoutError());
    }, timeoutMs);
  }

  timeoutError(): Error {
    return Object.assign(new Error(`stalled for ${this.lastTimeoutMs} ms`), { name: 'TimeoutError' });
  }

  clear(): void {
    if (this.#timeout !== undefined) clearTimeout(this.#timeout);
    this.#timeout = undefined;
    this.#parent?.removeEventListener('abort', this.#onParentAbort);
  }
}
