/**
 * The life of a job, written down once.
 *
 * ```
 *   enqueue ──► scheduled ──(runAt reached)──► queued ──(claim)──► running
 *                   ▲                                   ▲             │
 *                   │ retry after backoff               │ release     ├──► completed
 *                   │ (attempt spent, or a snooze)      │ (shutdown,  ├──► failed     (attempts spent, or PermanentError)
 *                   └───────────────────────────────────┴─ lease      └──► cancelled
 *                                                        expired: crash)
 * ```
 *
 * `completed`, `failed` and `cancelled` are terminal; only an explicit `retry`
 * (failed or cancelled → queued) leaves them. A job enqueued with no delay starts
 * in `queued`.
 */
export type JobState = 'scheduled' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export const jobStates: readonly JobState[] = ['scheduled', 'queued', 'running', 'completed', 'failed', 'cancelled'];

/** Waiting or running: the states in which a job's `key` is held. */
export const activeStates: readonly JobState[] = ['scheduled', 'queued', 'running'];

export const terminalStates: readonly JobState[] = ['completed', 'failed', 'cancelled'];

export function isTerminal(state: JobState): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

export function isJobState(value: unknown): value is JobState {
  return typeof value === 'string' && (jobStates as readonly string[]).includes(value);
}
