import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLocation } from './location.js';

describe('parseLocation', () => {
  it('normalises s3 prefixes to folder form without a leading slash', () => {
    expect(parseLocation('s3://bucket/a/b/')).toEqual({ kind: 's3', bucket: 'bucket', prefix: 'a/b/' });
    expect(parseLocation('s3://bucket/a/b')).toEqual({ kind: 's3', bucket: 'bucket', prefix: 'a/b/' });
    expect(parseLocation('s3://bucket//a/')).toEqual({ kind: 's3', bucket: 'bucket', prefix: 'a/' });
    expect(parseLocation('s3://bucket')).toEqual({ kind: 's3', bucket: 'bucket', prefix: '' });
    expect(parseLocation('s3://bucket/')).toEqual({ kind: 's3', bucket: 'bucket', prefix: '' });
  });

  it('resolves local paths and file:// URLs to absolute directories', () => {
    expect(parseLocation('out/run')).toEqual({ kind: 'local', dir: path.resolve('out/run') });
    expect(parseLocation('/tmp/x/')).toEqual({ kind: 'local', dir: '/tmp/x' });
    expect(parseLocation('file:///tmp/a%20b')).toEqual({ kind: 'local', dir: '/tmp/a b' });
  });

  it('accepts http(s) URLs for inputs', () => {
    expect(parseLocation('https://example.com/a.jpg?x=1')).toEqual({
      kind: 'http',
      url: 'https://example.com/a.jpg?x=1',
    });
  });

  it('rejects empty strings, unknown schemes and bad bucket names with sharp-style messages', () => {
    expect(() => parseLocation('')).toThrow(/^Expected non-empty .* for location but received ""$/);
    expect(() => parseLocation('gs://bucket/x')).toThrow(/for location but received "gs:\/\/bucket\/x"/);
    expect(() => parseLocation('s3:///nobucket')).toThrow(/for S3 URI/);
  });
});
