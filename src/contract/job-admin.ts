import type { JobRecord } from '../domain/job-record.ts';
import type { JobState } from '../domain/job-state.ts';

/**
 * The administration role of the backend contract: reading jobs and steering them from
 * outside any attempt (the client, the CLI, the dashboard).
 */
export interface JobAdmin {
  get(id: string): Promise<JobRecord | null>;
  /** Jobs whose id starts with `prefix`, at most `limit`. */
  findByIdPrefix(prefix: string, limit: number): Promise<JobRecord[]>;
  list(filter: ListFilter): Promise<JobPage>;
  /**
   * Cancels a job. A waiting job becomes `cancelled` at once. A running one gets
   * `cancelRequested`; its attempt learns of it through `renewLeases` and settles
   * as cancelled. Terminal jobs are left as they are.
   */
  cancel(id: string): Promise<CancelResult>;
  /**
   * Moves a `failed` or `cancelled` job back to `queued` with a fresh set of attempts, and
   * `failedHook` null. Refused (`InvalidStateError`) while its `failed` hook is pending.
   */
  retry(id: string): Promise<JobRecord>;
  /**
   * Removes a job that is not running and whose `failed` hook is not pending (either is
   * refused with `InvalidStateError`). Resolves false when there was none.
   */
  delete(id: string): Promise<boolean>;
  /**
   * Removes terminal jobs that finished at or before `finishedBy`, or whose retention has
   * lapsed; never one whose `failed` hook is pending (it goes once the hook has run).
   */
  prune(request: PruneRequest): Promise<number>;
  stats(): Promise<BackendStats>;
  pause(queue: string): Promise<void>;
  resume(queue: string): Promise<void>;
}

export interface ListFilter {
  state?: JobState | readonly JobState[];
  queue?: string;
  name?: string;
  /** @default 50 */
  limit?: number;
  /** From a previous page's `nextCursor`. */
  cursor?: string | null;
}

export interface JobPage {
  /** Newest first. */
  jobs: JobRecord[];
  /** Pass to get the next page; null on the last one. */
  nextCursor: string | null;
}

export type CancelResult =
  | { outcome: 'cancelled'; job: JobRecord }
  | { outcome: 'cancel-requested'; job: JobRecord }
  | { outcome: 'already-finished'; job: JobRecord }
  | { outcome: 'not-found' };

export interface PruneRequest {
  /** Remove terminal jobs in these states… @default ['completed', 'failed', 'cancelled'] */
  states?: readonly JobState[];
  /** …that finished at or before this moment (ms since epoch). */
  finishedBy?: number;
  /** Also remove jobs whose retention (`keepCompleted` / `keepFailed`) has lapsed by now. */
  expired?: boolean;
}

export interface QueueStats {
  queue: string;
  paused: boolean;
  /**
   * Jobs by stored state. `scheduled` holds both delayed jobs waiting for their run time and
   * flow parents waiting for their children (`waitingForChildren`): `counts.scheduled -
   * waitingForChildren` is the delayed ones.
   */
  counts: Record<JobState, number>;
  /**
   * Flow parents waiting for their children to finish: a subset of `counts.scheduled` (they are
   * stored as scheduled at `waitingForChildrenRunAt`, a run time that never comes due).
   */
  waitingForChildren: number;
  /** When a job in this queue last reached a terminal state. */
  lastProcessedAt: number | null;
  completedLastMinute: number;
  failedLastMinute: number;
  completedLastHour: number;
  failedLastHour: number;
  /**
   * When the job that has waited longest in this queue became due: the earliest `runAt` among
   * its queued jobs (due delayed jobs are moved to queued first); null when none waits. Its
   * age is how far the queue is behind.
   */
  oldestWaitingSince: number | null;
}

export interface BackendStats {
  /** Totals over every queue, by stored state (see `QueueStats.counts`). */
  counts: Record<JobState, number>;
  /** Flow parents waiting for their children, over every queue: a subset of `counts.scheduled`. */
  waitingForChildren: number;
  queues: QueueStats[];
  lastProcessedAt: number | null;
  completedLastMinute: number;
  failedLastMinute: number;
  completedLastHour: number;
  failedLastHour: number;
  /** The earliest `oldestWaitingSince` over every queue. */
  oldestWaitingSince: number | null;
  /**
   * Jobs finished in each of the last 60 minutes over every queue, oldest first: the
   * minute starting at `at` (ms since epoch, a whole minute), the current one last. Read
   * from the same 10-second buckets as the other figures, so it outlives pruning too.
   */
  lastHourByMinute: MinuteCount[];
}

export interface MinuteCount {
  at: number;
  completed: number;
  failed: number;
}
