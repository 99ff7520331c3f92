import type { JsonObject } from './json-value.ts';

/** What a running job sees of itself, passed to `run` / `perform` and to the `failed` hook. */
export interface JobContext {
  readonly id: string;
  readonly name: string;
  readonly queue: string;
  /** This attempt's number, from 1. */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly metadata: JsonObject;
  /**
   * Aborts when the job is cancelled, times out, or its worker shuts down or loses
   * the lease. `signal.reason` says which (`JobCancelledError`, `TimeoutError`,
   * `WorkerShutdownError`, `LeaseLostError`). Pass it to fetch and friends.
   */
  readonly signal: AbortSignal;
  /** Records progress (0–100) with an optional message; kept with the job, with its history. */
  progress(percent: number, message?: string): Promise<void>;
  /** Appends a line to the job's log, kept with the job (the newest 200 lines). */
  log(message: string, fields?: JsonObject): Promise<void>;
}
