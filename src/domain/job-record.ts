import type { BackoffSpec } from './backoff.ts';
import type { JobState } from './job-state.ts';
import type { JsonObject, JsonValue } from './json-value.ts';
import type { SerializedError } from './serialized-error.ts';

export interface JobProgress {
  /** 0 to 100. */
  percent: number;
  message: string | null;
  at: number;
}

export interface JobLogEntry {
  at: number;
  attempt: number;
  message: string;
  fields: JsonObject | null;
}

/** Where a failed job's `failed` hook stands (see `JobRecord.failedHook`). */
export type FailedHookState = 'pending' | 'done' | null;

/** How `retry` and `delete` describe a job they refuse because its `failed` hook has not run yet. */
export const hookPendingDescription = 'failed, and its failed hook has not run yet';

/** The lease of the attempt that is running the job, or its `failed` hook. */
export interface JobLease {
  /** Unique per attempt; every write of the attempt must present it. */
  token: string;
  workerId: string;
  /** When the lease lapses unless renewed (ms since epoch). */
  expiresAt: number;
}

/** How a durable step (`ctx.step`, `ctx.sleep`) ended, as last recorded. */
export type StepOutcome = 'completed' | 'failed' | 'sleeping';

/**
 * One named step of a job, as the store keeps it (one record per name, the latest run's).
 * A `completed` step is never run again: a later attempt gets `result` back instead.
 */
export interface StepRecord {
  name: string;
  outcome: StepOutcome;
  /** What the step returned, as JSON; null unless `completed`. */
  result: JsonValue;
  /** Why the step threw, for a `failed` step. */
  error: SerializedError | null;
  /** The attempt that ran it. */
  attempt: number;
  /** When it started (a sleep: when it began to sleep). */
  startedAt: number;
  /** How long it ran; null while a sleep is still sleeping. */
  durationMs: number | null;
  /** For a sleep: when the job resumes. Null for a step. */
  wakeAt: number | null;
}

/**
 * How an attempt that did not complete the job ended. `failed`: its handler threw (retried
 * when the entry has a `retryAt`, for good when not); `timed-out`: the same, for a run that
 * outlasted `timeoutMs`; `crashed`: its worker died or hung, and another worker took the job
 * over once the lease lapsed; `cancelled`: a cancel ended it.
 */
export type AttemptOutcome = 'failed' | 'timed-out' | 'crashed' | 'cancelled';

/**
 * One attempt that ended without completing the job, as `JobRecord.attemptHistory` keeps it.
 * The running attempt and the one that completed the job are described by the record's own
 * fields (`startedAt`, `lease`, `finishedAt`), so a job that succeeds first time keeps none.
 */
export interface AttemptRecord {
  /** The attempt's number: `attempts + 1` when it started (a crash spends no attempt, so the next try has the same number). */
  attempt: number;
  /** The worker that held its lease. */
  workerId: string | null;
  startedAt: number;
  /** When it ended: its outcome's write, or for a crash the moment its lease lapsed. */
  endedAt: number;
  outcome: AttemptOutcome;
  /** What it threw; null for a crash. */
  error: SerializedError | null;
  /** For a failure that was retried: when the next attempt may start (the backoff's end). */
  retryAt: number | null;
}

/** A job as the store holds it. Times are milliseconds since the Unix epoch. */
export interface JobRecord {
  id: string;
  name: string;
  queue: string;
  state: JobState;
  payload: JsonValue;
  metadata: JsonObject;
  priority: number;
  key: string | null;
  /** Attempts that ran to an outcome (success, error or timeout). A crash or a release does not count. */
  attempts: number;
  maxAttempts: number;
  /**
   * Attempts lost because their worker crashed or hung until the lease expired, and `failed`
   * hooks taken over the same way. Counted apart from `attempts`.
   */
  crashes: number;
  /** Backoff given at enqueue, overriding the job definition's. */
  backoff: 'none' | BackoffSpec | null;
  timeoutMs: number | null;
  keepCompletedMs: number | null;
  keepFailedMs: number | null;
  /** When it may run next. */
  runAt: number;
  createdAt: number;
  /** When the latest attempt started. */
  startedAt: number | null;
  /** When it reached a terminal state. */
  finishedAt: number | null;
  result: JsonValue | null;
  /** The latest error (every failed attempt's is in `attemptHistory`). */
  error: SerializedError | null;
  /**
   * The attempts that ended without completing the job (failures, retried or final, timeouts,
   * crashes, cancels), oldest first, the newest `maxAttemptHistory` kept. Kept by every backend.
   */
  attemptHistory: AttemptRecord[];
  /** How many older entries of `attemptHistory` were dropped to keep it within `maxAttemptHistory`. */
  attemptHistoryDropped: number;
  progress: JobProgress | null;
  /** Progress reports, oldest first, the newest `maxProgressHistory` kept. */
  progressHistory: JobProgress[];
  /** Log lines, oldest first, the newest `maxLogEntries` kept. */
  logs: JobLogEntry[];
  lease: JobLease | null;
  /** A cancel was asked for while the job ran; the running attempt is told through its heartbeat. */
  cancelRequested: boolean;
  /**
   * For a `failed` job whose definition has a `failed` hook: `'pending'` from the moment the
   * failure is stored (in the same write) until the hook has run, `'done'` after. A pending
   * hook whose worker died is run by another worker once its lease lapses. Null otherwise.
   */
  failedHook: FailedHookState;
  /** When retention removes the job; null while it is active or when kept forever. */
  expiresAt: number | null;
  /**
   * The job's durable steps (`ctx.step`, `ctx.sleep`), in the order they started. Filled by
   * `get(id)` on a backend with the `durable-steps` capability; absent from listings.
   */
  steps?: StepRecord[];
  /** Where the job stands in a flow (capability `flows`); absent for a job created outside one. */
  flow?: JobFlowPosition;
}

/** A flow job's place in its flow (see contract/flow-store.ts). */
export interface JobFlowPosition {
  flowId: string;
  /** Jobs this one waits for (its dependencies), resolved or not. */
  children: number;
  /** Its dependencies not yet resolved; while above 0 and the job is `scheduled`, it waits for them. */
  pendingChildren: number;
  /** Whether another job of the flow waits for this one. */
  hasParents: boolean;
}

/** Bounds on what a job keeps about itself, so a chatty handler cannot grow a row without limit. */
export const recordLimits = {
  maxLogEntries: 200,
  maxLogMessageChars: 4096,
  maxLogFieldsChars: 4096,
  maxProgressHistory: 100,
  /** Entries of `attemptHistory`; a job retried forever keeps its latest this many. */
  maxAttemptHistory: 50,
  maxPayloadBytes: 1024 * 1024,
  maxResultBytes: 1024 * 1024,
} as const;

/** The outcome of an attempt whose handler threw `error`: a timeout is told apart by its code. */
export function failureOutcome(error: SerializedError | null): 'failed' | 'timed-out' {
  return error?.code === 'TIMEOUT' ? 'timed-out' : 'failed';
}

/** Appends an ended attempt to a job's history, dropping the oldest beyond `maxAttemptHistory`. */
export function appendAttempt(job: Pick<JobRecord, 'attemptHistory' | 'attemptHistoryDropped'>, entry: AttemptRecord): void {
  job.attemptHistory.push(entry);
  const over = job.attemptHistory.length - recordLimits.maxAttemptHistory;
  if (over > 0) {
    job.attemptHistory.splice(0, over);
    job.attemptHistoryDropped += over;
  }
}
