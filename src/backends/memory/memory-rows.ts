import type { NewJob } from '../../contract/backend.ts';
import type { BackoffSpec } from '../../domain/backoff.ts';
import { type AttemptRecord, type FailedHookState, type JobLease, type JobLogEntry, type JobProgress, type JobRecord, appendAttempt } from '../../domain/job-record.ts';
import type { JobState } from '../../domain/job-state.ts';
import type { JsonObject, JsonValue } from '../../domain/json-value.ts';
import type { SerializedError } from '../../domain/serialized-error.ts';
import { type FlowNode, MemoryFlows } from './memory-flows.ts';

/** The metadata of every job enqueued without any: one frozen object, shared, never handed out. */
const noMetadata: JsonObject = Object.freeze({});
/** The empty lists every new job starts with, shared: a job gets lists of its own on its first entry. */
const noAttempts: readonly AttemptRecord[] = Object.freeze([]);
const noProgress: readonly JobProgress[] = Object.freeze([]);
const noLogs: readonly JobLogEntry[] = Object.freeze([]);

/**
 * A job as the memory backend holds it: the fields of the record every caller sees, plus
 * what only the store needs. Callers never get this object itself, only a copy (`jobRecord`),
 * so that nothing they do to a record changes the store behind the contract's back.
 *
 * Kept small, because a backlog of a million queued jobs is a million of these that every
 * full garbage collection marks while the worker runs (bench/where-the-time-goes.md, "memory
 * backend at scale"): a class, so every job has the same fixed shape; the payload kept as the
 * JSON text it arrived as (a string is one object the collector does not look into), parsed
 * only when a record is handed out; and the empty metadata and lists shared until a job gets
 * some of its own. The lists are read-only here: a write replaces them (`appendAttempt`).
 */
export class StoredJob {
  state: JobState;
  attempts = 0;
  crashes = 0;
  startedAt: number | null = null;
  finishedAt: number | null = null;
  result: JsonValue | null = null;
  error: SerializedError | null = null;
  attemptHistory: readonly AttemptRecord[] = noAttempts;
  attemptHistoryDropped = 0;
  progress: JobProgress | null = null;
  progressHistory: readonly JobProgress[] = noProgress;
  logs: readonly JobLogEntry[] = noLogs;
  lease: JobLease | null = null;
  cancelRequested = false;
  expiresAt: number | null = null;
  failedHook: FailedHookState = null;
  /** The lease token of the attempt whose outcome the job holds, so that outcome written again is recognised. */
  settledToken: string | null = null;
  /** Set only on a job created in a flow (memory-flows.ts); the one test its hot paths pay. */
  flowNode: FlowNode | undefined = undefined;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly queue: string,
    state: JobState,
    /** The payload's JSON text, as `NewJob` carries it. */
    readonly payloadText: string,
    readonly metadata: JsonObject,
    readonly priority: number,
    readonly key: string | null,
    readonly maxAttempts: number,
    readonly backoff: 'none' | BackoffSpec | null,
    readonly timeoutMs: number | null,
    readonly keepCompletedMs: number | null,
    readonly keepFailedMs: number | null,
    public runAt: number,
    readonly createdAt: number,
    /** Enqueue order, the last tie-break of claim order. */
    readonly seq: number,
  ) {
    this.state = state;
  }
}

/** A new job as stored: copied from what the caller handed in, `scheduled` if it is not due yet. */
export function storedJob(job: NewJob, now: number, seq: number): StoredJob {
  return new StoredJob(
    job.id,
    job.name,
    job.queue,
    job.runAt > now ? 'scheduled' : 'queued',
    job.payload,
    hasKeys(job.metadata) ? structuredClone(job.metadata) : noMetadata,
    job.priority,
    job.key,
    job.maxAttempts,
    job.backoff === null || job.backoff === 'none' ? job.backoff : structuredClone(job.backoff),
    job.timeoutMs,
    job.keepCompletedMs,
    job.keepFailedMs,
    job.runAt,
    job.createdAt,
    seq,
  );
}

/** Adds an ended attempt to the job's history, on a list of the job's own (the empty one is shared). */
export function appendStoredAttempt(job: StoredJob, entry: AttemptRecord): void {
  const history = { attemptHistory: [...job.attemptHistory], attemptHistoryDropped: job.attemptHistoryDropped };
  appendAttempt(history, entry);
  job.attemptHistory = history.attemptHistory;
  job.attemptHistoryDropped = history.attemptHistoryDropped;
}

/**
 * The record a caller gets: a deep copy, without the store's own fields, its keys in the
 * order of `JobRecord`. Built field by field rather than with `structuredClone` of the whole
 * job: every claim makes one, and most of a fresh job's fields are null or empty.
 */
export function jobRecord(job: StoredJob): JobRecord {
  const record: JobRecord = {
    id: job.id,
    name: job.name,
    queue: job.queue,
    state: job.state,
    payload: JSON.parse(job.payloadText) as JsonValue,
    metadata: job.metadata === noMetadata ? {} : structuredClone(job.metadata),
    priority: job.priority,
    key: job.key,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    crashes: job.crashes,
    backoff: job.backoff === null || job.backoff === 'none' ? job.backoff : structuredClone(job.backoff),
    timeoutMs: job.timeoutMs,
    keepCompletedMs: job.keepCompletedMs,
    keepFailedMs: job.keepFailedMs,
    runAt: job.runAt,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    result: job.result === null ? null : structuredClone(job.result),
    error: job.error === null ? null : structuredClone(job.error),
    attemptHistory: job.attemptHistory.length === 0 ? [] : structuredClone(job.attemptHistory as AttemptRecord[]),
    attemptHistoryDropped: job.attemptHistoryDropped,
    progress: job.progress === null ? null : structuredClone(job.progress),
    progressHistory: job.progressHistory.length === 0 ? [] : structuredClone(job.progressHistory as JobProgress[]),
    logs: job.logs.length === 0 ? [] : structuredClone(job.logs as JobLogEntry[]),
    lease: job.lease === null ? null : { ...job.lease },
    cancelRequested: job.cancelRequested,
    expiresAt: job.expiresAt,
    failedHook: job.failedHook,
  };
  if (job.flowNode) record.flow = MemoryFlows.position(job.flowNode);
  return record;
}

/** A job's entry in the key index: a key is unique per job name. */
export function keyOf(name: string, key: string): string {
  return `${name}\u0000${key}`;
}

function hasKeys(object: JsonObject): boolean {
  for (const _ in object) return true;
  return false;
}
