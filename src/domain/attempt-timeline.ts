import type { AttemptRecord, JobRecord } from './job-record.ts';

/**
 * The attempt a job's own fields describe, beside the ended ones of `attemptHistory`: the one
 * running now, the one that completed it, or one that gave the job back without spending an
 * attempt (a release, a sleep in a step).
 */
export interface CurrentAttempt {
  attempt: number;
  /** The worker holding the lease; null once it is released (the store keeps no other record of it). */
  workerId: string | null;
  startedAt: number;
  /** Null while it runs or for a release (the store keeps when it started, not when it let go). */
  endedAt: number | null;
  outcome: 'running' | 'completed' | 'released';
}

/** Every attempt the store knows of, oldest first: the ended ones, then the row's own if any. */
export function jobAttempts(job: JobRecord): Array<AttemptRecord | CurrentAttempt> {
  const current = currentAttempt(job);
  return current === null ? [...job.attemptHistory] : [...job.attemptHistory, current];
}

function currentAttempt(job: JobRecord): CurrentAttempt | null {
  if (job.startedAt === null) return null;
  if (job.state === 'running') return { attempt: job.attempts + 1, workerId: job.lease?.workerId ?? null, startedAt: job.startedAt, endedAt: null, outcome: 'running' };
  if (job.state === 'completed') return { attempt: job.attempts, workerId: null, startedAt: job.startedAt, endedAt: job.finishedAt, outcome: 'completed' };
  // Waiting again after an attempt that is not in the history (newer than its last entry): a release.
  const last = job.attemptHistory.at(-1);
  const released = (job.state === 'scheduled' || job.state === 'queued') && (last === undefined || last.startedAt < job.startedAt);
  if (released) return { attempt: job.attempts + 1, workerId: null, startedAt: job.startedAt, endedAt: null, outcome: 'released' };
  return null;
}

/** One moment of a job's life, as `jobTimeline` lists them. */
export type JobEvent =
  | { at: number; kind: 'enqueued' }
  | { at: number; kind: 'started'; attempt: AttemptRecord | CurrentAttempt }
  | { at: number; kind: 'ended'; attempt: AttemptRecord }
  /** The retry after `attempt` became due, `backoffMs` after it ended. */
  | { at: number; kind: 'retry-due'; attempt: AttemptRecord; backoffMs: number }
  | { at: number; kind: 'finished'; state: JobRecord['state'] };

/**
 * The job's life, oldest first: enqueued, each attempt's start and end (with its worker and
 * outcome), each retry with its backoff, and the end. Events at the same moment keep that order.
 */
export function jobTimeline(job: JobRecord): JobEvent[] {
  const events: JobEvent[] = [{ at: job.createdAt, kind: 'enqueued' }];
  for (const attempt of jobAttempts(job)) {
    events.push({ at: attempt.startedAt, kind: 'started', attempt });
    if (!isEndedAttempt(attempt)) continue;
    events.push({ at: attempt.endedAt, kind: 'ended', attempt });
    if (attempt.retryAt !== null) events.push({ at: attempt.retryAt, kind: 'retry-due', attempt, backoffMs: Math.max(0, attempt.retryAt - attempt.endedAt) });
  }
  if (job.finishedAt !== null) events.push({ at: job.finishedAt, kind: 'finished', state: job.state });
  // A stable sort: at equal times, the order they were added in (a start before its failure).
  return events.sort((a, b) => a.at - b.at);
}

/** An attempt from `attemptHistory`, as opposed to the row's own. */
export function isEndedAttempt(attempt: AttemptRecord | CurrentAttempt): attempt is AttemptRecord {
  return 'error' in attempt;
}

/** An attempt's first error line, `Name: message`, or null when it threw nothing (a crash). */
export function attemptErrorLine(attempt: AttemptRecord | CurrentAttempt): string | null {
  if (!isEndedAttempt(attempt) || attempt.error === null) return null;
  return `${attempt.error.name}: ${attempt.error.message.split('\n')[0]}`;
}

/**
 * The job's latest error when its attempt history does not hold it (a row written before the
 * store kept a history), so that a view showing the history still shows it; null otherwise.
 */
export function errorOutsideHistory(job: JobRecord): JobRecord['error'] {
  const { error } = job;
  if (error === null) return null;
  return job.attemptHistory.some((attempt) => attempt.error?.at === error.at && attempt.error.attempt === error.attempt) ? null : error;
}
