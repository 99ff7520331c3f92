import type { ClaimedJob } from '../contract/backend.ts';
import type { JobProgress, JobRecord } from '../domain/job-record.ts';
import type { JsonValue } from '../domain/json-value.ts';

/**
 * Events a worker emits, as `noun:verb` names with one object each. Listeners that
 * throw are reported as `worker:error` and never break the worker. An event's object is
 * built only when something listens to it: a worker that listens to none pays nothing per job.
 */
export interface WorkerEvents {
  /** An attempt started. */
  'job:started': [{ job: ClaimedJob }];
  'job:progress': [{ job: ClaimedJob; progress: JobProgress }];
  'job:completed': [{ job: ClaimedJob; result: JsonValue; durationMs: number }];
  /** The job failed for good: attempts spent, `PermanentError`, or too many crashes. */
  'job:failed': [{ job: ClaimedJob; error: unknown; durationMs: number }];
  /** An attempt failed and the job will run again at `runAt`. */
  'job:retrying': [{ job: ClaimedJob; error: unknown; runAt: number; durationMs: number }];
  'job:cancelled': [{ job: ClaimedJob }];
  /** A job was taken over after its previous attempt's lease expired (that worker crashed or hung). */
  'job:stalled': [{ job: ClaimedJob }];
  /** Something went wrong outside a handler: a backend call, a heartbeat, a hook, a listener. The worker carries on. */
  'worker:error': [{ error: unknown; during: string; jobId?: string }];
}

/** The record of one run, as `job.now()` and `job.batch()` resolve with. */
export interface RunMetadata {
  id: string;
  name: string;
  status: JobRecord['state'];
  enqueuedAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  durationMs: number | null;
  attempts: number;
  error: { name: string; message: string; code?: string } | null;
}
