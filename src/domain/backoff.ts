import { type Duration, toMs } from './duration.ts';
import { InvalidOptionError } from './errors.ts';

/**
 * How long to wait before attempt `n + 1` after attempt `n` failed.
 * - `none`: retry at once.
 * - `fixed`: `delay` every time.
 * - `linear`: `delay × n`.
 * - `exponential`: `delay × 2^(n−1)`.
 * Each is capped at `max`, then `jitter` (0 to 1) takes off up to that fraction at random,
 * so that jobs that failed together do not retry together.
 */
export type BackoffSpec =
  | { type: 'none' }
  | {
      type: 'fixed' | 'linear' | 'exponential';
      /** Base delay. */
      delay: Duration;
      /** Cap on any one delay. @default '1h' */
      max?: Duration;
      /** Fraction of the delay taken off at random, 0 to 1. @default 0 */
      jitter?: number;
    };

/** A backoff computed by the job itself: return the delay in milliseconds. */
export type BackoffFunction = (attempt: number, error: unknown) => number;

export type BackoffOption = 'none' | BackoffSpec | BackoffFunction;

/** The default backoff: 1 s, 2 s, 4 s, … up to 1 h, with 10% jitter. */
export const defaultBackoff: BackoffSpec = { type: 'exponential', delay: 1000, max: '1h', jitter: 0.1 };

/** Checks a backoff option up front, so a bad one fails at definition or enqueue, not at the first retry. */
export function validateBackoff(option: BackoffOption, name = 'backoff'): void {
  if (option === 'none' || typeof option === 'function') return;
  if (typeof option !== 'object' || option === null) throw new InvalidOptionError(name, option, "'none', a backoff object or a function");
  if (option.type === 'none') return;
  if (!['fixed', 'linear', 'exponential'].includes(option.type)) {
    throw new InvalidOptionError(`${name}.type`, (option as { type: unknown }).type, "'none', 'fixed', 'linear' or 'exponential'");
  }
  toMs(option.delay, `${name}.delay`);
  if (option.max !== undefined) toMs(option.max, `${name}.max`);
  if (option.jitter !== undefined && !(option.jitter >= 0 && option.jitter <= 1)) {
    throw new InvalidOptionError(`${name}.jitter`, option.jitter, 'a number from 0 to 1');
  }
}

/**
 * The delay in milliseconds after failed attempt `attempt` (1-based).
 * `random` returns a number in [0, 1); tests pass a fixed one.
 */
export function backoffDelay(option: BackoffOption, attempt: number, error: unknown, random: () => number = Math.random): number {
  if (option === 'none') return 0;
  if (typeof option === 'function') {
    const ms = option(attempt, error);
    if (!Number.isFinite(ms) || ms < 0) throw new InvalidOptionError('backoff()', ms, 'a delay of 0 ms or more');
    return ms;
  }
  if (option.type === 'none') return 0;
  const base = toMs(option.delay, 'backoff.delay');
  const max = toMs(option.max ?? '1h', 'backoff.max');
  // A zero base stays zero: 0 × 2^1100 would be 0 × Infinity, NaN.
  const raw = base === 0 ? 0 : option.type === 'fixed' ? base : option.type === 'linear' ? base * attempt : base * 2 ** (attempt - 1);
  const capped = Math.min(raw, max);
  const jitter = option.jitter ?? 0;
  return Math.round(capped - capped * jitter * random());
}
