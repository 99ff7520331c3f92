import type { RunOutcome } from './run-outcome.ts';
import type { WorkloadId } from './workloads.ts';

/** One row of the results table: a figure read from each run of one workload. */
export interface Metric {
  readonly id: string;
  readonly label: string;
  readonly unit: MetricUnit;
  /** Which way is better, for picking the best system and reading the Jobsmith ÷ best peer ratio. */
  readonly better: 'higher' | 'lower';
  readonly workload: WorkloadId;
  /** The figure, or null when the run has none (e.g. no job arrived, so no latency). */
  readonly read: (outcome: RunOutcome) => number | null;
}

export type MetricUnit = 'jobs/s' | 'ms' | 'MB';

const bytesPerMb = 1024 * 1024;

function throughput(id: WorkloadId, label: string): Metric {
  return { id, label, unit: 'jobs/s', better: 'higher', workload: id, read: (outcome) => (outcome.kind === 'throughput' ? finite(outcome.jobsPerSecond) : null) };
}

function workerRss(workload: WorkloadId, label: string): Metric {
  return {
    id: `rss-${workload.replace('process-', '')}`,
    label,
    unit: 'MB',
    better: 'lower',
    workload,
    read: (outcome) => (outcome.kind === 'throughput' && outcome.workerMemory ? outcome.workerMemory.peakRssBytes / bytesPerMb : null),
  };
}

function latency(workload: 'latency' | 'latency-remote', percentile: 50 | 95 | 99, label: string): Metric {
  const field = `p${percentile}Ms` as const;
  return {
    id: `${workload}-p${percentile}`,
    label,
    unit: 'ms',
    better: 'lower',
    workload,
    read: (outcome) => (outcome.kind === 'latency' ? finite(outcome[field]) : null),
  };
}

function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** Every row, in table order. */
export const metrics: readonly Metric[] = [
  throughput('enqueue-single', 'Enqueue, 1 per call, awaited'),
  throughput('enqueue-bulk', 'Enqueue, 1,000 per call'),
  throughput('process-c1', 'Process backlog, concurrency 1'),
  throughput('process-c10', 'Process backlog, concurrency 10'),
  throughput('process-c50', 'Process backlog, concurrency 50'),
  latency('latency', 50, 'Latency p50, producer in worker process'),
  latency('latency', 95, 'Latency p95, producer in worker process'),
  latency('latency', 99, 'Latency p99, producer in worker process'),
  latency('latency-remote', 50, 'Latency p50, producer in another process'),
  latency('latency-remote', 95, 'Latency p95, producer in another process'),
  latency('latency-remote', 99, 'Latency p99, producer in another process'),
  workerRss('process-c1', 'Worker peak RSS, concurrency 1'),
  workerRss('process-c10', 'Worker peak RSS, concurrency 10'),
  workerRss('process-c50', 'Worker peak RSS, concurrency 50'),
];
