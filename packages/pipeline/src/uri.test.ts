import { describe, expect, it } from 'vitest';
import { FetchError } from './errors.js';
import { formatS3Uri, isSecretParam, parseS3Uri, redactUri, schemeOf } from './uri.js';

describe('schemeOf', () => {
  it('lowercases the scheme and gives undefined for local paths', () => {
    expect(schemeOf('HTTPS://h/x')).toBe('https');
    expect(schemeOf('s3://b/k')).toBe('s3');
    expect(schemeOf('/data/a:b.jpg')).toBeUndefined();
    expect(schemeOf('relative/x.jpg')).toBeUndefined();
  });
});

describe('parseS3Uri', () => {
  it('keeps keys verbatim and refuses bad bucket names', () => {
    expect(parseS3Uri('s3://bucket/a//b c?.jpg')).toEqual({ bucket: 'bucket', key: 'a//b c?.jpg' });
    expect(parseS3Uri('s3://bucket')).toEqual({ bucket: 'bucket', key: '' });
    expect(parseS3Uri('s3://b-1/dir//a b%20c.jpg')).toEqual({ bucket: 'b-1', key: 'dir//a b%20c.jpg' });
    expect(() => parseS3Uri('s3://-bad/x')).toThrow(/valid bucket name/);
    expect(formatS3Uri('b', 'k/x.jpg')).toBe('s3://b/k/x.jpg');
  });
});

describe("redactUri with a run's --redact-params", () => {
  it('also strips the named parameters, ignoring case, and keeps the others in order', () => {
    expect(redactUri('https://h.example/x.jpg?Tenant=t1&v=2&sid=s&w=3&sig=z', ['tenant', 'SID'])).toBe(
      'https://h.example/x.jpg?v=2&w=3',
    );
    expect(redactUri('https://h.example/x.jpg?tenant=t1')).toBe('https://h.example/x.jpg?tenant=t1');
  });
});

describe('redactUri', () => {
  it('drops credentials and signature parameters of presigned URLs but keeps other parameters', () => {
    expect(
      redactUri(
        'https://bucket.s3.amazonaws.com/a/b.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20260101&X-Amz-Signature=abc&X-Amz-Security-Token=tok&v=2',
      ),
    ).toBe('https://bucket.s3.amazonaws.com/a/b.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&v=2');
    expect(redactUri('https://user:pw@cdn.example/x.png?sig=secret&sp=r&w=100#frag')).toBe(
      'https://cdn.example/x.png?w=100',
    );
    expect(redactUri('https://user:pw@host.example:8443/a/b.jpg?X-Amz-Signature=abc#f')).toBe(
      'https://host.example:8443/a/b.jpg',
    );
  });

  it('drops API keys and tokens by the words of their names', () => {
    const names = [
      'api-key',
      'api_key',
      'apikey',
      'access-token',
      'auth_token',
      'client_secret',
      'jwt',
      'id_token',
    ];
    for (const name of names) expect(isSecretParam(name), name).toBe(true);
    for (const name of ['w', 'v', 'size', 'X-Amz-Algorithm', 'monkey', 'keyframe']) {
      expect(isSecretParam(name), name).toBe(false);
    }
    expect(redactUri('https://h.example/x.jpg?api-key=s1&id=7&client_secret=s2')).toBe(
      'https://h.example/x.jpg?id=7',
    );
  });

  it('redacts Redis URLs, including a password that holds / or @', () => {
    expect(redactUri('redis://user:secret@redis.internal:6379/2')).toBe('redis://redis.internal:6379/2');
    expect(redactUri('rediss://:pa/ss@w0rd@redis.internal:6380')).toBe('rediss://redis.internal:6380');
    expect(redactUri('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });

  it('leaves local paths and s3 URIs alone', () => {
    expect(redactUri('/data/img.jpg')).toBe('/data/img.jpg');
    expect(redactUri('/local/a?b.jpg')).toBe('/local/a?b.jpg');
    expect(redactUri('s3://bucket/key with spaces.jpg')).toBe('s3://bucket/key with spaces.jpg');
  });

  it('keeps secrets out of FetchError messages', () => {
    const error = new FetchError('not_found', 'https://u:secret@h.example/x.jpg?token=secret', 'HTTP 404');
    expect(error.message).toBe('Could not fetch https://h.example/x.jpg: HTTP 404');
    expect(error.uri).toBe('https://h.example/x.jpg');
  });
});
