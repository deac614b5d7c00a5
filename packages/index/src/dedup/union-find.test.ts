import { describe, expect, it } from 'vitest';
import { UnionFind } from './union-find.js';

describe('UnionFind', () => {
  it('joins chains into one set and keeps others apart', () => {
    const sets = new UnionFind(6);
    sets.union(0, 1);
    sets.union(2, 1);
    sets.union(4, 5);
    expect(sets.find(0)).toBe(sets.find(2));
    expect(sets.sizeOf(2)).toBe(3);
    expect(sets.find(3)).toBe(3);
    expect(sets.sizeOf(3)).toBe(1);
    expect(sets.find(4)).toBe(sets.find(5));
    expect(sets.find(4)).not.toBe(sets.find(0));
  });
});
