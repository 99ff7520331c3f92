import { knownSystemIds } from '../systems/registry.ts';
import { scaleTimedJobs, type WorkloadId, workloadIds } from './workloads.ts';

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
  readonly scale: ScaleOptions;
  /**
   * A backlog is filled (untimed) within this many seconds, apart from the run's cap;
   * a fill that cannot finish in time fails its run.
   */
  readonly fillCapSeconds: number;
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

/** The two backlog sizes of the scale workload. */
export interface ScaleOptions {
  /** Jobs queued in the run that tests the backlog's cost. */
  readonly largeBacklog: number;
  /** Jobs queued in the run it is compared with. */
  readonly smallBacklog: number;
}

export const defaultBenchOptions: BenchOptions = {
  systems: knownSystemIds,
  workloads: workloadIds,
  jobs: 20_000,
  runs: 3,
  capSeconds: 120,
  latency: { ratePerSecond: 100, seconds: 5 },
  scale: { largeBacklog: 1_000_000, smallBacklog: 10_000 },
  // A million jobs take 15-40 s to enqueue in bulk on SQLite, PostgreSQL and Redis here:
  // the cap leaves room for a busy machine and still ends a fill that has stalled.
  fillCapSeconds: 300,
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
  scale: { largeBacklog: 20_000, smallBacklog: 2000 },
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

/** Jobs the scale workload times at each backlog size: its usual count, or the whole small backlog when that is smaller. */
export function scaleTimedJobCount(scale: ScaleOptions): number {
  return Math.min(scaleTimedJobs, scale.smallBacklog);
}
