import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { FetchError } from '../errors.js';
import { classifyS3Error } from '../storage/s3-client.js';
import { parseS3Uri } from '../uri.js';
import type { ResolvedFetchOptions } from './fetch-options.js';
import { readLimited, StallTimer } from './stall-timer.js';

/** Reads an `s3://bucket/key` object up to maxBytes, with a stall timeout on the body. */
export async function fetchS3(uri: string, options: ResolvedFetchOptions): Promise<Uint8Array> {
  const { bucket, key, client } = s3ObjectOf(uri, options);
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
    try {
      await options.reserve?.(response.ContentLength ?? options.maxBytes);
    } catch (reason) {
      body.destroy();
      throw reason;
    }
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

/** An S3 failure of fetching `uri` as a FetchError (caller aborts as the signal's reason). */
export function mapS3Failure(
  cause: unknown,
  uri: string,
  options: ResolvedFetchOptions,
  timer: StallTimer,
): unknown {
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

/** The bucket and key of an `s3://bucket/key` object URI, and the client to read it with; invalid_uri otherwise. */
export function s3ObjectOf(
  uri: string,
  options: Pick<ResolvedFetchOptions, 's3'>,
): { bucket: string; key: string; client: S3Client } {
  let location: { bucket: string; key: string };
  try {
    location = parseS3Uri(uri);
  } catch (cause) {
    throw new FetchError('invalid_uri', uri, 'expected s3://bucket/key', { cause });
  }
  if (location.key === '' || location.key.endsWith('/'))
    throw new FetchError('invalid_uri', uri, 'names a prefix, not an object');
  return { ...location, client: typeof options.s3 === 'function' ? options.s3() : options.s3 };
}
