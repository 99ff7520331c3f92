import type { NewJob, ScheduleRecord } from '../../contract/backend.ts';
import type { AttemptRecord, JobLogEntry, JobProgress, JobRecord } from '../../domain/job-record.ts';
import type { JobState } from '../../domain/job-state.ts';

/** A field that holds a number, or null when absent or empty. */
function numberField(fields: Record<string, string>, name: string): number | null {
  const value = fields[name];
  return value === undefined || value === '' ? null : Number(value);
}

/** A field that holds JSON, or null when absent. */
function jsonField<T>(fields: Record<string, string>, name: string): T | null {
  const value = fields[name];
  return value === undefined ? null : (JSON.parse(value) as T);
}

/** A job hash as HGETALL returns it (absent field = null), with its progress, log and attempt-history lists. */
export function fieldsToRecord(
  fields: Record<string, string>,
  progress: readonly string[],
  logs: readonly string[],
  attempts: readonly string[],
): JobRecord {
  const record: JobRecord = {
    id: fields.id!,
    name: fields.name!,
    queue: fields.queue!,
    state: fields.state as JobState,
    payload: JSON.parse(fields.payload!),
    metadata: JSON.parse(fields.metadata ?? '{}'),
    priority: Number(fields.priority),
    key: fields.key ?? null,
    attempts: Number(fields.attempts),
    maxAttempts: Number(fields.maxAttempts),
    crashes: Number(fields.crashes),
    backoff: jsonField(fields, 'backoff'),
    timeoutMs: numberField(fields, 'timeoutMs'),
    keepCompletedMs: numberField(fields, 'keepCompletedMs'),
    keepFailedMs: numberField(fields, 'keepFailedMs'),
    runAt: Number(fields.runAt),
    createdAt: Number(fields.createdAt),
    startedAt: numberField(fields, 'startedAt'),
    finishedAt: numberField(fields, 'finishedAt'),
    result: jsonField(fields, 'result'),
    error: jsonField(fields, 'error'),
    attemptHistory: attempts.map((entry) => JSON.parse(entry) as AttemptRecord),
    attemptHistoryDropped: numberField(fields, 'attemptsDropped') ?? 0,
    progress: jsonField<JobProgress>(fields, 'progress'),
    progressHistory: progress.map((entry) => JSON.parse(entry) as JobProgress),
    logs: logs.map((entry) => JSON.parse(entry) as JobLogEntry),
    lease:
      fields.leaseToken === undefined
        ? null
        : { token: fields.leaseToken, workerId: fields.leaseWorker ?? '', expiresAt: Number(fields.leaseExpiresAt) },
    cancelRequested: fields.cancelRequested === '1',
    expiresAt: numberField(fields, 'expiresAt'),
    failedHook: (fields.failedHook as JobRecord['failedHook'] | undefined) ?? null,
  };
  // Only a flow job has flowId (lua/lib.lua, "Flows"); the others carry no `flow` at all.
  if (fields.flowId !== undefined) {
    record.flow = {
      flowId: fields.flowId,
      children: Number(fields.children ?? 0),
      pendingChildren: Number(fields.pendingChildren ?? 0),
      hasParents: fields.hasParents === '1',
    };
  }
  return record;
}

export function pairsToMap(object: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(object));
}

/** A hash as a flat [field, value, …] list, as a Lua script returns HGETALL, made an object. */
export function flatToFields(flat: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields;
}

/** A schedule hash as a flat [field, value, …] list. */
export function scheduleFromFields(flat: readonly string[]): ScheduleRecord {
  const fields = flatToFields(flat);
  const number = (name: string) => (fields[name] === undefined ? null : Number(fields[name]));
  return {
    id: fields.id!,
    spec: JSON.parse(fields.spec!),
    enabled: fields.enabled === '1',
    nextRunAt: number('nextRunAt'),
    lastRunAt: number('lastRunAt'),
    lastJobId: fields.lastJobId ?? null,
    createdAt: number('createdAt') ?? 0,
    updatedAt: number('updatedAt') ?? 0,
  };
}

/** A job's 14 fields as the scripts read them: strings, '' for none. */
function jobFields(job: NewJob): string[] {
  return [
    job.id,
    job.name,
    job.queue,
    job.payload,
    JSON.stringify(job.metadata),
    String(job.priority),
    job.key ?? '',
    String(job.maxAttempts),
    job.backoff === null ? '' : JSON.stringify(job.backoff),
    job.timeoutMs === null ? '' : String(job.timeoutMs),
    job.keepCompletedMs === null ? '' : String(job.keepCompletedMs),
    job.keepFailedMs === null ? '' : String(job.keepFailedMs),
    String(job.runAt),
    String(job.createdAt),
  ];
}

/** Jobs' fields as one JSON list of strings, which the scripts decode (see `enqueueJobs` in `lua/lib.lua`). */
export function packedFields(jobs: readonly NewJob[]): string {
  return JSON.stringify(jobs.flatMap(jobFields));
}
