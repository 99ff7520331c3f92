import type { SystemConnection } from '../systems/system-adapter.ts';
import { CompletionTracker } from './completion-tracker.ts';
import type { ThroughputOutcome } from './run-outcome.ts';
import { RssSampler } from './rss-sampler.ts';

export interface ProcessingRunOptions {
  /** Jobs already in the store, indexes 0 … jobs-1. */
  readonly jobs: number;
  readonly concurrency: number;
  readonly capMs: number;
}

/**
 * Starts one worker on a store that already holds the backlog and times it from
 * the start call to the last handler run. Runs in the worker's own process, so the
 * sampled RSS is the worker's.
 */
export async function measureProcessing(connection: SystemConnection, options: ProcessingRunOptions): Promise<ThroughputOutcome> {
  const tracker = new CompletionTracker(options.jobs);
  const sampler = new RssSampler();
  const rssAtStartBytes = sampler.start();
  const startedAt = performance.now();
  const worker = await connection.startWorker({ concurrency: options.concurrency, onJobStart: (job) => tracker.record(job.index) });
  const finished = await tracker.waitForAll(startedAt + options.capMs);
  const elapsedMs = (finished ? tracker.lastNewAt : performance.now()) - startedAt;
  const peakRssBytes = sampler.stop();
  await worker.stop();
  return {
    kind: 'throughput',
    target: options.jobs,
    completed: tracker.distinct,
    elapsedMs,
    jobsPerSecond: tracker.distinct / (elapsedMs / 1000),
    capped: !finished,
    workerMemory: {
      peakRssBytes,
      rssAtStartBytes,
      // maxRSS is in kilobytes.
      processMaxRssBytes: process.resourceUsage().maxRSS * 1024,
      samples: sampler.samples,
    },
    duplicateRuns: tracker.duplicates,
  };
}
