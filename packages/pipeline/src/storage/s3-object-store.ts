import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { invalidOption } from '../errors.js';
import { formatS3Uri } from '../uri.js';
import {
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  validateKey,
  validatePrefix,
} from './object-store.js';
import { classifyS3Error } from './s3-client.js';
import { StorageError, type StorageOperation } from '../errors.js';

/** Options of {@link S3ObjectStore}. */
export interface S3ObjectStoreOptions {
  /** Client from {@link createS3Client}; the store does not own or close it. */
  client: S3Client;
  bucket: string;
  /** Key prefix all keys live under: empty or ending in `/`. Default `''`. */
  prefix?: string;
  /**
   * Bodies larger than this many bytes go up as a multipart upload of 8 MiB parts. Default 8 MiB, as the AWS
   * CLI does; it also keeps every request under the 11 MiB body limit of fauxqs, the test server.
   */
  multipartThresholdBytes?: number;
}

const MIB = 1024 * 1024;

/**
 * An {@link ObjectStore} over an S3 bucket and prefix. Bodies are sent as Buffers, never streams, so the SDK can
 * retry a failed request and no aws-chunked framing is involved.
 */
export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  readonly prefix: string;
  readonly #client: S3Client;
  readonly #multipartThresholdBytes: number;

  constructor(options: S3ObjectStoreOptions) {
    if (typeof options?.bucket !== 'string' || options.bucket === '') {
      throw invalidOption('bucket', 'non-empty bucket name', options?.bucket);
    }
    const prefix = options.prefix ?? '';
    if (prefix !== '' && (!prefix.endsWith('/') || prefix.startsWith('/'))) {
      throw invalidOption('prefix', 'empty string or key prefix ending in "/" without leading "/"', prefix);
    }
    const threshold = options.multipartThresholdBytes ?? 8 * MIB;
    if (!Number.isInteger(threshold) || threshold < 5 * MIB) {
      throw invalidOption('multipartThresholdBytes', 'integer of at least 5 MiB (5242880)', threshold);
    }
    this.#client = options.client;
    this.bucket = options.bucket;
    this.prefix = prefix;
    this.#multipartThresholdBytes = threshold;
  }

  describe(key: string): string {
    return formatS3Uri(this.bucket, this.prefix + key);
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<void> {
    validateKey(key);
    const Body = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const params = {
      Bucket: this.bucket,
      Key: this.prefix + key,
      Body,
      ...(options.contentType !== undefined ? { ContentType: options.contentType } : {}),
    };
    try {
      if (body.byteLength > this.#multipartThresholdBytes) {
        // Upload slices the Buffer into parts, each retried on its own by the SDK. 8 MiB parts stay under the
        // body limits of small S3-compatible servers and allow objects up to 80 GB within 10,000 parts.
        const partSize = Math.max(8 * MIB, Math.ceil(body.byteLength / 10_000));
        // Loaded on first use: only large objects need it, and it adds ~70 ms to every process start.
        const { Upload } = await import('@aws-sdk/lib-storage');
        await new Upload({ client: this.#client, params, partSize, queueSize: 4 }).done();
      } else {
        await this.#client.send(new PutObjectCommand(params));
      }
    } catch (cause) {
      throw this.#wrap(cause, 'put', key);
    }
  }

  async get(key: string): Promise<Uint8Array> {
    validateKey(key);
    try {
      const response = await this.#client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
      );
      if (response.Body === undefined) return new Uint8Array(0);
      return await response.Body.transformToByteArray();
    } catch (cause) {
      throw this.#wrap(cause, 'get', key);
    }
  }

  async exists(key: string): Promise<boolean> {
    validateKey(key);
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return true;
    } catch (cause) {
      if (classifyS3Error(cause).notFound) return false;
      throw this.#wrap(cause, 'exists', key);
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    } catch (cause) {
      if (classifyS3Error(cause).notFound) return;
      throw this.#wrap(cause, 'delete', key);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    let continuationToken: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ...(continuationToken !== undefined ? { ContinuationToken: continuationToken } : {}),
          }),
        );
      } catch (cause) {
        throw this.#wrap(cause, 'list', prefix);
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || !object.Key.startsWith(this.prefix)) continue;
        yield { key: object.Key.slice(this.prefix.length), size: object.Size ?? 0 };
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }

  #wrap(cause: unknown, operation: StorageOperation, key: string): StorageError {
    if (cause instanceof StorageError) return cause;
    const info = classifyS3Error(cause);
    const uri = this.describe(key);
    const options = { cause, status: info.status };
    if (info.noSuchBucket) {
      return new StorageError(
        'STORAGE_PERMANENT',
        operation,
        uri,
        `bucket ${this.bucket} does not exist`,
        options,
      );
    }
    if (info.notFound) return new StorageError('STORAGE_NOT_FOUND', operation, uri, 'no such key', options);
    if (info.forbidden) {
      return new StorageError(
        'STORAGE_PERMANENT',
        operation,
        uri,
        'access denied; check the credentials and the bucket policy',
        options,
      );
    }
    const detail =
      cause instanceof Error && cause.message !== '' ? `${info.name}: ${cause.message}` : info.name;
    return new StorageError(
      info.transient ? 'STORAGE_TRANSIENT' : 'STORAGE_PERMANENT',
      operation,
      uri,
      detail,
      options,
    );
  }
}
