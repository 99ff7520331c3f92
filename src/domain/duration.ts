import { InvalidOptionError } from './errors.ts';

/** A duration: milliseconds as a number, or a string such as `'500ms'`, `'30s'`, `'5m'`, `'2h'`, `'7d'`. */
export type Duration = number | `${number}${DurationUnit}`;
type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const unitMs: Record<DurationUnit, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The longest duration: 1000 years. Longer is never meant, and `now` plus it must still
 * be a valid Date and fit every store's time columns (a delay of 1e300 ms is not a time).
 */
export const maxDurationMs = 1000 * 365.25 * 86_400_000;

/** Converts a `Duration` to milliseconds; `option` names the setting in the error when it is invalid. */
export function toMs(value: Duration, option: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new InvalidOptionError(option, value, 'a duration of 0 ms or more');
    if (value > maxDurationMs) throw new InvalidOptionError(option, value, 'a duration of at most 1000 years');
    return value;
  }
  const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(value.trim()) : null;
  if (!match) throw new InvalidOptionError(option, value, "milliseconds or a string like '500ms', '30s', '5m', '2h', '7d'");
  const ms = Math.round(Number(match[1]) * unitMs[match[2] as DurationUnit]);
  if (!Number.isFinite(ms) || ms > maxDurationMs) throw new InvalidOptionError(option, value, 'a duration of at most 1000 years');
  return ms;
}
