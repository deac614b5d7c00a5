import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { FetchError, isPipelineError } from '../errors.js';
import { schemeOf } from '../uri.js';
import { streamHttp } from './fetch-http.js';
import { localFetchError, localPathOf } from './fetch-local.js';
import { type FetchInputOptions, type ResolvedFetchOptions, resolveFetchOptions } from './fetch-options.js';
import { mapS3Failure, s3ObjectOf } from './fetch-s3.js';
import { StallTimer } from './stall-timer.js';

/** Options of {@link streamInput}. */
export interface StreamInputOptions extends FetchInputOptions {
  /**
   * Tries in all for opening and for resuming after a transient failure mid-stream (a reset, a stall, a 5xx):
   * S3 and http(s) streams reopen with a Range request at the byte reached. Default 3.
   */
  attempts?: number;
  /** Waits before retry `attempt`. Default: none. */
  backoff?: (attempt: number, error: FetchError) => Promise<void>;
}

/**
 * Streams an input's bytes (a tar shard) from a local path, `s3://bucket/key` or `http(s)://` URL, without
 * holding more than one chunk: unlike fetchInput there is no size limit, and the stall timeout runs only while a
 * read is pending, so a consumer may pause. Failures are {@link FetchError}s; caller aborts throw the signal's
 * reason.
 */
export async function* streamInput(uri: string, options: StreamInputOptions): AsyncGenerator<Uint8Array> {
  const resolved = resolveFetchOptions(options);
  const attempts = options.attempts ?? 3;
  let offset = 0;
  for (let attempt = 1; ; attempt++) {
    resolved.signal?.throwIfAborted();
    try {
      for await (const chunk of openAt(uri, resolved, offset)) {
        offset += chunk.byteLength;
        yield chunk;
      }
      return;
    } catch (error) {
      const scheme = schemeOf(uri);
      const resumable = scheme === 's3' || scheme === 'http' || scheme === 'https';
      if (!isPipelineError(error, 'FETCH_FAILED') || !error.transient || !resumable || attempt >= attempts) {
        throw error;
      }
      await options.backoff?.(attempt, error);
    }
  }
}

function openAt(uri: string, options: ResolvedFetchOptions, offset: number): AsyncIterable<Uint8Array> {
  const scheme = schemeOf(uri);
  if (scheme === undefined || scheme === 'file') return streamLocal(uri, scheme === 'file', offset);
  if (scheme === 's3') return streamS3(uri, options, offset);
  if (scheme === 'http' || scheme === 'https') return streamHttp(uri, options, offset);
  throw new FetchError(
    'invalid_uri',
    uri,
    `unsupported scheme ${scheme}://; use a local path, s3:// or http(s)://`,
  );
}

async function* streamLocal(uri: string, isFileUrl: boolean, offset: number): AsyncGenerator<Uint8Array> {
  const file = isFileUrl ? localPathOf(uri) : path.resolve(uri);
  try {
    if (!(await stat(file)).isFile()) throw new FetchError('invalid_uri', uri, 'not a regular file');
    for await (const chunk of createReadStream(file, { start: offset })) yield chunk as Buffer;
  } catch (cause) {
    throw localFetchError(uri, cause);
  }
}

async function* streamS3(
  uri: string,
  options: ResolvedFetchOptions,
  offset: number,
): AsyncGenerator<Uint8Array> {
  const { bucket, key, client } = s3ObjectOf(uri, options);
  const timer = new StallTimer(options.signal);
  let body: (Readable & AsyncIterable<Uint8Array>) | undefined;
  try {
    timer.arm(options.readTimeoutMs);
    const response = await client.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}),
      }),
      { abortSignal: timer.signal },
    );
    timer.clear();
    body = response.Body as (Readable & AsyncIterable<Uint8Array>) | undefined;
    if (body === undefined) return;
    const stream = body;
    const destroy = () =>
      stream.destroy(timer.signal.reason instanceof Error ? timer.signal.reason : undefined);
    if (timer.signal.aborted) destroy();
    else timer.signal.addEventListener('abort', destroy, { once: true });
    const iterator = stream[Symbol.asyncIterator]();
    for (;;) {
      timer.arm(options.readTimeoutMs);
      const next = await iterator.next();
      timer.clear();
      if (next.done) return;
      yield next.value;
    }
  } catch (cause) {
    throw mapS3Failure(cause, uri, options, timer);
  } finally {
    timer.clear();
    body?.destroy();
  }
}
