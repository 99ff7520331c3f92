import type { JobRecord } from '../index.ts';

const iso = (at: number | null): string | null => (at === null ? null : new Date(at).toISOString());

/** A job as `--json` prints it: the stored record, with every moment in ISO 8601. */
export function jobToJson(job: JobRecord): Record<string, unknown> {
  return {
    ...job,
    runAt: iso(job.runAt),
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
