import type { S3Client } from '@aws-sdk/client-s3';
import type { Dispatcher } from 'undici';
import { invalidOption } from '../errors.js';

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
  /**
   * Called once, after the response headers (or the file's stat) and before the body is read, with the most bytes
   * the body can take: its declared length (HTTP Content-Length without a content encoding, S3's ContentLength, the
   * file's size) when there is one, else maxBytes. The body is read once the promise resolves, so a caller can wait
   * for memory sized to the input rather than to the largest input allowed (the worker's byte budget does). It should
   * reject only when `signal` aborts (the fetch then rejects with the signal's reason). Default none.
   */
  reserve?: (bytes: number) => Promise<void>;
}

/** {@link FetchInputOptions} after validation, with defaults filled in. */
export interface ResolvedFetchOptions {
  s3: S3Client | (() => S3Client);
  maxBytes: number;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  maxRedirects: number;
  signal: AbortSignal | undefined;
  checkUrl: ((url: URL) => Promise<void>) | undefined;
  userAgent: string;
  dispatcher: Dispatcher | undefined;
  reserve: ((bytes: number) => Promise<void>) | undefined;
}

export function resolveFetchOptions(options: FetchInputOptions): ResolvedFetchOptions {
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
    reserve: options.reserve,
  };
}
