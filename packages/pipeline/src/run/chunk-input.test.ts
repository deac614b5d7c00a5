import { describe, expect, it } from 'vitest';
import { chunkInputSha256 } from './chunk-input.js';

describe('chunkInputSha256', () => {
  // Goldens of the fingerprint as first released (sha256 of "images\n" or "tar\n", then each URI as a JSON string
  // and "\n"): runs fingerprinted then must still resume, so image and tar chunks must hash exactly so.
  it('hashes image and tar chunks of runs without URI columns as it always did, kept columns or not', () => {
    const uris = ['s3://bucket/a.jpg', 'https://h/b.jpg'];
    const golden = '62456cb6fb751c518c58eb1eeba1adb2f93522ba0977154a8968ae7c1afa82d6';
    expect(chunkInputSha256({ uris }, {})).toBe(golden);
    expect(chunkInputSha256({ uris, cols: { b: ['x', 'y'] } }, { uriCols: [] })).toBe(golden);
    expect(chunkInputSha256({ kind: 'tar', uris: ['s3://bucket/shard-0.tar'] }, {})).toBe(
      '12f273f2ad949f995435e2f86d3b61da6c4267780813b46a106af2559d0399af',
    );
  });

  it("covers a pair run's b images, redacted like the a images", () => {
    const uris = ['s3://bucket/a.jpg', 's3://bucket/b.jpg'];
    const pairs = (b: (string | null)[]) => chunkInputSha256({ uris, cols: { b } }, { uriCols: ['b'] });
    const base = pairs(['s3://bucket/c.jpg', 'https://h/d.jpg']);
    expect(base).not.toBe(chunkInputSha256({ uris }, {}));
    expect(pairs(['s3://bucket/c.jpg', 's3://bucket/e.jpg'])).not.toBe(base);
    expect(pairs(['s3://bucket/c.jpg', null])).not.toBe(base);
    // A re-signed URL is the same input.
    expect(pairs(['s3://bucket/c.jpg', 'https://h/d.jpg?X-Amz-Signature=abc'])).toBe(base);
  });
});
