import { NoSuchKey, S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { VggError, VggWeightsError } from 'vgg-core';
import { FetchError, ForbiddenAddressError } from 'vgg-pipeline';
import { isPermanentLoadFailure } from './model-load-failure.js';

const wrapped = (cause: unknown) =>
  new Error('Could not download model file http://h/w.safetensors', { cause });
const errno = (code: string) => Object.assign(new Error(`${code}: x`), { code });

describe('isPermanentLoadFailure', () => {
  it('calls missing, refused and invalid model files permanent', () => {
    expect(isPermanentLoadFailure(wrapped(new Error('HTTP 404')))).toBe(true);
    expect(isPermanentLoadFailure(new Error('Could not download model file x: HTTP 403'))).toBe(true);
    expect(isPermanentLoadFailure(errno('ENOENT'))).toBe(true);
    expect(
      isPermanentLoadFailure(new NoSuchKey({ message: 'gone', $metadata: { httpStatusCode: 404 } })),
    ).toBe(true);
    expect(isPermanentLoadFailure(wrapped(new ForbiddenAddressError('h', '127.0.0.1')))).toBe(true);
    expect(
      isPermanentLoadFailure(new FetchError('http_error', 'http://h/w', 'HTTP 410', { status: 410 })),
    ).toBe(true);
    const shape = {
      problem: 'shape',
      tensor: 'features.0.weight',
      expectedShape: [8],
      actualShape: [9],
      path: '/w',
    };
    expect(isPermanentLoadFailure(new VggWeightsError({ ...shape, problem: 'shape' }, 'wrong shape'))).toBe(
      true,
    );
    expect(isPermanentLoadFailure(new VggError('VGG_MODEL_FORMAT', 'not a safetensors file'))).toBe(true);
  });

  it('calls server trouble, throttling, resets and provider failures transient', () => {
    expect(isPermanentLoadFailure(wrapped(new Error('HTTP 503')))).toBe(false);
    expect(isPermanentLoadFailure(wrapped(new Error('HTTP 429')))).toBe(false);
    expect(
      isPermanentLoadFailure(wrapped(new TypeError('fetch failed', { cause: errno('ECONNRESET') }))),
    ).toBe(false);
    expect(
      isPermanentLoadFailure(
        new FetchError('timeout', 'http://h/w', 'no byte for 30 s', { transient: true, status: undefined }),
      ),
    ).toBe(false);
    const slowDown = new S3ServiceException({
      name: 'SlowDown',
      $fault: 'server',
      $metadata: { httpStatusCode: 503 },
    });
    expect(isPermanentLoadFailure(slowDown)).toBe(false);
    expect(isPermanentLoadFailure(new VggError('VGG_PROVIDER', 'CUDA is not available'))).toBe(false);
    expect(isPermanentLoadFailure(new Error('something odd'))).toBe(false);
  });
});
