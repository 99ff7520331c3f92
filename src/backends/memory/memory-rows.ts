import type { NewJob } from '../../contract/backend.ts';
import { sameScalarSettings } from '../../contract/job-queue.ts';
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
 * only when a record is handed out; the options and times jobs enqueued together share
 * (`JobSettings`) held once; and what attempts write (`JobTrail`) made on the first such write, so a job that
 * never ran has none. Those fields read through accessors, so the rest of the backend reads
 * and writes `job.attempts` as on a plain record. The empty metadata and lists are shared,
 * and the lists are read-only here: a write replaces them (`appendStoredAttempt`).
 */
export class StoredJob {
  state: JobState;
  /** Set only on a job created in a flow (memory-flows.ts); the one test its hot paths pay. */
  flowNode: FlowNode | undefined = undefined;
  private trail: JobTrail | null = null;
  /** Its `runAt` once that is no longer the one it was enqueued with (in `settings`). */
  private ownRunAt: number | null = null;

  constructor(
    readonly id: string,
    private readonly settings: JobSettings,
    state: JobState,
    /** The payload's JSON text, as `NewJob` carries it. */
    readonly payloadText: string,
    readonly metadata: JsonObject,
    readonly key: string | null,
    /** Enqueue order, the last tie-break of claim order. */
    readonly seq: number,
  ) {
    this.state = state;
  }

  get runAt(): number {
    return this.ownRunAt ?? this.settings.runAt;
  }
  set runAt(value: number) {
    this.ownRunAt = value;
  }
  get createdAt(): number {
    return this.settings.createdAt;
  }
  get name(): string {
    return this.settings.name;
  }
  get queue(): string {
    return this.settings.queue;
  }
  get priority(): number {
    return this.settings.priority;
  }
  get maxAttempts(): number {
    return this.settings.maxAttempts;
  }
  get backoff(): 'none' | BackoffSpec | null {
    return this.settings.backoff;
  }
  get timeoutMs(): number | null {
    return this.settings.timeoutMs;
  }
  get keepCompletedMs(): number | null {
    return this.settings.keepCompletedMs;
  }
  get keepFailedMs(): number | null {
    return this.settings.keepFailedMs;
  }

  get attempts(): number {
    return this.trail === null ? 0 : this.trail.attempts;
  }
  set attempts(value: number) {
    this.ownTrail().attempts = value;
  }
  get crashes(): number {
    return this.trail === null ? 0 : this.trail.crashes;
  }
  set crashes(value: number) {
    this.ownTrail().crashes = value;
  }
  get startedAt(): number | null {
    return this.trail === null ? null : this.trail.startedAt;
  }
  set startedAt(value: number | null) {
    this.ownTrail().startedAt = value;
  }
  get finishedAt(): number | null {
    return this.trail === null ? null : this.trail.finishedAt;
  }
  set finishedAt(value: number | null) {
    this.ownTrail().finishedAt = value;
  }
  get result(): JsonValue | null {
    return this.trail === null ? null : this.trail.result;
  }
  set result(value: JsonValue | null) {
    this.ownTrail().result = value;
  }
  get error(): SerializedError | null {
    return this.trail === null ? null : this.trail.error;
  }
  set error(value: SerializedError | null) {
    this.ownTrail().error = value;
  }
  get attemptHistory(): readonly AttemptRecord[] {
    return this.trail === null ? noAttempts : this.trail.attemptHistory;
  }
  set attemptHistory(value: readonly AttemptRecord[]) {
    this.ownTrail().attemptHistory = value;
  }
  get attemptHistoryDropped(): number {
    return this.trail === null ? 0 : this.trail.attemptHistoryDropped;
  }
  set attemptHistoryDropped(value: number) {
    this.ownTrail().attemptHistoryDropped = value;
  }
  get progress(): JobProgress | null {
    return this.trail === null ? null : this.trail.progress;
  }
  set progress(value: JobProgress | null) {
    this.ownTrail().progress = value;
  }
  get progressHistory(): readonly JobProgress[] {
    return this.trail === null ? noProgress : this.trail.progressHistory;
  }
  set progressHistory(value: readonly JobProgress[]) {
    this.ownTrail().progressHistory = value;
  }
  get logs(): readonly JobLogEntry[] {
    return this.trail === null ? noLogs : this.trail.logs;
  }
  set logs(value: readonly JobLogEntry[]) {
    this.ownTrail().logs = value;
  }
  get lease(): JobLease | null {
    return this.trail === null ? null : this.trail.lease;
  }
  set lease(value: JobLease | null) {
    this.ownTrail().lease = value;
  }
  get cancelRequested(): boolean {
    return this.trail === null ? false : this.trail.cancelRequested;
  }
  set cancelRequested(value: boolean) {
    this.ownTrail().cancelRequested = value;
  }
  get expiresAt(): number | null {
    return this.trail === null ? null : this.trail.expiresAt;
  }
  set expiresAt(value: number | null) {
    this.ownTrail().expiresAt = value;
  }
  get failedHook(): FailedHookState {
    return this.trail === null ? null : this.trail.failedHook;
  }
  set failedHook(value: FailedHookState) {
    this.ownTrail().failedHook = value;
  }
  /** The lease token of the attempt whose outcome the job holds, so that outcome written again is recognised. */
  get settledToken(): string | null {
    return this.trail === null ? null : this.trail.settledToken;
  }
  set settledToken(value: string | null) {
    this.ownTrail().settledToken = value;
  }

  private ownTrail(): JobTrail {
    return (this.trail ??= new JobTrail());
  }
}

/**
 * What jobs enqueued together the same way share: their options and the enqueue's times, one
 * frozen object for all of them. Holding the times here spares each queued job two numbers
 * of its own, which V8 keeps as two more objects per job.
 */
interface JobSettings {
  readonly runAt: number;
  readonly createdAt: number;
  readonly name: string;
  readonly queue: string;
  readonly priority: number;
  readonly maxAttempts: number;
  readonly backoff: 'none' | BackoffSpec | null;
  readonly timeoutMs: number | null;
  readonly keepCompletedMs: number | null;
  readonly keepFailedMs: number | null;
}

/** What a job's attempts write, apart from its state and `runAt`: made on the first such write. */
class JobTrail {
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
  settledToken: string | null = null;
}

/**
 * The settings of the job stored last, handed on to the next job whose options and times are
 * the same (a bulk enqueue of one definition: one `now` per call), so a backlog shares one per call. Settings never change
 * once made, so sharing them across backends is safe. A job with a backoff object of its own
 * gets settings of its own: backoffs are not compared.
 */
let lastSettings: JobSettings | null = null;

function settingsOf(job: NewJob): JobSettings {
  const last = lastSettings;
  const plainBackoff = job.backoff === null || job.backoff === 'none';
  if (
    last !== null &&
    plainBackoff &&
    last.backoff === job.backoff &&
    last.runAt === job.runAt &&
    sameScalarSettings(last, job)
  ) {
    return last;
  }
  const settings: JobSettings = Object.freeze({
    runAt: job.runAt,
    createdAt: job.createdAt,
    name: job.name,
    queue: job.queue,
    priority: job.priority,
    maxAttempts: job.maxAttempts,
    backoff: plainBackoff ? job.backoff : structuredClone(job.backoff),
    timeoutMs: job.timeoutMs,
    keepCompletedMs: job.keepCompletedMs,
    keepFailedMs: job.keepFailedMs,
  });
  if (plainBackoff) lastSettings = settings;
  return settings;
}

/** A new job as stored: copied from what the caller handed in, `scheduled` if it is not due yet. */
export function storedJob(job: NewJob, now: number, seq: number): StoredJob {
  return new StoredJob(
    job.id,
    settingsOf(job),
    job.runAt > now ? 'scheduled' : 'queued',
    job.payload,
    hasKeys(job.metadata) ? structuredClone(job.metadata) : noMetadata,
    job.key,
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
