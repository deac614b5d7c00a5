import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, opendir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { invalidOption } from '../errors.js';
import {
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  validateKey,
  validatePrefix,
} from './object-store.js';
import { StorageError, type StorageOperation } from '../errors.js';

/** Options of {@link LocalObjectStore}. */
export interface LocalObjectStoreOptions {
  /** Root directory; created on first put. Must be absolute. */
  dir: string;
}

/** Suffix of in-flight temporary files; list() hides them and they never collide with real keys. */
const TMP_SUFFIX = '.vgg-tmp';

/**
 * An {@link ObjectStore} over a local directory. put writes a temporary file in the target directory, fsyncs it,
 * renames it over the key and fsyncs the directory, so after put resolves the object survives a crash and a
 * concurrent reader sees either the old file or the complete new one.
 */
export class LocalObjectStore implements ObjectStore {
  readonly dir: string;

  constructor(options: LocalObjectStoreOptions) {
    if (typeof options?.dir !== 'string' || !path.isAbsolute(options.dir)) {
      throw invalidOption('dir', 'absolute directory path', options?.dir);
    }
    this.dir = path.resolve(options.dir);
  }

  describe(key: string): string {
    return path.join(this.dir, ...key.split('/'));
  }

  async put(key: string, body: Uint8Array, _options?: PutOptions): Promise<void> {
    validateKey(key);
    const target = this.describe(key);
    const parent = path.dirname(target);
    const tmp = path.join(parent, `.${path.basename(target)}.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`);
    try {
      await mkdir(parent, { recursive: true });
      const handle = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, target);
      await syncDirectory(parent);
    } catch (cause) {
      await unlink(tmp).catch(() => {});
      throw wrapFsError(cause, 'put', target);
    }
  }

  async get(key: string): Promise<Uint8Array> {
    validateKey(key);
    const target = this.describe(key);
    try {
      const buffer = await readFile(target);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (cause) {
      throw wrapFsError(cause, 'get', target);
    }
  }

  async exists(key: string): Promise<boolean> {
    validateKey(key);
    const target = this.describe(key);
    try {
      return (await stat(target)).isFile();
    } catch (cause) {
      if (errorCode(cause) === 'ENOENT' || errorCode(cause) === 'ENOTDIR') return false;
      throw wrapFsError(cause, 'exists', target);
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    const target = this.describe(key);
    try {
      await rm(target, { force: true });
    } catch (cause) {
      throw wrapFsError(cause, 'delete', target);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    // Start the walk at the deepest folder the prefix names, then filter by the partial last segment.
    const slash = prefix.lastIndexOf('/');
    const folderKey = slash < 0 ? '' : prefix.slice(0, slash);
    const folder = folderKey === '' ? this.dir : this.describe(folderKey);
    yield* this.walk(folder, folderKey, prefix);
  }

  private async *walk(folder: string, folderKey: string, prefix: string): AsyncGenerator<ObjectInfo> {
    let names: { name: string; isDirectory: boolean; isFile: boolean }[];
    try {
      const entries = [];
      for await (const entry of await opendir(folder)) {
        entries.push({ name: entry.name, isDirectory: entry.isDirectory(), isFile: entry.isFile() });
      }
      names = entries;
    } catch (cause) {
      if (errorCode(cause) === 'ENOENT' || errorCode(cause) === 'ENOTDIR') return;
      throw wrapFsError(cause, 'list', folder);
    }
    // Sorted by the key as S3 orders it (a folder's children follow "name/"), so both stores list alike.
    const sorted = names
      .filter((entry) => !entry.name.endsWith(TMP_SUFFIX))
      .map((entry) => ({ ...entry, sortKey: Buffer.from(entry.isDirectory ? `${entry.name}/` : entry.name) }))
      .sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
    for (const entry of sorted) {
      const key = folderKey === '' ? entry.name : `${folderKey}/${entry.name}`;
      if (entry.isDirectory) {
        const asFolder = `${key}/`;
        if (asFolder.startsWith(prefix) || prefix.startsWith(asFolder)) {
          yield* this.walk(path.join(folder, entry.name), key, prefix);
        }
      } else if (entry.isFile && key.startsWith(prefix)) {
        try {
          const info = await stat(path.join(folder, entry.name));
          yield { key, size: info.size };
        } catch (cause) {
          // Deleted between readdir and stat: it is simply not listed.
          if (errorCode(cause) !== 'ENOENT') throw wrapFsError(cause, 'list', path.join(folder, entry.name));
        }
      }
    }
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } catch (cause) {
    // Some file systems (and Windows) refuse fsync on a directory; the rename itself has happened.
    if (errorCode(cause) !== 'EINVAL' && errorCode(cause) !== 'EPERM') throw cause;
  } finally {
    await handle.close();
  }
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

const TRANSIENT_FS_CODES = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EINTR', 'ETIMEDOUT']);

function wrapFsError(cause: unknown, operation: StorageOperation, uri: string): StorageError {
  if (cause instanceof StorageError) return cause;
  const code = errorCode(cause);
  const detail = cause instanceof Error ? cause.message : String(cause);
  if ((code === 'ENOENT' || code === 'ENOTDIR') && operation === 'get') {
    return new StorageError('STORAGE_NOT_FOUND', operation, uri, 'no such file', { cause });
  }
  const kind = code !== undefined && TRANSIENT_FS_CODES.has(code) ? 'STORAGE_TRANSIENT' : 'STORAGE_PERMANENT';
  return new StorageError(kind, operation, uri, detail, { cause });
}
