import { type BackoffOption, type BackoffSpec, defaultBackoff, validateBackoff } from './backoff.ts';
import { type Duration, toMs } from './duration.ts';
import { InvalidOptionError } from './errors.ts';
import type { JsonObject } from './json-value.ts';

/** Options a job declares, each overridable when it is enqueued. */
export interface JobOptions {
  /** The queue the job goes to; workers choose the queues they serve. @default 'default' */
  queue?: string;
  /** Higher runs first; equal priorities run first in, first out. An integer from -1000 to 1000. @default 0 */
  priority?: number;
  /** Attempts in all, the first included. At least 1. @default 3 */
  maxAttempts?: number;
  /** Delay between attempts. @default { type: 'exponential', delay: 1000, max: '1h', jitter: 0.1 } */
  backoff?: BackoffOption;
  /** Longest an attempt may run; then its signal aborts and it fails with a retryable `TimeoutError`. @default null (no limit) */
  timeout?: Duration | null;
  /** How long a completed job is kept before it is pruned; `null` keeps it forever. @default '1d' */
  keepCompleted?: Duration | null;
  /** How long a failed or cancelled job is kept; `null` keeps it forever. @default '14d' */
  keepFailed?: Duration | null;
}

/** Options that only make sense for one enqueue. */
export interface EnqueueOnlyOptions {
  /** Run no sooner than this long from now. Not with `runAt`. @default 0 */
  delay?: Duration;
  /** Run no sooner than this moment. Not with `delay`. */
  runAt?: Date | number;
  /** Free-form JSON the handler sees as `ctx.metadata` and the job keeps. @default {} */
  metadata?: JsonObject;
  /**
   * While a job of the same name with this key is waiting or running, enqueueing
   * again returns that job instead of adding a second one.
   */
  key?: string;
}

/** Per-enqueue options: every job option (a backoff must be data here, not a function), plus the enqueue-only ones. */
export type EnqueueOptions = Omit<JobOptions, 'backoff'> & { backoff?: 'none' | BackoffSpec } & EnqueueOnlyOptions;

/** The name of every job option: what a job definition and a class's `static options` accept. */
export const jobOptionNames: readonly string[] = Object.keys({
  queue: true,
  priority: true,
  maxAttempts: true,
  backoff: true,
  timeout: true,
  keepCompleted: true,
  keepFailed: true,
} satisfies Record<keyof JobOptions, true>);

/** The name of every option an enqueue accepts (`tx` aside, which is not stored). */
export const enqueueOptionNames: readonly string[] = [
  ...jobOptionNames,
  ...Object.keys({ delay: true, runAt: true, metadata: true, key: true } satisfies Record<keyof EnqueueOnlyOptions, true>),
];

/**
 * The latest moment a job may be set to run: the end of the year 9999. Beyond it a run time
 * is no longer a valid Date on every store, and it is never meant (a delay of 1e300 ms).
 */
export const latestRunAt = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Options with every default filled in and every duration in milliseconds. */
export interface ResolvedJobOptions {
  queue: string;
  priority: number;
  maxAttempts: number;
  backoff: BackoffOption;
  timeoutMs: number | null;
  keepCompletedMs: number | null;
  keepFailedMs: number | null;
}

export const jobOptionDefaults: ResolvedJobOptions = {
  queue: 'default',
  priority: 0,
  maxAttempts: 3,
  backoff: defaultBackoff,
  timeoutMs: null,
  keepCompletedMs: 86_400_000,
  keepFailedMs: 14 * 86_400_000,
};

/** Layers `options` over `base`, validating each given option; `prefix` names where they came from in errors. */
export function resolveJobOptions(base: ResolvedJobOptions, options: JobOptions, prefix = ''): ResolvedJobOptions {
  const out = { ...base };
  if (options.queue !== undefined) {
    if (typeof options.queue !== 'string' || !/^[\w.:-]{1,128}$/.test(options.queue)) {
      throw new InvalidOptionError(`${prefix}queue`, options.queue, 'a name of 1 to 128 letters, digits, _ . : or -');
    }
    out.queue = options.queue;
  }
  if (options.priority !== undefined) {
    // Bounded so every store can fold priority and run time into one sortable number.
    if (!Number.isSafeInteger(options.priority) || Math.abs(options.priority) > 1000) {
      throw new InvalidOptionError(`${prefix}priority`, options.priority, 'an integer from -1000 to 1000');
    }
    out.priority = options.priority;
  }
  if (options.maxAttempts !== undefined) {
    if (!Number.isSafeInteger(options.maxAttempts) || options.maxAttempts < 1) {
      throw new InvalidOptionError(`${prefix}maxAttempts`, options.maxAttempts, 'an integer of 1 or more');
    }
    out.maxAttempts = options.maxAttempts;
  }
  if (options.backoff !== undefined) {
    validateBackoff(options.backoff, `${prefix}backoff`);
    out.backoff = options.backoff;
  }
  if (options.timeout !== undefined) out.timeoutMs = optionalMs(options.timeout, `${prefix}timeout`, true);
  if (options.keepCompleted !== undefined) out.keepCompletedMs = optionalMs(options.keepCompleted, `${prefix}keepCompleted`);
  if (options.keepFailed !== undefined) out.keepFailedMs = optionalMs(options.keepFailed, `${prefix}keepFailed`);
  return out;
}

function optionalMs(value: Duration | null, option: string, positive = false): number | null {
  if (value === null) return null;
  const ms = toMs(value, option);
  if (positive && ms <= 0) throw new InvalidOptionError(option, value, 'a duration above 0');
  return ms;
}
