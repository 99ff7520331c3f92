import type { BackoffSpec } from '../domain/backoff.ts';
import type { JobLease, JobLogEntry, JobProgress, JobRecord } from '../domain/job-record.ts';
import type { JobState } from '../domain/job-state.ts';
import type { JsonObject, JsonValue } from '../domain/json-value.ts';
import type { SerializedError } from '../domain/serialized-error.ts';

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
 */
export interface Backend extends AsyncDisposable {
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

  /**
   * Adds jobs, all or nothing. A job whose `key` is held by an active job of the same name
   * is not added; its result names the existing job with `created: false`.
   */
  enqueue(jobs: readonly NewJob[], options?: EnqueueCallOptions): Promise<EnqueueResult[]>;
  /**
   * Adds a job already running under a lease held by `lease.workerId`, for running a job
   * inline (`job.now()`). Honours `key` like `enqueue`: when the key is held, nothing is
   * added and `created` is false.
   */
  enqueueRunning(job: NewJob, lease: LeaseRequest): Promise<{ created: true; job: ClaimedJob } | { created: false; id: string }>;
  /** Claims up to `limit` runnable jobs (see `ClaimRequest`), each under a fresh lease. */
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /**
   * Applies the outcomes of attempts, fenced by lease token, and then, when `next` is
   * given, claims more in the same round trip. Results are in input order. An outcome
   * already applied for the same lease token (written again after a lost reply) is
   * reported applied and changes nothing more.
   */
  settle(settlements: readonly Settlement[], next?: ClaimRequest): Promise<SettleResult>;
  /**
   * Extends the given leases to now + `leaseMs`: of running attempts, and of failed jobs whose
   * `failed` hook is pending under that lease. Tells, per lease, whether it is still held and
   * whether a cancel was asked for.
   */
  renewLeases(leases: readonly LeaseRef[], leaseMs: number): Promise<LeaseStatus[]>;
  /** Records progress for the attempt holding `lease`. Throws `LeaseLostError` when it no longer does. */
  recordProgress(lease: LeaseRef, progress: JobProgress): Promise<void>;
  /** Appends a log line for the attempt holding `lease`. Throws `LeaseLostError` when it no longer does. */
  appendLog(lease: LeaseRef, entry: JobLogEntry): Promise<void>;

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

  /**
   * Creates or updates a schedule by id. Idempotent: when the stored schedule has the
   * same `spec`, its run times are kept, so a hundred processes registering the same
   * schedule at start leave one schedule whose ticks move on undisturbed. A changed
   * spec replaces the old one and takes `nextRunAt` from the input. `enabled`
   * undefined keeps the stored value (true for a new schedule).
   */
  upsertSchedule(input: ScheduleInput): Promise<ScheduleRecord>;
  getSchedule(id: string): Promise<ScheduleRecord | null>;
  /** Every schedule, by id. */
  listSchedules(): Promise<ScheduleRecord[]>;
  /** Resolves false when there was no such schedule. */
  removeSchedule(id: string): Promise<boolean>;
  /** Enables or disables; enabling sets `nextRunAt` (computed by the caller from now). Resolves null when there is no such schedule. */
  setScheduleEnabled(id: string, enabled: boolean, nextRunAt: number | null): Promise<ScheduleRecord | null>;
  /**
   * Fires one tick of a schedule, exactly once across every scheduler: it applies only
   * while the schedule is enabled and its `nextRunAt` still equals `tick.expectedNextRunAt`
   * (a compare-and-set on the fire time). In the same transaction it enqueues `jobs`
   * (none, one, or several for catch-up), or with `overlap: 'skip'` enqueues nothing when
   * the schedule's last job is still waiting or running, and moves `nextRunAt` on.
   */
  fireSchedule(tick: ScheduleTick): Promise<FireResult>;

  /**
   * Optional: calls `listener` on changes made through this backend instance, so workers
   * and `waitFor` react at once instead of at their next poll. A backend shared between
   * processes cannot see other processes here; polling covers them.
   */
  subscribe?(listener: (event: BackendEvent) => void): () => void;
}

/** A job to add. Everything is resolved: defaults filled in, durations in ms, JSON checked. */
export interface NewJob {
  id: string;
  name: string;
  queue: string;
  /** JSON text of the payload, checked by `toJsonText`. */
  payload: string;
  metadata: JsonObject;
  priority: number;
  maxAttempts: number;
  backoff: 'none' | BackoffSpec | null;
  timeoutMs: number | null;
  keepCompletedMs: number | null;
  keepFailedMs: number | null;
  key: string | null;
  runAt: number;
  createdAt: number;
}

export interface EnqueueCallOptions {
  /**
   * The caller's own transaction to enqueue in (PostgreSQL: a pg client inside BEGIN): the
   * jobs exist only if it commits. Backends without transactional enqueue reject it.
   */
  tx?: unknown;
}

export interface EnqueueResult {
  id: string;
  /** False when `key` matched an active job; `id` is then that job's. */
  created: boolean;
}

export interface LeaseRequest {
  workerId: string;
  leaseMs: number;
}

/**
 * Which jobs to claim. A job is runnable when it is `queued`, or `scheduled` with
 * `runAt` reached, in an unpaused queue; or `running` with an expired lease (its worker
 * crashed or hung). Order: priority, highest first; then `runAt`; then enqueue order.
 * An expired job is taken over with `crashes + 1` and `recovered: true`; if a cancel
 * was asked for it, it becomes `cancelled` instead of being claimed.
 *
 * A `failed` job whose `failed` hook is pending under an expired lease (its worker died
 * while the hook ran, or before it started) is taken over the same way, ahead of queued
 * jobs: it stays `failed`, with `crashes + 1`, `recovered: true` and a fresh lease, and
 * the worker runs only its hook. `queues` and `names` apply as to any claim.
 */
export interface ClaimRequest extends LeaseRequest {
  /** Queues to claim from. */
  queues: readonly string[];
  /** Only jobs with these names: the ones this worker can run. */
  names: readonly string[];
  limit: number;
}

/** A claimed job. One whose `state` is `failed` (with `failedHook: 'pending'`) is claimed for its `failed` hook only: its handler must not run. */
export interface ClaimedJob extends JobRecord {
  lease: JobLease;
  /** This claim took the job over from an attempt whose lease expired. */
  recovered: boolean;
}

export interface ClaimResult {
  jobs: ClaimedJob[];
  /** When fewer than `limit` were claimed: the earliest `runAt` of a scheduled job in those queues, so the worker can sleep until then. */
  nextRunAt: number | null;
}

export interface SettleResult {
  /**
   * Per settlement, in order: true when it was applied, now or by an earlier write of the
   * same outcome with the same lease; false when it was fenced (the lease was lost) and
   * changed nothing.
   */
  applied: boolean[];
  claimed: ClaimResult | null;
}

export interface LeaseRef {
  id: string;
  token: string;
}

export interface LeaseStatus {
  id: string;
  /** False when this lease no longer holds the job. */
  held: boolean;
  cancelRequested: boolean;
}

/** The outcome of an attempt, as the worker decided it. */
export type Settlement =
  | (LeaseRef & { kind: 'complete'; result: JsonValue; expiresAt: number | null })
  /** Back to `scheduled` until `runAt`. `countAttempt: false` is a snooze or a release that spends nothing. */
  | (LeaseRef & { kind: 'retry'; error: SerializedError | null; runAt: number; countAttempt: boolean })
  /**
   * `failed` for good. With `hookPending` (the job's definition has a `failed` hook) the job
   * is stored with `failedHook: 'pending'` and keeps this lease, renewed by the heartbeat,
   * until a `hook-done` settlement with the same lease.
   */
  | (LeaseRef & { kind: 'fail'; error: SerializedError; countAttempt: boolean; expiresAt: number | null; hookPending: boolean })
  | (LeaseRef & { kind: 'cancel'; error: SerializedError | null; expiresAt: number | null })
  /** The `failed` hook of a job stored `failed` under this lease has run (or was given up): `failedHook` becomes `'done'` and the lease is released. */
  | (LeaseRef & { kind: 'hook-done' });

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
  counts: Record<JobState, number>;
  /** When a job in this queue last reached a terminal state. */
  lastProcessedAt: number | null;
  completedLastMinute: number;
  failedLastMinute: number;
  completedLastHour: number;
  failedLastHour: number;
}

export interface BackendStats {
  /** Totals over every queue. */
  counts: Record<JobState, number>;
  queues: QueueStats[];
  lastProcessedAt: number | null;
  completedLastMinute: number;
  failedLastMinute: number;
  completedLastHour: number;
  failedLastHour: number;
}

export type BackendEvent =
  | { type: 'enqueued'; queue: string; runAt: number }
  | { type: 'cancel-requested'; id: string }
  | { type: 'settled'; id: string; state: JobState }
  | { type: 'resumed'; queue: string }
  /** Another process changed the store; what it changed is unknown, so look again. */
  | { type: 'changed' }
  /** A connection to the store broke outside any call (an idle connection, the notification channel). The backend reconnects by itself; this is for logs. */
  | { type: 'connection-error'; error: unknown };

/** How a schedule's fire times are given. */
export type ScheduleTiming = { kind: 'cron'; expression: string; tz: string | null } | { kind: 'every'; everyMs: number };

/** What is stored for a schedule besides its run times. Compared as JSON to tell whether an upsert changed it. */
export interface ScheduleSpec {
  timing: ScheduleTiming;
  /** The job's name. */
  job: string;
  /** JSON text of the payload. */
  payload: string;
  /** Enqueue options for each run, as JSON-safe data. */
  options: JsonObject;
  /** What to do with ticks missed while no scheduler ran. */
  catchUp: 'skip' | 'once' | 'all';
  /** With `catchUp: 'all'`, the most missed ticks run; older ones are dropped. */
  catchUpLimit: number;
  /** `skip`: a tick is dropped while the previous run is still waiting or running. */
  overlap: 'allow' | 'skip';
}

export interface ScheduleInput {
  id: string;
  spec: ScheduleSpec;
  enabled: boolean | undefined;
  /** The next fire time from now, used for a new or changed schedule. */
  nextRunAt: number | null;
  now: number;
}

export interface ScheduleRecord {
  id: string;
  spec: ScheduleSpec;
  enabled: boolean;
  /** The next tick to fire; null when the expression has no future times. */
  nextRunAt: number | null;
  /** The tick most recently fired. */
  lastRunAt: number | null;
  lastJobId: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface ScheduleTick {
  id: string;
  /** The fire time this scheduler saw as next; the tick applies only if it still is. */
  expectedNextRunAt: number;
  /** The fire time after the ticks being fired. */
  nextRunAt: number | null;
  /** The tick being run (for catch-up, the latest); null when the ticks are only dropped, which keeps `lastRunAt`. */
  firedAt: number | null;
  jobs: readonly NewJob[];
  overlap: 'allow' | 'skip';
}

export type FireResult =
  | { outcome: 'fired'; jobIds: string[] }
  /** The previous run was still waiting or running; the tick was dropped. */
  | { outcome: 'skipped-overlap' }
  /** Another scheduler fired it first, or the schedule changed, was disabled or removed. Nothing was written. */
  | { outcome: 'lost' };
