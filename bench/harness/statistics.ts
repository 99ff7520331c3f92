/** The middle value; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The nearest-rank percentile of values sorted ascending: the smallest value with at
 * least `percent`% of the values at or below it. No interpolation, so p99 of 500
 * latencies is a latency that was actually observed.
 */
export function percentile(sortedAscending: ArrayLike<number>, percent: number): number {
  if (sortedAscending.length === 0) throw new Error('percentile of no values');
  const rank = Math.ceil((percent / 100) * sortedAscending.length);
  return sortedAscending[Math.min(sortedAscending.length, Math.max(1, rank)) - 1]!;
}
