import type { StoreRef } from '../systems/system-adapter.ts';
import type { LatencyOptions } from './bench-options.ts';
import type { ServiceUrls } from './services.ts';
import type { LatencyObservation } from './latency-probe.ts';
import type { WorkerShare } from './one-of-several-workers.ts';
import type { RunOutcome } from './run-outcome.ts';
import type { WorkloadId } from './workloads.ts';

/** What the parent asks a measuring child process to do: one run of one workload on one system, or one worker's part of it. */
export interface RunSpec {
  readonly system: string;
  readonly workload: WorkloadId;
  /** Jobs to enqueue, or the backlog to process (indexes 0 … jobs-1). */
  readonly jobs: number;
  /** Of the backlog, the jobs a processing run times; fewer than `jobs` only in the scale workload's large backlog. */
  readonly timedJobs: number;
  readonly capMs: number;
  /** Cap on filling a backlog, for a child that fills a store of its own (untimed, apart from `capMs`). */
  readonly fillCapMs: number;
  readonly latency: LatencyOptions;
  /**
   * A store the parent already created (and, for processing, filled with the backlog);
   * null when the child creates its own, as it must for a store that lives in one process.
   */
  readonly store: StoreRef | null;
  /** The servers the parent started for this benchmark, which stores are created on. */
  readonly services: ServiceUrls;
}

/** Messages from the child over its IPC channel; IPC keeps them apart from anything a library prints. */
export type ChildMessage =
  /**
   * The child is ready for the parent's next step: its worker is running (cross-process
   * latency), or it is connected and waits for `start` (one of several workers).
   */
  | { readonly type: 'ready' }
  /** One of several workers: the jobs whose handler ran since its last report, and when (`wallClockMs()`). */
  | { readonly type: 'ran'; readonly indexes: readonly number[]; readonly at: readonly number[] }
  | { readonly type: 'result'; readonly outcome: ChildResult }
  | { readonly type: 'failed'; readonly error: string };

/** Messages from the parent, to a child that is one of several workers on one store. */
export type ParentMessage = { readonly type: 'start' } | { readonly type: 'stop' };

/** What a measuring child reports: a finished outcome, or its part of a run that spans processes. */
export type ChildResult = RunOutcome | LatencyObservation | WorkerShare;
