import { type ScaleOptions, scaleTimedJobCount } from './bench-options.ts';
import type { RunOutcome } from './run-outcome.ts';
import { flowChildrenPerFlow, flowConcurrency, multiWorkerConcurrency, multiWorkerProcesses, scaleConcurrency, type WorkloadId } from './workloads.ts';

/** One row of the results table: a figure read from each run of one workload. */
export interface Metric {
  readonly id: string;
  readonly label: string;
  readonly unit: MetricUnit;
  /** Which way is better, for picking the best system and reading the Jobsmith ÷ best peer ratio. */
  readonly better: 'higher' | 'lower';
  readonly workload: WorkloadId;
  /**
   * Whether the "Jobsmith ÷ peer" columns compare it. Not for counts that must be zero
   * (a ratio of zeros says nothing), nor for workloads no peer runs.
   */
  readonly comparedWithPeers: boolean;
  /** The figure, or null when the run has none (e.g. no job arrived, so no latency). */
  readonly read: (outcome: RunOutcome) => number | null;
}

/** `×`: a ratio of two of the system's own figures; `runs` and `jobs`: counts that must be zero; `bytes/job`: disk space. */
export type MetricUnit = 'jobs/s' | 'ms' | 'MB' | '×' | 'runs' | 'jobs' | 'bytes/job';

const bytesPerMb = 1024 * 1024;

function throughput(id: WorkloadId, label: string): Metric {
  return {
    id,
    label,
    unit: 'jobs/s',
    better: 'higher',
    workload: id,
    comparedWithPeers: true,
    read: (outcome) => (outcome.kind === 'throughput' ? finite(outcome.jobsPerSecond) : null),
  };
}

function workerRss(workload: WorkloadId, label: string): Metric {
  return {
    id: `rss-${workload.replace('process-', '')}`,
    label,
    unit: 'MB',
    better: 'lower',
    workload,
    comparedWithPeers: true,
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
    comparedWithPeers: true,
    read: (outcome) => (outcome.kind === 'latency' ? finite(outcome[field]) : null),
  };
}

/** The scale workload's rows: each backlog's rate, and their ratio within each run. */
function scaleMetrics(scale: ScaleOptions): Metric[] {
  const count = (value: number) => value.toLocaleString('en-US');
  const timed = count(scaleTimedJobCount(scale));
  const rate = (id: string, side: 'small' | 'large', backlog: number): Metric => ({
    id,
    label: `Process ${timed} of ${count(backlog)} queued, concurrency ${scaleConcurrency}`,
    unit: 'jobs/s',
    better: 'higher',
    workload: 'scale',
    comparedWithPeers: false,
    read: (outcome) => (outcome.kind === 'scale' ? finite(outcome[side].processing.jobsPerSecond) : null),
  });
  return [
    rate('scale-small', 'small', scale.smallBacklog),
    rate('scale-large', 'large', scale.largeBacklog),
    {
      id: 'scale-ratio',
      label: `Rate with ${count(scale.largeBacklog)} queued ÷ with ${count(scale.smallBacklog)}`,
      unit: '×',
      better: 'higher',
      workload: 'scale',
      comparedWithPeers: false,
      read: (outcome) => (outcome.kind === 'scale' ? finite(outcome.largeOverSmall) : null),
    },
  ];
}

const workersLabel = `${multiWorkerProcesses} worker processes`;

/** The multi-worker workload's rows: its rate, and the two counts that must stay at zero. */
const multiWorkerMetrics: Metric[] = [
  {
    id: 'multi-worker',
    label: `Process backlog, ${workersLabel} × concurrency ${multiWorkerConcurrency}`,
    unit: 'jobs/s',
    better: 'higher',
    workload: 'multi-worker',
    comparedWithPeers: true,
    read: (outcome) => (outcome.kind === 'multi-worker' ? finite(outcome.jobsPerSecond) : null),
  },
  {
    id: 'multi-worker-duplicates',
    label: `Duplicate runs, ${workersLabel} (must be 0)`,
    unit: 'runs',
    better: 'lower',
    workload: 'multi-worker',
    comparedWithPeers: false,
    read: (outcome) => (outcome.kind === 'multi-worker' ? outcome.duplicateRuns : null),
  },
  {
    id: 'multi-worker-lost',
    label: `Jobs never run, ${workersLabel} (must be 0)`,
    unit: 'jobs',
    better: 'lower',
    workload: 'multi-worker',
    comparedWithPeers: false,
    read: (outcome) => (outcome.kind === 'multi-worker' ? outcome.lostJobs : null),
  },
];

const flowLabel = `flows of ${flowChildrenPerFlow.toLocaleString('en-US')} children + 1 parent`;

/** The flow-children workload's rows: creating the flows, and processing them. Jobs count children and parents alike. */
const flowMetrics: Metric[] = [
  {
    id: 'flow-children-create',
    label: `Create ${flowLabel}, 1 flow per call`,
    unit: 'jobs/s',
    better: 'higher',
    workload: 'flow-children',
    comparedWithPeers: true,
    read: (outcome) => (outcome.kind === 'flow' ? finite(outcome.createJobsPerSecond) : null),
  },
  {
    id: 'flow-children',
    label: `Process ${flowLabel}, concurrency ${flowConcurrency}`,
    unit: 'jobs/s',
    better: 'higher',
    workload: 'flow-children',
    comparedWithPeers: true,
    read: (outcome) => (outcome.kind === 'flow' ? finite(outcome.jobsPerSecond) : null),
  },
];

/** The disk workload's one row: bytes on disk per completed job, SQLite only. */
const diskMetric: Metric = {
  id: 'disk-per-job',
  label: 'Bytes on disk per completed job (after a checkpoint)',
  unit: 'bytes/job',
  better: 'lower',
  workload: 'disk-per-job',
  comparedWithPeers: true,
  read: (outcome) => (outcome.kind === 'disk' ? finite(outcome.bytesPerJob) : null),
};

function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** Every row, in table order. The scale rows name their backlog sizes, so the list depends on them. */
export function benchMetrics(sizes: { readonly scale: ScaleOptions }): readonly Metric[] {
  return [
    throughput('enqueue-single', 'Enqueue, 1 per call, awaited'),
    throughput('enqueue-bulk', 'Enqueue, 1,000 per call'),
    throughput('process-c1', 'Process backlog, concurrency 1'),
    throughput('process-c10', 'Process backlog, concurrency 10'),
    throughput('process-c50', 'Process backlog, concurrency 50'),
    ...multiWorkerMetrics,
    ...scaleMetrics(sizes.scale),
    ...flowMetrics,
    diskMetric,
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
}
