import { describe, expect, it } from 'vitest';
import { countBraces, expandBraces, hasBraces, MAX_BRACE_EXPANSION } from './brace-range.js';

describe('brace patterns', () => {
  it('expand zero-padded ranges as WebDataset writes shard names', () => {
    const shards = [...expandBraces('s3://b/shards/{00000..00002}.tar')];
    expect(shards).toEqual(['s3://b/shards/00000.tar', 's3://b/shards/00001.tar', 's3://b/shards/00002.tar']);
    expect(countBraces('s3://b/shards/{00000..00999}.tar')).toBe(1000);
  });

  it('multiply several groups out left to right, with lists, unpadded and descending ranges', () => {
    expect([...expandBraces('{a,b}/{8..10}.tar')]).toEqual([
      'a/8.tar',
      'a/9.tar',
      'a/10.tar',
      'b/8.tar',
      'b/9.tar',
      'b/10.tar',
    ]);
    expect([...expandBraces('x{3..1}')]).toEqual(['x3', 'x2', 'x1']);
    expect(countBraces('{a,b}/{8..10}.tar')).toBe(6);
  });

  it('leave other braces literal', () => {
    expect(hasBraces('photos/{draft}.jpg')).toBe(false);
    expect([...expandBraces('photos/{draft}.jpg')]).toEqual(['photos/{draft}.jpg']);
    expect(hasBraces('shards/{0..9}.tar')).toBe(true);
  });

  it('refuse a runaway pattern before listing anything', () => {
    expect(() => countBraces(`{0..${MAX_BRACE_EXPANSION}}`)).toThrow(/expands to more than/);
  });
});
