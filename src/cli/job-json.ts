import { displayedRunAt } from '../domain/flow-waiting.ts';
import type { FlowChild, JobRecord } from '../index.ts';

const iso = (at: number | null): string | null => (at === null ? null : new Date(at).toISOString());

/**
 * A job as `--json` prints it: the stored record, with every moment in ISO 8601. A parent
 * waiting for its children has `runAt: null` (it is due at no time; `flow` says what it waits for).
 */
export function jobToJson(job: JobRecord): Record<string, unknown> {
  return {
    ...job,
    runAt: iso(displayedRunAt(job)),
    createdAt: iso(job.createdAt),
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    expiresAt: iso(job.expiresAt),
    error: job.error === null ? null : { ...job.error, at: iso(job.error.at) },
    attemptHistory: job.attemptHistory.map((attempt) => ({
      ...attempt,
      startedAt: iso(attempt.startedAt),
      endedAt: iso(attempt.endedAt),
      retryAt: iso(attempt.retryAt),
      error: attempt.error === null ? null : { ...attempt.error, at: iso(attempt.error.at) },
    })),
    progress: job.progress === null ? null : { ...job.progress, at: iso(job.progress.at) },
    progressHistory: job.progressHistory.map((entry) => ({ ...entry, at: iso(entry.at) })),
    logs: job.logs.map((entry) => ({ ...entry, at: iso(entry.at) })),
    lease: job.lease === null ? null : { ...job.lease, expiresAt: iso(job.lease.expiresAt) },
  };
}

/** A child of a flow job as `status --json` prints it. */
export function childToJson(child: FlowChild): Record<string, unknown> {
  return {
    ...child,
    finishedAt: iso(child.finishedAt),
    error: child.error === null ? null : { ...child.error, at: iso(child.error.at) },
  };
}

