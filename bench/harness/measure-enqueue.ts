import type { SystemConnection } from '../systems/system-adapter.ts';
import { benchJobs } from './bench-jobs.ts';
import type { ThroughputOutcome } from './run-outcome.ts';
import { bulkBatchSize } from './workloads.ts';

export interface EnqueueRunOptions {
  readonly jobs: number;
  /** `single`: one awaited `enqueue` per job. `bulk`: `enqueueBatch` with 1,000 jobs per call. */
  readonly batching: 'single' | 'bulk';
  readonly capMs: number;
}

/** Times enqueueing `jobs` jobs into an empty store, each call awaited before the next. */
export async function measureEnqueue(connection: SystemConnection, options: EnqueueRunOptions): Promise<ThroughputOutcome> {
  if (options.batching === 'bulk' && !connection.enqueueBatch) throw new Error('this system has no bulk enqueue call');
  const jobs = benchJobs(options.jobs);
  const startedAt = performance.now();
  const deadline = startedAt + options.capMs;
  let completed = 0;
  let capped = false;
  while (completed < jobs.length) {
    if (performance.now() >= deadline) {
      capped = true;
      break;
    }
    if (options.batching === 'single') {
      await connection.enqueue(jobs[completed]!);
      completed++;
    } else {
      const batch = jobs.slice(completed, completed + bulkBatchSize);
      await connection.enqueueBatch!(batch);
      completed += batch.length;
    }
  }
  const elapsedMs = performance.now() - startedAt;
  return {
    kind: 'throughput',
    target: options.jobs,
    completed,
    elapsedMs,
    jobsPerSecond: completed / (elapsedMs / 1000),
    capped,
    workerMemory: null,
    duplicateRuns: 0,
  };
}
