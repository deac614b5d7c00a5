import { FetchError } from '../errors.js';
import { TRANSIENT_SOCKET_CODES } from '../storage/s3-client.js';
import type { ResolvedFetchOptions } from './fetch-options.js';
import { readLimited, StallTimer } from './stall-timer.js';

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Fetches an `http(s)://` URL up to maxBytes, following redirects by hand so every hop passes `checkUrl` and the
 * dispatcher's address check.
 */
export async function fetchHttp(uri: string, options: ResolvedFetchOptions): Promise<Uint8Array> {
  const timer = new StallTimer(options.signal);
  try {
    const { response, url } = await requestHttp(uri, options, timer);
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared > options.maxBytes) {
      await response.body?.cancel().catch(() => {});
      throw new FetchError('too_large', url, `${declared} bytes exceeds maxBytes ${options.maxBytes}`, {
        status: response.status,
      });
    }
    if (response.body === null) return new Uint8Array(0);
    // A declared length counts the encoded bytes: a gzip'd body is read decoded, so it may be longer.
    const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
    try {
      await options.reserve?.(Number.isFinite(declared) && !encoded ? declared : options.maxBytes);
    } catch (reason) {
      await response.body.cancel().catch(() => {});
      throw reason;
    }
    const reader = response.body.getReader();
    try {
      return await readLimited(readerChunks(reader), url, options, timer, () => {
        reader.cancel().catch(() => {});
      });
    } catch (cause) {
      throw mapHttpFailure(cause, url, options, timer, 'reading the body');
    }
  } finally {
    timer.clear();
  }
}

/**
 * Streams an `http(s)://` URL from byte `offset` (a Range request when above 0; a server that ignores it fails
 * with `http_error`), with the same redirect and address checks as {@link fetchHttp} and the stall timeout armed
 * only while a read is pending, so a consumer that pauses (backpressure) is not timed out.
 */
export async function* streamHttp(
  uri: string,
  options: ResolvedFetchOptions,
  offset = 0,
): AsyncGenerator<Uint8Array> {
  const timer = new StallTimer(options.signal);
  try {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const { response, url } = await requestHttp(uri, options, timer, headers);
    timer.clear();
    if (offset > 0 && response.status !== 206) {
      await response.body?.cancel().catch(() => {});
      throw new FetchError('http_error', url, `HTTP ${response.status} to a Range request: cannot resume`, {
        status: response.status,
      });
    }
    if (response.body === null) return;
    const reader = response.body.getReader();
    try {
      for (;;) {
        timer.arm(options.readTimeoutMs);
        let next: Awaited<ReturnType<typeof reader.read>>;
        try {
          next = await reader.read();
        } catch (cause) {
          throw mapHttpFailure(cause, url, options, timer, 'reading the body');
        }
        timer.clear();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  } finally {
    timer.clear();
  }
}

/** Requests a URL, following redirects by hand; returns the first non-redirect response when it is a success. */
async function requestHttp(
  uri: string,
  options: ResolvedFetchOptions,
  timer: StallTimer,
  extraHeaders: Record<string, string> = {},
): Promise<{ response: Response; url: string }> {
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
    timer.arm(options.connectTimeoutMs);
    let response: Response;
    try {
      const init: RequestInit = {
        redirect: 'manual',
        signal: timer.signal,
        headers: { 'user-agent': options.userAgent, accept: 'image/*,*/*;q=0.8', ...extraHeaders },
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
      throw httpStatusError(current, status, response.headers.get('retry-after'));
    }
    return { response, url: current };
  }
}

async function* readerChunks(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncGenerator<Uint8Array> {
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

function httpStatusError(uri: string, status: number, retryAfter: string | null): FetchError {
  if (status === 404 || status === 410) return new FetchError('not_found', uri, `HTTP ${status}`, { status });
  if (status === 401 || status === 403) return new FetchError('forbidden', uri, `HTTP ${status}`, { status });
  const transient = status >= 500 || status === 408 || status === 429;
  // Retry-After is honoured on 429 and 503, where it asks clients to come back later.
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(retryAfter) : undefined;
  return new FetchError(
    'http_error',
    uri,
    `HTTP ${status}${retryAfter !== null && retryAfterMs !== undefined ? ` (Retry-After ${retryAfter})` : ''}`,
    {
      status,
      transient,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    },
  );
}

/** Retry-After as milliseconds from now: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
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
  options: ResolvedFetchOptions,
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
