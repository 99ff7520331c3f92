import type { FlowChild } from '../contract/flow-store.ts';
import type { AnyJob, JobResult } from './define-job.ts';
import type { Duration } from './duration.ts';
import type { JsonObject, JsonValue } from './json-value.ts';

/** A child of a flow job as `ctx.children()` reads it; `result` typed as its job returns it when read by definition. */
export type JobChild<TResult = JsonValue> = Omit<FlowChild, 'result'> & {
  /** What it returned, when `completed`; null otherwise. */
  result: TResult | null;
};

/** `ctx.childrenSummary()`: how a job's children ended, what a batch callback reports. */
export interface ChildrenSummary {
  total: number;
  completed: number;
  failed: number;
  /** Cancelled, or deleted before the parent read them. */
  cancelled: number;
  /** The ids of the children that failed. */
  failedIds: string[];
}

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
  /**
   * Runs `run` as the durable step `name` and stores what it returns (as JSON) with the job,
   * fenced by this attempt's lease, before returning it. When the job runs again (a retry, a
   * crashed worker's job taken over), a step that completed before returns its stored result
   * without running. Each step's start, duration, outcome and error are kept (`get(id).steps`).
   * A name may be used once per run; `DuplicateStepError` names one used twice. Throws
   * `LeaseLostError` when the attempt lost its lease. Needs capability `durable-steps`.
   * @example
   * const order = await ctx.step('validate', () => validate(payload));
   * await ctx.step('charge', () => charge(order));
   */
  step<T>(name: string, run: () => T | Promise<T>): Promise<Awaited<T>>;
  /**
   * Ends this attempt and resumes the job after `duration`, without holding a worker slot or
   * spending an attempt; the steps completed so far are kept. The job runs again from the top,
   * its completed steps skipped, and this sleep then returns. The promise never settles in
   * the attempt that starts the sleep.
   */
  sleep(name: string, duration: Duration): Promise<void>;
  /**
   * The jobs this one waited for in its flow (`client.flow`, `chain`, `batch`), in the order
   * they were given, with their state, result and error; empty outside a flow. Given a job
   * definition, only the children of that job, their `result` typed as it returns it. Throws
   * `CapabilityUnsupportedError` on a backend without `flows`.
   * @example
   * const pages = await ctx.children(fetchPage); // JobChild<{ html: string }>[]
   */
  children(): Promise<JobChild[]>;
  children<J extends AnyJob>(job: J): Promise<Array<JobChild<JobResult<J>>>>;
  /** Counts of how this job's children ended, and the ids of those that failed (a batch callback's report). */
  childrenSummary(): Promise<ChildrenSummary>;
}
