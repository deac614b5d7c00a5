import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from './local-object-store.js';
import { StorageError } from '../errors.js';

let dir: string;
let store: LocalObjectStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vgg-local-store-'));
  store = new LocalObjectStore({ dir });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(iterable: AsyncIterable<{ key: string; size: number }>) {
  const out: { key: string; size: number }[] = [];
  for await (const entry of iterable) out.push(entry);
  return out;
}

describe('LocalObjectStore', () => {
  it('round-trips bytes under nested keys and creates folders on demand', async () => {
    await store.put('a/b/c.bin', new Uint8Array([1, 2, 3]));
    expect([...(await store.get('a/b/c.bin'))]).toEqual([1, 2, 3]);
    expect(await readFile(path.join(dir, 'a/b/c.bin'))).toEqual(Buffer.from([1, 2, 3]));
    expect(await store.exists('a/b/c.bin')).toBe(true);
    expect(await store.exists('a/b')).toBe(false);
    expect(await store.exists('nope/x')).toBe(false);
    expect(store.describe('a/b/c.bin')).toBe(path.join(dir, 'a', 'b', 'c.bin'));
  });

  it('overwrites atomically and leaves no temporary files behind', async () => {
    await store.put('k', new Uint8Array([1]));
    await store.put('k', new Uint8Array([2, 2]));
    expect([...(await store.get('k'))]).toEqual([2, 2]);
    expect(await readdir(dir)).toEqual(['k']);
  });

  it('never lets a concurrent reader see a partially written object', async () => {
    const size = 4 * 1024 * 1024;
    const versions = [1, 2, 3, 4, 5, 6].map((v) => new Uint8Array(size).fill(v));
    await store.put('big', versions[0] as Uint8Array);
    let writing = true;
    const reads: number[] = [];
    const reader = (async () => {
      while (writing) {
        const bytes = await readFile(path.join(dir, 'big'));
        expect(bytes.length).toBe(size);
        const first = bytes[0] as number;
        // Every byte equals the first: the file is one complete version, not a mix or a prefix.
        expect(bytes.every((b) => b === first)).toBe(true);
        reads.push(first);
      }
    })();
    for (const version of versions.slice(1)) await store.put('big', version);
    writing = false;
    await reader;
    expect(reads.length).toBeGreaterThan(0);
  });

  it('lists keys under a prefix in S3 order, hiding nothing but temporary files', async () => {
    for (const key of ['b/2', 'b/1', 'a', 'b-c', 'b/sub/x', 'c/y']) await store.put(key, new Uint8Array(3));
    await writeFile(path.join(dir, 'b', '.x.abc.vgg-tmp'), 'partial');
    expect((await collect(store.list(''))).map((e) => e.key)).toEqual([
      'a',
      'b-c',
      'b/1',
      'b/2',
      'b/sub/x',
      'c/y',
    ]);
    expect(await collect(store.list('b/'))).toEqual([
      { key: 'b/1', size: 3 },
      { key: 'b/2', size: 3 },
      { key: 'b/sub/x', size: 3 },
    ]);
    expect((await collect(store.list('b'))).map((e) => e.key)).toEqual(['b-c', 'b/1', 'b/2', 'b/sub/x']);
    expect(await collect(store.list('missing/'))).toEqual([]);
  });

  it('deletes idempotently', async () => {
    await store.put('x/y', new Uint8Array(1));
    await store.delete('x/y');
    await store.delete('x/y');
    expect(await store.exists('x/y')).toBe(false);
  });

  it('reports a missing key as STORAGE_NOT_FOUND', async () => {
    const error = await store.get('none').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: 'STORAGE_NOT_FOUND', operation: 'get', uri: path.join(dir, 'none') });
  });

  it('rejects keys that could escape the root', async () => {
    for (const key of ['../x', '/abs', 'a//b', 'a/./b', '', 'a\\b']) {
      await expect(store.put(key, new Uint8Array(1))).rejects.toThrow(
        /^Expected relative \/-separated object key/,
      );
    }
    expect(() => new LocalObjectStore({ dir: 'relative' })).toThrow(/for dir but received "relative"/);
  });

  it('fails a put into a read-only location with STORAGE_PERMANENT', async () => {
    await writeFile(path.join(dir, 'file'), 'x');
    // "file" is a regular file, so it cannot be a folder.
    await expect(store.put('file/child', new Uint8Array(1))).rejects.toMatchObject({
      code: 'STORAGE_PERMANENT',
      operation: 'put',
    });
  });
});
