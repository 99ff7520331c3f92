/**
 * The workloads, each measured as its own run with a fresh store. Every job is a
 * no-op, so the figures are the queue's own cost.
 */
export type Workload =
  | { readonly kind: 'enqueue'; readonly batching: 'single' | 'bulk' }
  | { readonly kind: 'process'; readonly concurrency: number }
  | { readonly kind: 'latency'; readonly producer: 'same-process' | 'other-process' }
  /** Processing with a small and with a large backlog queued: does the cost per job stay flat as the backlog grows? */
  | { readonly kind: 'scale'; readonly concurrency: number }
  /** Several worker processes draining one store: how fast, and does every job still run exactly once? */
  | { readonly kind: 'multi-worker'; readonly processes: number; readonly concurrency: number }
  /**
   * Flows of one parent and many children: the time to create them (one call per flow) and
   * to process them with one worker (every child, then each parent reading its children's results).
   */
  | { readonly kind: 'flow'; readonly childrenPerFlow: number; readonly concurrency: number }
  /**
   * SQLite only: a backlog processed to completion with the system's default retention,
   * then the file folded (`wal_checkpoint(TRUNCATE)`) and measured: bytes on disk per completed job.
   */
  | { readonly kind: 'disk'; readonly concurrency: number };

/** Concurrency of the one worker in the scale workload: the highest of the processing workloads, where a slow claim shows most. */
export const scaleConcurrency = 50;

/**
 * Jobs the scale workload times at each backlog size (fewer when the small backlog is
 * smaller): the same amount of work on both sides of the ratio, so only the backlog differs.
 */
export const scaleTimedJobs = 10_000;

/** Worker processes in the multi-worker workload: more than the machine's cores, so claims collide as they would on a busy server. */
export const multiWorkerProcesses = 4;

/** Concurrency of each worker in the multi-worker workload: Jobsmith's default. */
export const multiWorkerConcurrency = 10;

/** Children of each flow in the flow-children workload; a run's --jobs children are split into flows of this many. */
export const flowChildrenPerFlow = 1000;

/** Concurrency of the one worker in the flow-children workload: the highest of the processing workloads. */
export const flowConcurrency = 50;

/** Concurrency of the one worker that completes the disk workload's backlog: how fast it runs does not matter, only what it leaves behind. */
export const diskConcurrency = 50;

export const workloads = {
  'enqueue-single': { kind: 'enqueue', batching: 'single' },
  'enqueue-bulk': { kind: 'enqueue', batching: 'bulk' },
  'process-c1': { kind: 'process', concurrency: 1 },
  'process-c10': { kind: 'process', concurrency: 10 },
  'process-c50': { kind: 'process', concurrency: 50 },
  'multi-worker': { kind: 'multi-worker', processes: multiWorkerProcesses, concurrency: multiWorkerConcurrency },
  scale: { kind: 'scale', concurrency: scaleConcurrency },
  latency: { kind: 'latency', producer: 'same-process' },
  'latency-remote': { kind: 'latency', producer: 'other-process' },
  'flow-children': { kind: 'flow', childrenPerFlow: flowChildrenPerFlow, concurrency: flowConcurrency },
  'disk-per-job': { kind: 'disk', concurrency: diskConcurrency },
} as const satisfies Record<string, Workload>;

export type WorkloadId = keyof typeof workloads;

export const workloadIds = Object.keys(workloads) as WorkloadId[];

/** Names for several workloads at once on the command line. */
export const workloadGroups: Readonly<Record<string, readonly WorkloadId[]>> = {
  all: workloadIds,
  enqueue: ['enqueue-single', 'enqueue-bulk'],
  process: ['process-c1', 'process-c10', 'process-c50'],
  // Processing past one worker on a modest backlog: more workers on one store, and a far larger backlog.
  scaling: ['multi-worker', 'scale'],
  latency: ['latency', 'latency-remote'],
  flows: ['flow-children'],
  disk: ['disk-per-job'],
};

/** How a run of `children` children splits into flows: full flows of `childrenPerFlow`, the last one smaller when it does not divide. */
export function flowSizes(children: number, childrenPerFlow: number): number[] {
  const sizes: number[] = [];
  for (let left = children; left > 0; left -= childrenPerFlow) sizes.push(Math.min(childrenPerFlow, left));
  return sizes;
}

export function isWorkloadId(value: string): value is WorkloadId {
  return Object.hasOwn(workloads, value);
}

/** Jobs per `enqueueBatch` call in the bulk workload, and when filling a backlog. */
export const bulkBatchSize = 1000;

/** Concurrency of the worker in the latency workloads: Jobsmith's default, and more than 100 no-op jobs/s need. */
export const latencyWorkerConcurrency = 10;
