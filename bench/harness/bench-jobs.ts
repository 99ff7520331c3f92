import type { BenchJob, SystemConnection } from '../systems/system-adapter.ts';
import { bulkBatchSize } from './workloads.ts';

/** Payloads first … first+count-1, built before timing starts so building them is never timed. */
export function benchJobs(count: number, first = 0): BenchJob[] {
  return Array.from({ length: count }, (_, offset) => ({ index: first + offset, sentAt: 0 }));
}

/**
 * Single enqueues in flight at once when filling a backlog for a system without a bulk
 * call: enough to keep a pool of connections busy, so the untimed fill does not take
 * longer than the run it prepares.
 */
const fillParallelism = 32;

/**
 * Enqueues the backlog a processing run starts from, jobs 0 … count-1, with the system's
 * bulk call, or with single enqueues when it has none. Each batch is built as it is sent,
 * so a backlog of millions never sits in memory as one array. The fill is untimed but has
 * its own cap: past `capMs` it stops and throws, and the run fails saying how far it got,
 * rather than measuring a backlog smaller than asked for. Resolves with the time it took.
 */
export async function fillBacklog(connection: SystemConnection, count: number, capMs: number): Promise<number> {
  const startedAt = performance.now();
  const deadline = startedAt + capMs;
  let enqueued = 0;
  const stopAtCap = () => {
    if (performance.now() < deadline) return;
    throw new Error(
      `filling the backlog of ${count.toLocaleString('en-US')} jobs did not finish within its ${capMs / 1000} s cap (--fill-cap): ${enqueued.toLocaleString('en-US')} enqueued`,
    );
  };
  if (connection.enqueueBatch) {
    while (enqueued < count) {
      stopAtCap();
      const batch = benchJobs(Math.min(bulkBatchSize, count - enqueued), enqueued);
      await connection.enqueueBatch(batch);
      enqueued += batch.length;
    }
    return performance.now() - startedAt;
  }
  let next = 0;
  const lane = async () => {
    while (next < count) {
      stopAtCap();
      await connection.enqueue({ index: next++, sentAt: 0 });
      enqueued++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(fillParallelism, count) }, lane));
  return performance.now() - startedAt;
}
