import { type Duration, toMs } from './duration.ts';
import { InvalidOptionError, InvalidScheduleError } from './errors.ts';

/** A fixed interval, aligned to the Unix epoch so every scheduler computes the same ticks. */
export interface EveryTiming {
  every: number;
}

/**
 * Every `interval`, on the multiples of it since the epoch (UTC): `every('5m')` fires at
 * :00, :05, :10, … whatever the time zone.
 */
export function every(interval: Duration): EveryTiming {
  const ms = intervalMs(interval);
  if (ms < 1000) throw new InvalidScheduleError('every', interval, 'the shortest interval is 1 second');
  return { every: ms };
}

/** A schedule's `every` in milliseconds; a value that is no duration is an `InvalidScheduleError` on `every`. */
export function intervalMs(interval: Duration): number {
  try {
    return toMs(interval, 'every');
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    const expected = (error.details as { expected?: string }).expected ?? 'a duration';
    throw new InvalidScheduleError('every', interval, `expected ${expected}`, { cause: error });
  }
}

/** Every day at `hour:minute` (in the schedule's `tz`): a 5-field cron expression. */
export function daily(hour: number, minute = 0): string {
  return `${field(minute, 0, 59, 'minute')} ${field(hour, 0, 23, 'hour')} * * *`;
}

const weekdays = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
export type Weekday = (typeof weekdays)[number];

/** Every week on `day` at `hour:minute`. */
export function weekly(day: Weekday, hour: number, minute = 0): string {
  const index = weekdays.indexOf(String(day).toLowerCase() as Weekday);
  if (index < 0) throw new InvalidOptionError('day', day, `one of ${weekdays.join(', ')}`);
  return `${field(minute, 0, 59, 'minute')} ${field(hour, 0, 23, 'hour')} * * ${index}`;
}

/** Every month on day `day` (1–31; months without it are skipped) at `hour:minute`. */
export function monthly(day: number, hour = 0, minute = 0): string {
  return `${field(minute, 0, 59, 'minute')} ${field(hour, 0, 23, 'hour')} ${field(day, 1, 31, 'day')} * *`;
}

function field(value: number, min: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new InvalidOptionError(name, value, `an integer from ${min} to ${max}`);
  return value;
}
