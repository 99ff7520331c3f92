import type { BenchJob, SystemConnection } from '../systems/system-adapter.ts';
import { bulkBatchSize } from './workloads.ts';

/** Payloads 0 … count-1, built before timing starts so building them is never timed. */
export function benchJobs(count: number): BenchJob[] {
  return Array.from({ length: count }, (_, index) => ({ index, sentAt: 0 }));
}

/**
 * Single enqueues in flight at once when filling a backlog for a system without a bulk
 * call: enough to keep a pool of connections busy, so the untimed fill does not take
 * longer than the run it prepares.
 */
const fillParallelism = 32;

/** Enqueues the backlog a processing run starts from, with the system's bulk call, or with single enqueues when it has none. */
export async function fillBacklog(connection: SystemConnection, count: number): Promise<void> {
  const jobs = benchJobs(count);
  if (connection.enqueueBatch) {
    for (let start = 0; start < count; start += bulkBatchSize) await connection.enqueueBatch(jobs.slice(start, start + bulkBatchSize));
    return;
  }
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) await connection.enqueue(jobs[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(fillParallelism, count) }, lane));
}
