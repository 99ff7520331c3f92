/**
 * The workloads, each measured as its own run with a fresh store. Every job is a
 * no-op, so the figures are the queue's own cost.
 */
export type Workload =
  | { readonly kind: 'enqueue'; readonly batching: 'single' | 'bulk' }
  | { readonly kind: 'process'; readonly concurrency: number }
  | { readonly kind: 'latency'; readonly producer: 'same-process' | 'other-process' };

export const workloads = {
  'enqueue-single': { kind: 'enqueue', batching: 'single' },
  'enqueue-bulk': { kind: 'enqueue', batching: 'bulk' },
  'process-c1': { kind: 'process', concurrency: 1 },
  'process-c10': { kind: 'process', concurrency: 10 },
  'process-c50': { kind: 'process', concurrency: 50 },
  latency: { kind: 'latency', producer: 'same-process' },
  'latency-remote': { kind: 'latency', producer: 'other-process' },
} as const satisfies Record<string, Workload>;

export type WorkloadId = keyof typeof workloads;

export const workloadIds = Object.keys(workloads) as WorkloadId[];

/** Names for several workloads at once on the command line. */
export const workloadGroups: Readonly<Record<string, readonly WorkloadId[]>> = {
  all: workloadIds,
  enqueue: ['enqueue-single', 'enqueue-bulk'],
  process: ['process-c1', 'process-c10', 'process-c50'],
  latency: ['latency', 'latency-remote'],
};

export function isWorkloadId(value: string): value is WorkloadId {
  return Object.hasOwn(workloads, value);
}

/** Jobs per `enqueueBatch` call in the bulk workload, and when filling a backlog. */
export const bulkBatchSize = 1000;

/** Concurrency of the worker in the latency workloads: Jobsmith's default, and more than 100 no-op jobs/s need. */
export const latencyWorkerConcurrency = 10;
