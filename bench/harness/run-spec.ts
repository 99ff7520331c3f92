import type { StoreRef } from '../systems/system-adapter.ts';
import type { LatencyOptions } from './bench-options.ts';
import type { ServiceUrls } from './services.ts';
import type { LatencyObservation } from './latency-probe.ts';
import type { RunOutcome } from './run-outcome.ts';
import type { WorkloadId } from './workloads.ts';

/** What the parent asks a measuring child process to do: one run of one workload on one system. */
export interface RunSpec {
  readonly system: string;
  readonly workload: WorkloadId;
  readonly jobs: number;
  readonly capMs: number;
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
  /** The worker is running and the parent may start producing (cross-process latency only). */
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly outcome: ChildResult }
  | { readonly type: 'failed'; readonly error: string };

/** What a measuring child reports: a finished outcome, or its half of a cross-process latency run. */
export type ChildResult = RunOutcome | LatencyObservation;
