import type { ClaimedJob, NewJob } from '../../contract/backend.ts';
import type { JobRecord } from '../../domain/job-record.ts';
import type { JsonValue } from '../../domain/json-value.ts';
import { type FlowNode, MemoryFlows } from './memory-flows.ts';

/**
 * A job as the memory backend holds it: the record every caller sees, plus what only the
 * store needs. Callers never get this object itself, only a copy (`jobRecord`), so that
 * nothing they do to a record changes the store behind the contract's back.
 */
export interface StoredJob extends JobRecord {
  /** Enqueue order, the last tie-break of claim order. */
  seq: number;
  /** The lease token of the attempt whose outcome the job holds, so that outcome written again is recognised. */
  settledToken: string | null;
  /** Set only on a job created in a flow (memory-flows.ts); the one test its hot paths pay. */
  flowNode?: FlowNode;
}

/** A new job as stored: copied from what the caller handed in, `scheduled` if it is not due yet. */
export function storedJob(job: NewJob, now: number, seq: number): StoredJob {
  return {
    id: job.id,
    name: job.name,
    queue: job.queue,
    state: job.runAt > now ? 'scheduled' : 'queued',
    payload: JSON.parse(job.payload) as JsonValue,
    metadata: structuredClone(job.metadata),
    priority: job.priority,
    key: job.key,
    attempts: 0,
    maxAttempts: job.maxAttempts,
    crashes: 0,
    backoff: job.backoff,
    timeoutMs: job.timeoutMs,
    keepCompletedMs: job.keepCompletedMs,
    keepFailedMs: job.keepFailedMs,
    runAt: job.runAt,
    createdAt: job.createdAt,
    startedAt: null,
    finishedAt: null,
    result: null,
    error: null,
    attemptHistory: [],
    attemptHistoryDropped: 0,
    progress: null,
    progressHistory: [],
    logs: [],
    lease: null,
    cancelRequested: false,
    expiresAt: null,
    failedHook: null,
    seq,
    settledToken: null,
  };
}

/** The record a caller gets: a deep copy, without the store's own fields. */
export function jobRecord(job: StoredJob): JobRecord {
  const copy = {} as Record<string, unknown>;
  // Field by field, so a field the record gains later is copied too; the store's own are left out.
  for (const field in job) {
    if (field === 'seq' || field === 'settledToken' || field === 'flowNode') continue;
    copy[field] = copyValue((job as unknown as Record<string, unknown>)[field]);
  }
  const record = copy as unknown as JobRecord;
  if (job.flowNode) record.flow = MemoryFlows.position(job.flowNode);
  return record;
}

/** A job as a claim hands it to a worker: its record, with the lease it holds now. */
export function claimedJob(job: StoredJob, recovered: boolean): ClaimedJob {
  const claimed = jobRecord(job) as ClaimedJob;
  claimed.recovered = recovered;
  return claimed;
}

/**
 * A deep copy of a stored value, as `structuredClone` makes it. Records hold plain data
 * (JSON values, arrays and objects of them): those are copied here, which for the small
 * values of a job costs a fraction of a `structuredClone` call (that call per claimed job was
 * 15–20% of a memory-backend worker's CPU; bench/where-the-time-goes.md, issue #21).
 * Anything else (a `Date` a handler returned, say) still goes through `structuredClone`.
 */
function copyValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = copyValue(value[i]);
    return copy;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return structuredClone(value);
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const field = copyValue((value as Record<string, unknown>)[key]);
    // JSON.parse makes "__proto__" an own key; assigned, it would set the copy's prototype instead.
    if (key === '__proto__') Object.defineProperty(copy, key, { value: field, enumerable: true, writable: true, configurable: true });
    else copy[key] = field;
  }
  return copy;
}

/** A job's entry in the key index: a key is unique per job name. */
export function keyOf(name: string, key: string): string {
  return `${name}\u0000${key}`;
}
