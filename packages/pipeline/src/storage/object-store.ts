import { invalidOption } from '../errors.js';

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
