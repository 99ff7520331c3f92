import type { JobRecord } from '../domain/job-record.ts';
import type { RunMetadata } from '../execution/job-events.ts';

export function toRunMetadata(record: JobRecord): RunMetadata {
  const completedAt = record.finishedAt === null ? null : new Date(record.finishedAt);
  return {
    id: record.id,
    name: record.name,
    status: record.state,
    enqueuedAt: new Date(record.createdAt),
    startedAt: record.startedAt === null ? null : new Date(record.startedAt),
    completedAt,
    durationMs: record.finishedAt !== null && record.startedAt !== null ? record.finishedAt - record.startedAt : null,
    attempts: record.attempts,
    error: record.error === null ? null : { name: record.error.name, message: record.error.message, ...(record.error.code ? { code: record.error.code } : {}) },
  };
}
