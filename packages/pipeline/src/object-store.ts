import type { S3Client } from '@aws-sdk/client-s3';
import { invalidOption } from 'vgg-core';
import { LocalObjectStore } from './local-object-store.js';
import { type Location, parseLocation } from './location.js';
import { S3ObjectStore } from './s3-object-store.js';

/** Options of {@link ObjectStore.put}. */
export interface PutOptions {
  /** MIME type stored with the object (S3 `Content-Type`). Default none; ignored by local stores. */
  contentType?: string;
}

/** One entry of {@link ObjectStore.list}. */
export interface ObjectInfo {
  /** Key relative to the store's root. */
  key: string;
  /** Size in bytes. */
  size: number;
}

/**
 * A flat key space of immutable blobs under a root (an S3 bucket and prefix, or a local directory). Keys are
 * `/`-separated relative paths such as `shards/part-00001.parquet`. Writes are whole-object and atomic: a
 * reader sees the old object, the new one, or none, never a partial write.
 * Failures are {@link StorageError}s.
 */
export interface ObjectStore {
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void>;
  /** Throws StorageError `STORAGE_NOT_FOUND` when the key does not exist. */
  get(key: string): Promise<Uint8Array>;
  exists(key: string): Promise<boolean>;
  /** Keys starting with `prefix` (a plain string prefix, not only a folder), in ascending key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Removes the key; succeeds when it is already absent. */
  delete(key: string): Promise<void>;
  /** User-facing URI of a key: `s3://bucket/prefix/key` or an absolute local path. */
  describe(key: string): string;
}

/** Dependencies of {@link openObjectStore}. */
export interface OpenObjectStoreDeps {
  /** Client for S3 locations; a function is called only when an S3 location is opened. */
  s3: S3Client | (() => S3Client);
}

/** Opens the store for an output location from {@link parseLocation}. */
export function openObjectStore(location: Location, deps: OpenObjectStoreDeps): ObjectStore {
  switch (location.kind) {
    case 's3':
      return new S3ObjectStore({
        client: typeof deps.s3 === 'function' ? deps.s3() : deps.s3,
        bucket: location.bucket,
        prefix: location.prefix,
      });
    case 'local':
      return new LocalObjectStore({ dir: location.dir });
    case 'http':
      throw invalidOption('output location', 's3:// URI or local directory', location.url);
  }
}

/**
 * Opens the output directory of one run, `<out>/<runId>/`, where its shards and manifest live. Producers, workers
 * and run control all address a run's outputs through this one function.
 */
export function openRunOutput(out: string, runId: string, deps: OpenObjectStoreDeps): ObjectStore {
  return openObjectStore(parseLocation(`${out.replace(/\/+$/, '')}/${runId}`), deps);
}

/**
 * Rejects keys that could escape the store's root or that S3 and file systems treat differently: empty, leading
 * `/`, `.` or `..` segments, empty segments, backslashes, NUL.
 */
export function validateKey(key: string, name = 'key'): void {
  if (
    typeof key !== 'string' ||
    key === '' ||
    key.includes('\\') ||
    key.includes('\0') ||
    key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')
  ) {
    throw invalidOption(name, 'relative /-separated object key without empty, "." or ".." segments', key);
  }
}

/** Like {@link validateKey} but allows `''` and a trailing `/` (a list prefix). */
export function validatePrefix(prefix: string): void {
  if (prefix === '') return;
  validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, 'prefix');
}
