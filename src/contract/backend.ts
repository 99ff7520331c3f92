import type { JobState } from '../domain/job-state.ts';
import type { BackendCapability } from './capabilities.ts';
import type { JobAdmin } from './job-admin.ts';
import type { JobQueue } from './job-queue.ts';
import type { ScheduleStore } from './schedule-store.ts';
import type { LiveWorker, WorkerPresence } from './worker-registry.ts';
import type { StepStore } from './step-store.ts';
import type { FlowStore } from './flow-store.ts';

export type * from './capabilities.ts';
export type * from './job-admin.ts';
export type * from './job-queue.ts';
export type * from './schedule-store.ts';
export type * from './worker-registry.ts';
export type * from './step-store.ts';
export type * from './flow-store.ts';

/**
 * The backend contract: the one interface every store implements and the client,
 * worker and scheduler speak. Its semantics are pinned down by the conformance suite
 * (`runBackendConformance` in `jobsmith/testing/conformance`); the memory backend is the
 * reference implementation.
 *
 * Rules every backend keeps:
 * - Each method is atomic: it happens entirely or not at all.
 * - Writes made on behalf of an attempt (`settle`, `renewLeases`, `recordProgress`,
 *   `appendLog`) are fenced by the attempt's lease token: once another attempt holds
 *   the job, or the job has ended, they are rejected and change nothing.
 * - A settlement is idempotent: the store keeps the token of the attempt whose outcome it
 *   holds, and that attempt's settlement written again (its first reply was lost) is
 *   reported applied and changes nothing more.
 * - Time is the backend's clock (`now`), so a fake clock drives delays and leases.
 * - Errors from the store surface as `StoreError` with the driver's error as `cause`.
 *
 * The contract is split by role, one file each: the queue (`job-queue.ts`), administration
 * (`job-admin.ts`) and schedules (`schedule-store.ts`). Every backend implements all three;
 * what not every backend can do is an optional capability it declares (`capabilities.ts`),
 * with a role file of its own where it adds methods (`worker-registry.ts` for `live-workers`,
 * `step-store.ts` for `durable-steps`, `flow-store.ts` for `flows`).
 */
export interface Backend extends JobQueue, JobAdmin, ScheduleStore, Partial<StepStore>, Partial<FlowStore>, AsyncDisposable {
  /** `memory`, `sqlite`, `postgres`, `redis`. */
  readonly kind: string;
  /**
   * True when every call does its work on the caller's thread before it returns (the
   * memory and SQLite backends): no call overlaps with running jobs, so a worker gains
   * nothing by claiming ahead and does not by default. Absent means false.
   */
  readonly inProcess?: boolean;
  /** Connects and applies migrations. Idempotent; every other method may call it first. */
  open(): Promise<void>;
  /** Closes connections. Idempotent. */
  close(): Promise<void>;
  /** The store's notion of now, in ms since the epoch. */
  now(): number;
  /** The optional capabilities this backend has; a caller checks with `requireCapability()`. */
  readonly capabilities: ReadonlySet<BackendCapability>;

  /**
   * Optional (capability `change-events`): calls `listener` on changes made through this
   * backend instance, and on those another process announces where the store can tell
   * (PostgreSQL NOTIFY, Redis pub/sub, SQLite's file watch, which reports `changed` and the
   * cancels asked for), so workers and `waitFor` react at once instead of at their next
   * poll. Polling and heartbeats cover whatever no event brings.
   */
  subscribe?(listener: (event: BackendEvent) => void): () => void;

  /** Optional (capability `live-workers`): registers a worker, or refreshes its registration, until now + `ttlMs` (worker-registry.ts). */
  registerWorker?(worker: WorkerPresence, ttlMs: number): Promise<void>;
  /** Optional (capability `live-workers`): removes a worker's registration; false when there was none. */
  deregisterWorker?(workerId: string): Promise<boolean>;
  /** Optional (capability `live-workers`): the registrations that have not lapsed, ordered by id. */
  listWorkers?(): Promise<LiveWorker[]>;
}

export type BackendEvent =
  | { type: 'enqueued'; queue: string; runAt: number }
  | { type: 'cancel-requested'; id: string }
  | { type: 'settled'; id: string; state: JobState }
  | { type: 'resumed'; queue: string }
  /** Another process changed the store; what it changed is unknown, so look again. */
  | { type: 'changed' }
  /**
   * A connection to the store broke, or could not be made, outside any call (an idle connection,
   * the notification channel, SQLite's watch of the file). The backend reconnects or tries again
   * by itself; this is for logs.
   */
  | { type: 'connection-error'; error: unknown };
