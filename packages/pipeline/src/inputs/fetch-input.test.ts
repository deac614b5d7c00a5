import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchError } from '../errors.js';
import { fetchInput } from './fetch-input.js';

const noS3 = (): S3Client => {
  throw new Error('S3 must not be used for local inputs');
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vgg-fetch-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fetchInput on local files', () => {
  it('returns the bytes and their sha256, for paths and file:// URLs', async () => {
    const file = path.join(dir, 'a b.bin');
    const bytes = Buffer.from('hello world');
    await writeFile(file, bytes);
    const expected = createHash('sha256').update(bytes).digest('hex');
    const reserved: number[] = [];
    const reserve = async (size: number) => {
      reserved.push(size);
    };
    const fetched = await fetchInput(file, { s3: noS3, reserve });
    expect(Buffer.from(fetched.bytes)).toEqual(bytes);
    expect(fetched.sha256).toBe(expected);
    // The file's size is what the body can take.
    expect(reserved).toEqual([bytes.length]);
    expect((await fetchInput('file://' + encodeURI(file), { s3: noS3 })).sha256).toBe(expected);
  });

  it('accepts a file of exactly maxBytes and refuses one byte more as too_large', async () => {
    const file = path.join(dir, 'ten.bin');
    await writeFile(file, new Uint8Array(10));
    expect((await fetchInput(file, { s3: noS3, maxBytes: 10 })).bytes.length).toBe(10);
    await expect(fetchInput(file, { s3: noS3, maxBytes: 9 })).rejects.toMatchObject({
      reason: 'too_large',
      transient: false,
    });
  });

  it('classifies missing files, folders and unknown schemes', async () => {
    await expect(fetchInput(path.join(dir, 'missing.jpg'), { s3: noS3 })).rejects.toMatchObject({
      name: 'FetchError',
      code: 'FETCH_FAILED',
      reason: 'not_found',
      transient: false,
    });
    await expect(fetchInput(dir, { s3: noS3 })).rejects.toMatchObject({ reason: 'invalid_uri' });
    await expect(fetchInput('gs://bucket/x.jpg', { s3: noS3 })).rejects.toMatchObject({
      reason: 'invalid_uri',
    });
    await expect(fetchInput('s3://bucket/prefix/', { s3: noS3 })).rejects.toMatchObject({
      reason: 'invalid_uri',
    });
  });

  it('rejects with the caller abort reason, not a FetchError', async () => {
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    const error = await fetchInput(path.join(dir, 'ten.bin'), { s3: noS3, signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    expect(error).not.toBeInstanceOf(FetchError);
    expect((error as Error).message).toBe('shutting down');
  });

  it('validates options with sharp-style messages', async () => {
    await expect(fetchInput('x', { s3: noS3, maxBytes: 0 })).rejects.toThrow(
      'Expected positive integer for maxBytes but received 0',
    );
    await expect(fetchInput('x', { s3: noS3, readTimeoutMs: 1.5 })).rejects.toThrow(
      'Expected positive integer for readTimeoutMs but received 1.5',
    );
  });
});
