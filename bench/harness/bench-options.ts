import { knownSystemIds } from '../systems/registry.ts';
import { type WorkloadId, workloadIds } from './workloads.ts';

/** What one benchmark measures, and how big and how often. */
export interface BenchOptions {
  /** System ids, in the order runs alternate between them. */
  readonly systems: readonly string[];
  readonly workloads: readonly WorkloadId[];
  /** Jobs per enqueue and processing run. */
  readonly jobs: number;
  /** Runs of each workload on each system; tables show their median and range. */
  readonly runs: number;
  /** A run stops at this many seconds and reports what it completed. */
  readonly capSeconds: number;
  readonly latency: LatencyOptions;
  /**
   * Smaller sizes for systems too slow to measure at full size within the benchmark's
   * time budget, by system id. Tables mark their figures.
   */
  readonly overrides: Readonly<Record<string, SystemOverride>>;
}

/** A system measured with fewer jobs and/or fewer runs than the rest. */
export interface SystemOverride {
  readonly jobs?: number;
  readonly runs?: number;
}

export interface LatencyOptions {
  /** Jobs enqueued per second, evenly spaced. */
  readonly ratePerSecond: number;
  /** How long jobs are enqueued for. */
  readonly seconds: number;
}

export const defaultBenchOptions: BenchOptions = {
  systems: knownSystemIds,
  workloads: workloadIds,
  jobs: 20_000,
  runs: 3,
  capSeconds: 120,
  latency: { ratePerSecond: 100, seconds: 5 },
  // About 100-300 jobs/s and no bulk call: 20,000 jobs would take 2-3 minutes to enqueue
  // and again to process, per run (far past the cap), so these get 2,000 jobs and one run.
  overrides: {
    'sidequest-sqlite': { jobs: 2000, runs: 1 },
    'sidequest-postgres': { jobs: 2000, runs: 1 },
  },
};

/** `--quick`: small enough to check the harness end to end in well under a minute. */
export const quickBenchOptions: BenchOptions = {
  ...defaultBenchOptions,
  jobs: 500,
  runs: 1,
  capSeconds: 30,
  latency: { ratePerSecond: 100, seconds: 1 },
};

/** Jobs per enqueue and processing run of `system`. */
export function jobsFor(options: Pick<BenchOptions, 'jobs' | 'overrides'>, system: string): number {
  return Math.min(options.overrides[system]?.jobs ?? options.jobs, options.jobs);
}

/** Runs of each workload on `system`. */
export function runsFor(options: Pick<BenchOptions, 'runs' | 'overrides'>, system: string): number {
  return Math.min(options.overrides[system]?.runs ?? options.runs, options.runs);
}

/** How many jobs one latency run enqueues. */
export function latencyJobCount(latency: LatencyOptions): number {
  return Math.max(1, Math.round(latency.ratePerSecond * latency.seconds));
}
