import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { SourceError } from '../errors.js';
import { classifyS3Error } from '../storage/s3-client.js';
import { formatS3Uri, parseS3Uri } from '../uri.js';
import { listLines } from './manifest-source.js';
import { isImageName, manifestFormatOf, SOURCE_HELP } from './source-kinds.js';

/** Lists an S3 manifest (its entries), an image key (itself, after a HEAD) or a prefix (its image keys). */
export async function* listS3(
  source: string,
  deps: { s3: S3Client | (() => S3Client); signal?: AbortSignal | undefined },
): AsyncGenerator<string> {
  let bucket: string;
  let key: string;
  try {
    ({ bucket, key } = parseS3Uri(source));
  } catch (cause) {
    throw new SourceError('SOURCE_INVALID', source, 'expected s3://bucket/prefix/ or s3://bucket/key', {
      cause,
    });
  }
  const client = typeof deps.s3 === 'function' ? deps.s3() : deps.s3;
  const format = key.endsWith('/') ? undefined : manifestFormatOf(key);
  if (format !== undefined) {
    let body: Readable;
    try {
      const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), {
        ...(deps.signal !== undefined ? { abortSignal: deps.signal } : {}),
      });
      body = response.Body as Readable;
    } catch (cause) {
      throw s3SourceError(source, cause, deps.signal);
    }
    const slash = key.lastIndexOf('/');
    yield* listLines(
      source,
      body,
      format,
      { kind: 's3', bucket, prefix: key.slice(0, slash + 1) },
      deps.signal,
    );
    return;
  }
  if (key !== '' && !key.endsWith('/') && isImageName(key)) {
    try {
      await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), {
        ...(deps.signal !== undefined ? { abortSignal: deps.signal } : {}),
      });
    } catch (cause) {
      throw s3SourceError(source, cause, deps.signal);
    }
    yield source;
    return;
  }
  // Anything else is a folder-like prefix: "s3://b/photos" lists photos/, not photos2/.
  const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
  let continuationToken: string | undefined;
  let seenAny = false;
  do {
    deps.signal?.throwIfAborted();
    let page: ListObjectsV2CommandOutput;
    try {
      page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(continuationToken !== undefined ? { ContinuationToken: continuationToken } : {}),
        }),
        { ...(deps.signal !== undefined ? { abortSignal: deps.signal } : {}) },
      );
    } catch (cause) {
      throw s3SourceError(source, cause, deps.signal);
    }
    for (const object of page.Contents ?? []) {
      if (object.Key === undefined) continue;
      seenAny = true;
      const relative = object.Key.slice(prefix.length);
      if (relative.split('/').some((segment) => segment.startsWith('.'))) continue;
      if (isImageName(object.Key)) yield formatS3Uri(bucket, object.Key);
    }
    continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (continuationToken !== undefined);
  if (!seenAny) {
    throw new SourceError(
      'SOURCE_NOT_FOUND',
      source,
      `no objects under s3://${bucket}/${prefix}; check the bucket and prefix (S3 prefixes are case-sensitive)`,
    );
  }
}

function s3SourceError(source: string, cause: unknown, signal: AbortSignal | undefined): unknown {
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
