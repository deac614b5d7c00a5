import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  classifyS3Error,
  formatS3Uri,
  isPipelineError,
  type ObjectStore,
  type OpenObjectStoreDeps,
  openObjectStore,
  parseLocation,
  StorageError,
  type StorageOperation,
} from 'vgg-pipeline';
import { IndexError, isIndexError } from '../errors.js';

const MIB = 1024 * 1024;

/** Suffix of staged files; the pipeline's local store also hides it from listings. */
const TMP_SUFFIX = '.vgg-tmp';

type Where =
  | { kind: 'local'; dir: string }
  | { kind: 's3'; bucket: string; prefix: string; client: S3Client };

/**
 * Where an index lives (a local directory or an s3:// prefix), with the file-sized transfers its parts need on
 * top of the pipeline's object store: parts are staged as local files and published whole (rename, or an S3
 * multipart upload streamed from the file), and read back by memory-mapping the local file or a verified copy in
 * a cache. Small objects (manifest, sidecars) go through {@link store}.
 */
export class IndexLocation {
  readonly uri: string;
  readonly store: ObjectStore;
  readonly #where: Where;

  private constructor(uri: string, store: ObjectStore, where: Where) {
    this.uri = uri;
    this.store = store;
    this.#where = where;
  }

  static open(uri: string, deps: OpenObjectStoreDeps): IndexLocation {
    const location = parseLocation(uri);
    if (location.kind === 'http') {
      throw new IndexError(
        'INDEX_FORMAT',
        `Expected a local directory or s3:// prefix for an index but received ${uri}`,
      );
    }
    const store = openObjectStore(location, deps);
    if (location.kind === 'local') return new IndexLocation(location.dir, store, location);
    const client = typeof deps.s3 === 'function' ? deps.s3() : deps.s3;
    return new IndexLocation(formatS3Uri(location.bucket, location.prefix), store, { ...location, client });
  }

  get isLocal(): boolean {
    return this.#where.kind === 'local';
  }

  describe(key: string): string {
    return this.store.describe(key);
  }

  /** A fresh local path to write a file that {@link publish} will then put at `key`. */
  async stagingPath(key: string, tmpDir = tmpdir()): Promise<string> {
    const name = `.${path.posix.basename(key)}.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`;
    // Locally, staging beside the target makes publishing one rename on the same file system.
    const dir = this.#where.kind === 'local' ? path.dirname(this.store.describe(key)) : tmpDir;
    await mkdir(dir, { recursive: true });
    return path.join(dir, name);
  }

  /** Puts a staged file at `key` atomically and removes the staged copy. */
  async publish(key: string, staged: string): Promise<void> {
    const where = this.#where;
    try {
      if (where.kind === 'local') {
        const handle = await open(staged, 'r+');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(staged, this.store.describe(key));
        return;
      }
      const size = (await stat(staged)).size;
      const upload = new Upload({
        client: where.client,
        params: { Bucket: where.bucket, Key: where.prefix + key, Body: createReadStream(staged) },
        // Parts are buffered from the stream, so the SDK can retry each one; 8 MiB stays under small servers'
        // request limits, and larger files grow the part to keep within S3's 10,000 parts.
        partSize: Math.max(8 * MIB, Math.ceil(size / 10_000)),
        queueSize: 4,
      });
      await upload.done();
    } catch (cause) {
      throw this.#wrap(cause, 'put', key);
    } finally {
      await rm(staged, { force: true });
    }
  }

  /**
   * A local path holding the object at `key`: the file itself for a local index (its size checked), else a copy
   * in `cacheDir` named by its sha256, downloaded once and verified.
   */
  async localFile(
    key: string,
    expected: { bytes: number; sha256: string },
    cacheDir: string,
  ): Promise<string> {
    const where = this.#where;
    if (where.kind === 'local') {
      const file = this.store.describe(key);
      const size = await stat(file).then(
        (s) => s.size,
        (cause: unknown) => {
          throw new IndexError('INDEX_FORMAT', `Index file ${file} is missing: ${(cause as Error).message}`, {
            cause,
            uri: file,
          });
        },
      );
      if (size !== expected.bytes) {
        throw new IndexError(
          'INDEX_FORMAT',
          `Index file ${file} has ${size} bytes but the manifest says ${expected.bytes}`,
          {
            uri: file,
          },
        );
      }
      return file;
    }
    const cached = path.join(cacheDir, `${expected.sha256}${path.posix.extname(key)}`);
    if ((await stat(cached).catch(() => null))?.size === expected.bytes) return cached;
    await mkdir(cacheDir, { recursive: true });
    const partial = `${cached}.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`;
    const hash = createHash('sha256');
    try {
      const response = await where.client.send(
        new GetObjectCommand({ Bucket: where.bucket, Key: where.prefix + key }),
      );
      const body = response.Body as Readable | undefined;
      if (body === undefined) throw new Error('empty response body');
      body.on('data', (chunk: Buffer) => hash.update(chunk));
      await pipeline(body, createWriteStream(partial));
    } catch (cause) {
      await rm(partial, { force: true });
      throw this.#wrap(cause, 'get', key);
    }
    const digest = hash.digest('hex');
    if (digest !== expected.sha256) {
      await rm(partial, { force: true });
      throw new IndexError(
        'INDEX_FORMAT',
        `${this.describe(key)} has sha256 ${digest} but the index manifest says ${expected.sha256}; the index was modified`,
        { uri: this.describe(key) },
      );
    }
    await rename(partial, cached);
    return cached;
  }

  #wrap(cause: unknown, operation: StorageOperation, key: string): Error {
    if (isPipelineError(cause) || isIndexError(cause)) return cause as Error;
    const uri = this.describe(key);
    if (this.#where.kind === 'local') {
      return new StorageError('STORAGE_PERMANENT', operation, uri, (cause as Error).message, { cause });
    }
    const info = classifyS3Error(cause);
    const detail =
      cause instanceof Error && cause.message !== '' ? `${info.name}: ${cause.message}` : info.name;
    const code = info.notFound
      ? 'STORAGE_NOT_FOUND'
      : info.transient
        ? 'STORAGE_TRANSIENT'
        : 'STORAGE_PERMANENT';
    return new StorageError(code, operation, uri, detail, { cause, status: info.status });
  }
}

/** sha256 (hex) and size of a local file, read as a stream. */
export async function hashFile(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * MIB })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}
