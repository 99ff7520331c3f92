import type { ClaimedJob, ScheduleRecord } from '../../contract/backend.ts';
import { asClaimedJob } from '../../contract/job-queue.ts';
import { type RunCondition, waitingForChildrenRunAt } from '../../contract/flow-store.ts';
import type { JobRecord } from '../../domain/job-record.ts';
import type { JobState } from '../../domain/job-state.ts';
import type { JsonObject, JsonValue } from '../../domain/json-value.ts';

/** A row of `jobs` as pg returns it: jsonb parsed, bigint read as number (see `int8AsNumber`). */
export interface PgJobRow {
  seq: number;
  id: string;
  name: string;
  queue: string;
  state: JobState;
  payload: JsonValue;
  metadata: JsonObject;
  priority: number;
  key: string | null;
  attempts: number;
  max_attempts: number;
  crashes: number;
  backoff: JobRecord['backoff'];
  timeout_ms: number | null;
  keep_completed_ms: number | null;
  keep_failed_ms: number | null;
  run_at: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  result: JsonValue | null;
  error: JobRecord['error'];
  progress: JobRecord['progress'];
  progress_history: JobRecord['progressHistory'];
  logs: JobRecord['logs'];
  lease_token: string | null;
  lease_worker: string | null;
  lease_expires_at: number | null;
  lease_recovered: boolean;
  cancel_requested: boolean;
  expires_at: number | null;
  failed_hook: JobRecord['failedHook'];
  settled_token: string | null;
  /** Null until an attempt ends without completing (see migration 9). */
  attempt_history: JobRecord['attemptHistory'] | null;
  attempt_history_dropped: number;
  /** Null outside a flow (migration 10); the four below keep their defaults there. */
  flow_id: string | null;
  run_if: RunCondition | null;
  has_parents: boolean;
  total_children: number;
  pending_children: number;
}

export function pgRowToRecord(row: PgJobRow): JobRecord {
  const record: JobRecord = {
    id: row.id,
    name: row.name,
    queue: row.queue,
    state: row.state,
    payload: row.payload,
    metadata: row.metadata,
    priority: row.priority,
    key: row.key,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    crashes: row.crashes,
    backoff: row.backoff,
    timeoutMs: row.timeout_ms,
    keepCompletedMs: row.keep_completed_ms,
    keepFailedMs: row.keep_failed_ms,
    runAt: row.run_at,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    result: row.result,
    error: row.error,
    attemptHistory: row.attempt_history ?? [],
    attemptHistoryDropped: row.attempt_history_dropped,
    progress: row.progress,
    progressHistory: row.progress_history,
    logs: row.logs,
    lease:
      row.lease_token === null ? null : { token: row.lease_token, workerId: row.lease_worker ?? '', expiresAt: row.lease_expires_at ?? 0 },
    cancelRequested: row.cancel_requested,
    expiresAt: row.expires_at,
    failedHook: row.failed_hook,
  };
  // A flow job's `flow`; outside a flow, none: absent rather than undefined, so such a record
  // equals one that never had it. Set after the literal: spreading it in made every record
  // (flow or not) a copy through the generic spread path.
  if (row.flow_id != null) {
    record.flow = { flowId: row.flow_id, children: row.total_children, pendingChildren: row.pending_children, hasParents: row.has_parents };
  }
  return record;
}

/** Whether a job is a parent still waiting for its children (contract/flow-store.ts). */
export function isWaitingParent(row: Pick<PgJobRow, 'state' | 'run_at' | 'total_children'>): boolean {
  return row.state === 'scheduled' && row.run_at === waitingForChildrenRunAt && row.total_children > 0;
}

/**
 * The columns of a claimed job as settle_and_claim() sends them (migration 12): a JSON array
 * of values in this order, not an object (building objects cost the server about 20 µs a
 * job). test/postgres/claimed-columns.test.ts holds this list and the migration's together.
 */
export const claimedColumns = [
  'seq', 'id', 'name', 'queue', 'state', 'payload', 'metadata', 'priority', 'key', 'attempts',
  'max_attempts', 'crashes', 'backoff', 'timeout_ms', 'keep_completed_ms', 'keep_failed_ms',
  'run_at', 'created_at', 'started_at', 'finished_at', 'result', 'error', 'progress',
  'progress_history', 'logs', 'lease_token', 'lease_worker', 'lease_expires_at',
  'lease_recovered', 'cancel_requested', 'expires_at', 'failed_hook', 'settled_token',
  'attempt_history', 'attempt_history_dropped', 'flow_id', 'run_if', 'has_parents',
  'total_children', 'pending_children',
] as const satisfies ReadonlyArray<keyof PgJobRow>;

/**
 * A claimed job's row from its array of values (see `claimedColumns`). Written out as one
 * object literal, so every row has the same shape from the start: a row built key by key from
 * the list became a dictionary of 40 keys, slower to read for every field after.
 */
export function pgRowFromClaimedValues(values: readonly unknown[]): PgJobRow {
  const v = values as unknown as PgClaimedValues;
  return {
    seq: v[0], id: v[1], name: v[2], queue: v[3], state: v[4], payload: v[5], metadata: v[6],
    priority: v[7], key: v[8], attempts: v[9], max_attempts: v[10], crashes: v[11], backoff: v[12],
    timeout_ms: v[13], keep_completed_ms: v[14], keep_failed_ms: v[15], run_at: v[16],
    created_at: v[17], started_at: v[18], finished_at: v[19], result: v[20], error: v[21],
    progress: v[22], progress_history: v[23], logs: v[24], lease_token: v[25], lease_worker: v[26],
    lease_expires_at: v[27], lease_recovered: v[28], cancel_requested: v[29], expires_at: v[30],
    failed_hook: v[31], settled_token: v[32], attempt_history: v[33],
    attempt_history_dropped: v[34], flow_id: v[35], run_if: v[36], has_parents: v[37],
    total_children: v[38], pending_children: v[39],
  };
}

/** `claimedColumns`' values, typed by position. */
type PgClaimedValues = { [Index in keyof typeof claimedColumns & `${number}`]: PgJobRow[(typeof claimedColumns)[Index]] };

/** A claimed row as the job it hands a worker (its lease token is never null). */
export function pgRowToClaimed(row: PgJobRow): ClaimedJob {
  return asClaimedJob(pgRowToRecord(row), row.lease_recovered);
}

/** Claim order, for rows a set-returning UPDATE hands back unordered: recoveries first, then priority, run time, enqueue order. */
export function claimOrder(a: PgJobRow, b: PgJobRow): number {
  if (a.lease_recovered !== b.lease_recovered) return a.lease_recovered ? -1 : 1;
  return b.priority - a.priority || a.run_at - b.run_at || a.seq - b.seq;
}

export interface PgScheduleRow {
  id: string;
  spec: ScheduleRecord['spec'];
  enabled: boolean;
  next_run_at: number | null;
  last_run_at: number | null;
  last_job_id: string | null;
  created_at: number;
  updated_at: number;
}

export function pgRowToSchedule(row: PgScheduleRow): ScheduleRecord {
  return {
    id: row.id,
    spec: row.spec,
    enabled: row.enabled,
    nextRunAt: row.next_run_at,
    lastRunAt: row.last_run_at,
    lastJobId: row.last_job_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
