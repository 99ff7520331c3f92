/**
 * Milliseconds since the epoch with sub-millisecond precision. `Date.now()` is only
 * whole milliseconds, too coarse for latencies around 1 ms; `performance.now()` alone
 * is relative to each process's start, so it cannot compare a producer in one process
 * with a worker in another. Their sum can.
 */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
