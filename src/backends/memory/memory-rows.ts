import type { NewJob } from '../../contract/backend.ts';
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
  const { seq: _seq, settledToken: _settledToken, flowNode, ...record } = job;
  const copy = structuredClone(record);
  if (flowNode) copy.flow = MemoryFlows.position(flowNode);
  return copy;
}

/** A job's entry in the key index: a key is unique per job name. */
export function keyOf(name: string, key: string): string {
  return `${name}\u0000${key}`;
}
