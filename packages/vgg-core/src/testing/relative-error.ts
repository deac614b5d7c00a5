/** Largest elementwise relative error (|x - r| / |r|); where the reference is exactly zero, the absolute value. */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const r = expected[i] as number;
    const x = actual[i] as number;
    worst = Math.max(worst, r === 0 ? Math.abs(x) : Math.abs(x - r) / Math.abs(r));
  }
  return worst;
}
