/** How a pair run's perceptual distances are spread, for the report. */
export interface DistanceDistribution {
  /** Ok pairs with a finite distance. */
  count: number;
  min: number;
  p10: number;
  p25: number;
  median: number;
  p75: number;
  p90: number;
  max: number;
  mean: number;
  /** Equal-width bins from min to max (the last one includes max). */
  histogram: { from: number; to: number; count: number }[];
}

/**
 * The distribution of `values` (NaN and infinities left out): quantiles by linear interpolation between the
 * closest ranks (numpy's default), and `bins` equal-width bins. Null when no value is finite.
 */
export function distanceDistribution(values: Iterable<number>, bins = 20): DistanceDistribution | null {
  const sorted = Float64Array.from([...values].filter(Number.isFinite)).sort();
  const n = sorted.length;
  if (n === 0) return null;
  const quantile = (q: number) => {
    const rank = q * (n - 1);
    const lower = Math.floor(rank);
    const upper = Math.min(n - 1, lower + 1);
    return (
      (sorted[lower] as number) + ((sorted[upper] as number) - (sorted[lower] as number)) * (rank - lower)
    );
  };
  const min = sorted[0] as number;
  const max = sorted[n - 1] as number;
  const width = (max - min) / bins;
  const histogram = Array.from({ length: width > 0 ? bins : 1 }, (_, i) => ({
    from: min + i * width,
    to: width > 0 ? min + (i + 1) * width : max,
    count: 0,
  }));
  for (const value of sorted) {
    const bin = width > 0 ? Math.min(bins - 1, Math.floor((value - min) / width)) : 0;
    (histogram[bin] as { count: number }).count += 1;
  }
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: n,
    min,
    p10: quantile(0.1),
    p25: quantile(0.25),
    median: quantile(0.5),
    p75: quantile(0.75),
    p90: quantile(0.9),
    max,
    mean: sum / n,
    histogram,
  };
}
