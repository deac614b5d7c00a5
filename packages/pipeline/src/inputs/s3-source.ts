import {
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { SourceError } from '../errors.js';
import { formatS3Uri, parseS3Uri } from '../uri.js';
import { listFile } from './list-file.js';
import { s3SourceError } from './source-bytes.js';
import type { ListInputOptions, SourceEntry } from './source-entry.js';
import { FORMAT_NAMES, inputFormatOf, isImageName, isTarName } from './source-kinds.js';

/**
 * Lists an S3 source: a manifest (its entries), a tar shard or an image key (itself, after a HEAD), or a prefix
 * (its images and tar shards, or with `--input-format` its files of that format, each listed in turn).
 */
export async function* listS3(
  source: string,
  deps: { s3: S3Client | (() => S3Client); signal?: AbortSignal | undefined },
  options: ListInputOptions,
): AsyncGenerator<SourceEntry> {
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
  const signal = deps.signal;
  const isFolder = key === '' || key.endsWith('/');
  const format = isFolder ? undefined : (options.format ?? inputFormatOf(key));
  if (format !== undefined || (!isFolder && isImageName(key))) {
    if (format === 'tar' || format === undefined) {
      // A single shard or image is checked up front, so a typo fails the submit rather than becoming an error row.
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), signalOption(signal));
      } catch (cause) {
        throw s3SourceError(source, cause, signal);
      }
    }
    yield* listFile(source, { kind: 's3', bucket, key, client }, source, options, signal);
    return;
  }
  // Anything else is a folder-like prefix: "s3://b/photos" lists photos/, not photos2/.
  const prefix = isFolder ? key : `${key}/`;
  const wanted =
    options.format === undefined
      ? (name: string) => isImageName(name) || isTarName(name)
      : (name: string) => inputFormatOf(name) === options.format;
  let continuationToken: string | undefined;
  let seenAny = false;
  do {
    signal?.throwIfAborted();
    let page: ListObjectsV2CommandOutput;
    try {
      page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(continuationToken !== undefined ? { ContinuationToken: continuationToken } : {}),
        }),
        signalOption(signal),
      );
    } catch (cause) {
      throw s3SourceError(source, cause, signal);
    }
    for (const object of page.Contents ?? []) {
      if (object.Key === undefined) continue;
      seenAny = true;
      const relative = object.Key.slice(prefix.length);
      if (relative.split('/').some((segment) => segment.startsWith('.'))) continue;
      if (!wanted(object.Key)) continue;
      const uri = formatS3Uri(bucket, object.Key);
      yield* listFile(uri, { kind: 's3', bucket, key: object.Key, client }, uri, options, signal);
    }
    continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (continuationToken !== undefined);
  if (!seenAny) {
    throw new SourceError(
      'SOURCE_NOT_FOUND',
      source,
      `no objects under s3://${bucket}/${prefix}; check the bucket and prefix (S3 prefixes are case-sensitive)` +
        (isFolder ? '' : `, or name a file: ${FORMAT_NAMES}`),
    );
  }
}

function signalOption(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal !== undefined ? { abortSignal: signal } : {};
}
