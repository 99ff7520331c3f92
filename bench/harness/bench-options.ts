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
};

/** `--quick`: small enough to check the harness end to end in well under a minute. */
export const quickBenchOptions: BenchOptions = {
  ...defaultBenchOptions,
  jobs: 500,
  runs: 1,
  capSeconds: 30,
  latency: { ratePerSecond: 100, seconds: 1 },
};

/** How many jobs one latency run enqueues. */
export function latencyJobCount(latency: LatencyOptions): number {
  return Math.max(1, Math.round(latency.ratePerSecond * latency.seconds));
}
