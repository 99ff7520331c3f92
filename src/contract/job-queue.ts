import type { BackoffSpec } from '../domain/backoff.ts';
import type { JobLease, JobLogEntry, JobProgress, JobRecord } from '../domain/job-record.ts';
import type { JsonObject, JsonValue } from '../domain/json-value.ts';
import type { SerializedError } from '../domain/serialized-error.ts';
import type { PresenceRenewal } from './worker-registry.ts';

/**
 * The queue role of the backend contract: what producers and workers do to jobs. Adding,
 * claiming under a lease, settling outcomes, and the writes an attempt makes while it
 * holds its lease (renewals, progress, logs), each fenced by the lease token.
 */
export interface JobQueue {
  /**
   * Adds jobs, all or nothing. A job whose `key` is held by an active job of the same name
   * is not added; its result names the existing job with `created: false`.
   *
   * A call that fails with a transient `StoreError` may be sent again with the same jobs
   * (the client does, `enqueueRetries`). Outside `tx`, a store apart whose first call
   * committed though its reply was lost must answer the second as the first: every job found
   * under its id with the same name and creation time is `created: true`, a keyed job that
   * left no row names the key's holder again, and nothing is stored twice; any other taken id
   * fails the call and writes nothing. An embedded store (SQLite, memory) writes nothing in a
   * call that fails.
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
   * whether a cancel was asked for. With `presence` (only on a backend with `live-workers`),
   * the worker's registration is written in the same call, as `registerWorker` would: the
   * heartbeat keeps a worker listed at no extra round trip. Empty `leases` with `presence`
   * only registers.
   */
  renewLeases(leases: readonly LeaseRef[], leaseMs: number, presence?: PresenceRenewal): Promise<LeaseStatus[]>;
  /** Records progress for the attempt holding `lease`. Throws `LeaseLostError` when it no longer does. */
  recordProgress(lease: LeaseRef, progress: JobProgress): Promise<void>;
  /** Appends a log line for the attempt holding `lease`. Throws `LeaseLostError` when it no longer does. */
  appendLog(lease: LeaseRef, entry: JobLogEntry): Promise<void>;
}

/** A job to add. Everything is resolved: defaults filled in, durations in ms, JSON checked. */
export interface NewJob {
  id: string;
  name: string;
  queue: string;
  /** JSON text of the payload, checked by `toJsonText`. */
  payload: string;
  /** May be one object shared by several jobs of a call: a store copies or writes it out, never changes it. */
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
  /**
   * The same jobs were sent before, and that call failed with a transient error: it may have
   * been written though its reply was lost (see `enqueue`). A store that keeps finished jobs
   * where the id's uniqueness does not reach (PostgreSQL's `finished_jobs`) looks for the ids
   * first; the others may ignore it.
   */
  resent?: boolean;
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

/**
 * Jobs to add with an outcome (the definition's `onSuccess` / `onFailure`), in the same
 * atomic write: they exist if and only if the outcome was written by this settlement. An
 * outcome found already written (a lost reply, written again) adds none a second time.
 */
export interface FollowUps {
  followUps?: readonly NewJob[];
}

/**
 * A job's freshly read record as the claimed job a worker gets: the same object with
 * `recovered` added. The record was just built for this claim, so it is not copied: a spread
 * copy of its 30-odd fields was one object more a job for the collector, about a quarter of
 * a worker's busy time at concurrency 50 (bench/where-the-time-goes.md, issue #21). Its lease
 * must be set (a claim always leases).
 */
export function asClaimedJob(record: JobRecord, recovered: boolean): ClaimedJob {
  const claimed = record as ClaimedJob;
  claimed.recovered = recovered;
  return claimed;
}

/** The settings of a new job that are plain values: what a store may keep or write once for a run of alike jobs. */
type ScalarSettings = Pick<NewJob, 'name' | 'queue' | 'priority' | 'maxAttempts' | 'timeoutMs' | 'keepCompletedMs' | 'keepFailedMs' | 'createdAt'>;

/** Whether two jobs have the same `ScalarSettings` (their backoff, metadata, key, run time and payload aside). */
export function sameScalarSettings(a: ScalarSettings, b: ScalarSettings): boolean {
  return (
    a.name === b.name &&
    a.queue === b.queue &&
    a.priority === b.priority &&
    a.maxAttempts === b.maxAttempts &&
    a.timeoutMs === b.timeoutMs &&
    a.keepCompletedMs === b.keepCompletedMs &&
    a.keepFailedMs === b.keepFailedMs &&
    a.createdAt === b.createdAt
  );
}

/**
 * Whether two jobs store the same settings: every column but their id, payload and run time
 * (`sameScalarSettings`, and backoff and metadata as the same JSON). A store writes such a run
 * of keyless jobs with one statement whose shared columns are bound once (issue #21).
 */
export function sameStoredSettings(a: NewJob, b: NewJob): boolean {
  return sameScalarSettings(a, b) && sameJson(a.backoff, b.backoff) && sameJson(a.metadata, b.metadata);
}

/** Whether two JSON values write the same text; two empty objects (the usual metadata) without writing either. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (isEmptyObject(a) && isEmptyObject(b)) return true;
  return JSON.stringify(a) === JSON.stringify(b);
}

function isEmptyObject(value: object): boolean {
  for (const _ in value) return false;
  return !Array.isArray(value);
}

/** The follow-up jobs a settlement carries; none for the kinds that carry none. */
export function followUpsOf(settlement: Settlement): readonly NewJob[] {
  return (settlement.kind === 'complete' || settlement.kind === 'fail') && settlement.followUps ? settlement.followUps : [];
}

/** The outcome of an attempt, as the worker decided it. */
export type Settlement =
  | (LeaseRef & FollowUps & { kind: 'complete'; result: JsonValue; expiresAt: number | null })
  /** Back to `scheduled` until `runAt`. `countAttempt: false` is a snooze or a release that spends nothing. */
  | (LeaseRef & { kind: 'retry'; error: SerializedError | null; runAt: number; countAttempt: boolean })
  /**
   * `failed` for good. With `hookPending` (the job's definition has a `failed` hook) the job
   * is stored with `failedHook: 'pending'` and keeps this lease, renewed by the heartbeat,
   * until a `hook-done` settlement with the same lease.
   */
  | (LeaseRef & FollowUps & { kind: 'fail'; error: SerializedError; countAttempt: boolean; expiresAt: number | null; hookPending: boolean })
  | (LeaseRef & { kind: 'cancel'; error: SerializedError | null; expiresAt: number | null })
  /** The `failed` hook of a job stored `failed` under this lease has run (or was given up): `failedHook` becomes `'done'` and the lease is released. */
  | (LeaseRef & { kind: 'hook-done' });
