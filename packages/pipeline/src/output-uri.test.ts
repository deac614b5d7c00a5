import { describe, expect, it } from 'vitest';
import { outputUri } from './output-uri.js';

describe('outputUri', () => {
  it('drops credentials and signature parameters of presigned URLs but keeps other parameters', () => {
    expect(
      outputUri(
        'https://bucket.s3.amazonaws.com/a/b.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20260101&X-Amz-Signature=abc&X-Amz-Security-Token=tok&v=2',
      ),
    ).toBe('https://bucket.s3.amazonaws.com/a/b.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&v=2');
    expect(outputUri('https://user:pw@cdn.example/x.png?sig=secret&sp=r&w=100#frag')).toBe(
      'https://cdn.example/x.png?w=100',
    );
  });

  it('leaves local paths and s3 URIs alone', () => {
    expect(outputUri('/data/img.jpg')).toBe('/data/img.jpg');
    expect(outputUri('s3://bucket/key with spaces.jpg')).toBe('s3://bucket/key with spaces.jpg');
  });
});
