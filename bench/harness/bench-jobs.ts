import type { BenchJob, SystemConnection } from '../systems/system-adapter.ts';
import { bulkBatchSize } from './workloads.ts';

/** Payloads 0 … count-1, built before timing starts so building them is never timed. */
export function benchJobs(count: number): BenchJob[] {
  return Array.from({ length: count }, (_, index) => ({ index, sentAt: 0 }));
}

/** Enqueues the backlog a processing run starts from, with the system's bulk call. */
export async function fillBacklog(connection: SystemConnection, count: number): Promise<void> {
  const jobs = benchJobs(count);
  for (let start = 0; start < count; start += bulkBatchSize) await connection.enqueueBatch(jobs.slice(start, start + bulkBatchSize));
}
