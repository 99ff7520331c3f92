import type { ClaimedJob, ScheduleRecord } from '../../contract/backend.ts';
import { asClaimedJob } from '../../contract/job-queue.ts';
import type { JobRecord } from '../../domain/job-record.ts';
import type { JobState } from '../../domain/job-state.ts';

/** A row of `jobsmith_jobs` as better-sqlite3 returns it. */
export interface JobRow {
  id: string;
  name: string;
  queue: string;
  state: JobState;
  payload: string;
  metadata: string;
  priority: number;
  key: string | null;
  attempts: number;
  max_attempts: number;
  crashes: number;
  backoff: string | null;
  timeout_ms: number | null;
  keep_completed_ms: number | null;
  keep_failed_ms: number | null;
  run_at: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  result: string | null;
  error: string | null;
  progress: string | null;
  progress_history: string;
  logs: string;
  lease_token: string | null;
  lease_worker: string | null;
  lease_expires_at: number | null;
  cancel_requested: number;
  expires_at: number | null;
  failed_hook: 'pending' | 'done' | null;
  settled_token: string | null;
  /** JSON; null until an attempt ends without completing (see migration 6). */
  attempt_history: string | null;
  attempt_history_dropped: number;
  /** Capability flows (migration 7): null and zeros on a job outside a flow. */
  flow_id: string | null;
  has_parents: number;
  total_children: number;
  pending_children: number;
  run_if: 'always' | 'any-child-failed' | null;
}

function parse<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export function rowToRecord(row: JobRow): JobRecord {
  const record: JobRecord = {
    id: row.id,
    name: row.name,
    queue: row.queue,
    state: row.state,
    payload: JSON.parse(row.payload),
    metadata: JSON.parse(row.metadata),
    priority: row.priority,
    key: row.key,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    crashes: row.crashes,
    backoff: parse(row.backoff),
    timeoutMs: row.timeout_ms,
    keepCompletedMs: row.keep_completed_ms,
    keepFailedMs: row.keep_failed_ms,
    runAt: row.run_at,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    result: parse(row.result),
    error: parse(row.error),
    attemptHistory: parse(row.attempt_history) ?? [],
    attemptHistoryDropped: row.attempt_history_dropped,
    progress: parse(row.progress),
    progressHistory: JSON.parse(row.progress_history),
    logs: JSON.parse(row.logs),
    lease:
      row.lease_token === null
        ? null
        : { token: row.lease_token, workerId: row.lease_worker ?? '', expiresAt: row.lease_expires_at ?? 0 },
    cancelRequested: row.cancel_requested === 1,
    expiresAt: row.expires_at,
    failedHook: row.failed_hook,
  };
  // Absent, not undefined, on a job outside a flow: its record is as it was before flows.
  if (row.flow_id !== null) {
    record.flow = { flowId: row.flow_id, children: row.total_children, pendingChildren: row.pending_children, hasParents: row.has_parents === 1 };
  }
  return record;
}

/** A claimed row as the job it hands a worker (its lease token is never null). */
export function rowToClaimed(row: JobRow, recovered: boolean): ClaimedJob {
  return asClaimedJob(rowToRecord(row), recovered);
}

export interface ScheduleRow {
  id: string;
  spec: string;
  enabled: number;
  next_run_at: number | null;
  last_run_at: number | null;
  last_job_id: string | null;
  created_at: number;
  updated_at: number;
}

export function rowToSchedule(row: ScheduleRow): ScheduleRecord {
  return {
    id: row.id,
    spec: JSON.parse(row.spec),
    enabled: row.enabled === 1,
    nextRunAt: row.next_run_at,
    lastRunAt: row.last_run_at,
    lastJobId: row.last_job_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
