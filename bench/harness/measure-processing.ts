import type { SystemConnection } from '../systems/system-adapter.ts';
import { CompletionTracker } from './completion-tracker.ts';
import type { ThroughputOutcome } from './run-outcome.ts';
import { RssSampler } from './rss-sampler.ts';

export interface ProcessingRunOptions {
  /** Jobs already in the store, indexes 0 … jobs-1. */
  readonly jobs: number;
  /**
   * How many of them are timed: the worker is stopped once this many distinct jobs ran.
   * Every job unless fewer are asked for (the scale workload's large backlog).
   */
  readonly timedJobs?: number;
  readonly concurrency: number;
  readonly capMs: number;
}

/**
 * Starts one worker on a store that already holds the backlog and times it from
 * the start call to the handler run of the last timed job. Runs in the worker's own
 * process, so the sampled RSS is the worker's.
 */
export async function measureProcessing(connection: SystemConnection, options: ProcessingRunOptions): Promise<ThroughputOutcome> {
  const timedJobs = options.timedJobs ?? options.jobs;
  const tracker = new CompletionTracker(options.jobs, timedJobs);
  const sampler = new RssSampler();
  const rssAtStartBytes = sampler.start();
  const startedAt = performance.now();
  const worker = await connection.startWorker({ concurrency: options.concurrency, onJobStart: (job) => tracker.record(job.index) });
  const finished = await tracker.waitUntilDone(startedAt + options.capMs);
  // Read now: with a backlog larger than the timed part, jobs go on running until the worker has stopped.
  const completed = finished ? timedJobs : tracker.distinct;
  const elapsedMs = (finished ? tracker.doneAt! : performance.now()) - startedAt;
  const peakRssBytes = sampler.stop();
  await worker.stop();
  return {
    kind: 'throughput',
    target: timedJobs,
    completed,
    elapsedMs,
    jobsPerSecond: completed / (elapsedMs / 1000),
    capped: !finished,
    workerMemory: {
      peakRssBytes,
      rssAtStartBytes,
      // maxRSS is in kilobytes.
      processMaxRssBytes: process.resourceUsage().maxRSS * 1024,
      samples: sampler.samples,
    },
    // Counted up to the worker's stop, so a job run twice just after the timed part is still caught.
    duplicateRuns: tracker.duplicates,
  };
}
