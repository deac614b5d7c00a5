import { describe, expect, it } from 'vitest';
import { distanceDistribution } from './distance-distribution.js';

describe('distanceDistribution', () => {
  it('gives numpy-style quantiles and equal-width bins over the finite values', () => {
    const d = distanceDistribution([0.4, Number.NaN, 0.1, 0.3, 0.2, Number.POSITIVE_INFINITY, 0.5], 4);
    expect(d).toMatchObject({ count: 5, min: 0.1, max: 0.5 });
    // numpy.quantile([0.1, 0.2, 0.3, 0.4, 0.5], [0.1, 0.25, 0.5, 0.75, 0.9])
    expect(d?.p10).toBeCloseTo(0.14, 12);
    expect(d?.p25).toBeCloseTo(0.2, 12);
    expect(d?.median).toBeCloseTo(0.3, 12);
    expect(d?.p75).toBeCloseTo(0.4, 12);
    expect(d?.p90).toBeCloseTo(0.46, 12);
    expect(d?.mean).toBeCloseTo(0.3, 12);
    const bins = distanceDistribution([4, 0, 2.5, 1, 3.9], 4)?.histogram;
    expect(bins).toEqual([
      { from: 0, to: 1, count: 1 },
      { from: 1, to: 2, count: 1 },
      { from: 2, to: 3, count: 1 },
      { from: 3, to: 4, count: 2 },
    ]);
  });

  it('is null without finite values, and one bin when every value is the same', () => {
    expect(distanceDistribution([Number.NaN])).toBeNull();
    expect(distanceDistribution([0, 0, 0])?.histogram).toEqual([{ from: 0, to: 0, count: 3 }]);
  });
});
