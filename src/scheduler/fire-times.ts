import { Cron, CronPattern } from 'croner';
import type { ScheduleTiming } from '../contract/backend.ts';
import { InvalidScheduleError } from '../domain/errors.ts';

/**
 * The fire times of a schedule: the one place they are computed, so registering, firing,
 * catch-up and `nextRuns()` all agree. croner does the calendar maths (time zones, daylight
 * saving, `L`/`W`/`#`); the scheduler owns the timers and the exactly-once guarantee.
 *
 * Daylight saving follows Vixie cron. A wild job (see `cronerPattern`) runs on the real
 * clock: on both passes through a repeated hour, and not at all for a time that a
 * spring-forward skips. A fixed-time job fires a repeated wall time once, on its first pass,
 * and a skipped one right after the gap.
 */
export class FireTimes {
  private readonly cron: Cron | null;

  constructor(private readonly timing: ScheduleTiming) {
    if (timing.kind === 'every') {
      if (!Number.isSafeInteger(timing.everyMs) || timing.everyMs < 1000) {
        throw new InvalidScheduleError('every', timing.everyMs, 'the shortest interval is 1 second');
      }
      this.cron = null;
      return;
    }
    if (timing.tz !== null) assertTimeZone(timing.tz);
    try {
      this.cron = new Cron(cronerPattern(timing.expression), { paused: true, timezone: timing.tz ?? 'UTC', fixedTimeRule: 'no-wildcard' });
    } catch (error) {
      throw new InvalidScheduleError('cron', timing.expression, (error as Error).message.replace(/^CronPattern: /, ''));
    }
    if (this.cron.nextRun(new Date(0)) === null && this.cron.nextRun() === null) {
      throw new InvalidScheduleError('cron', timing.expression, 'it never fires');
    }
  }

  /** The first fire time strictly after `after` (ms since epoch), or null if there is none. */
  nextAfter(after: number): number | null {
    if (this.timing.kind === 'every') return (Math.floor(after / this.timing.everyMs) + 1) * this.timing.everyMs;
    return this.cron!.nextRun(new Date(after))?.getTime() ?? null;
  }

  /** The next `count` fire times strictly after `after`. */
  next(after: number, count: number): number[] {
    const times: number[] = [];
    let at: number | null = after;
    while (times.length < count && (at = this.nextAfter(at)) !== null) times.push(at);
    return times;
  }
}

/**
 * The pattern croner is given, so that it tells wild jobs from fixed-time ones as Vixie cron
 * does: a job is wild when its seconds, minute or hour field starts with `*` or `?` (croner's
 * alias of `*`; Vixie cron has no seconds field), and `@hourly` is `0 * * * *`. croner's
 * `no-wildcard` rule agrees (its default rule counts every list and range as wild as well),
 * except that a step such as `0-4/2`, or a `*` later in a list, makes a field wild there; so a
 * fixed-time job's time fields are handed over as plain lists of values.
 * Throws croner's error for an invalid expression.
 */
function cronerPattern(expression: string): string {
  const fields = expression.trim().split(/\s+/);
  if (fields.length < 5) return expression; // a nickname, which croner expands
  const timeFields = fields.slice(0, fields.length === 5 ? 2 : 3);
  if (timeFields.some((field) => /^[*?]/.test(field)) || timeFields.every((field) => /^[\d,-]+$/.test(field))) return expression;
  const pattern = new CronPattern(expression);
  const values = (field: number[]) => field.flatMap((on, value) => (on ? [value] : [])).join(',');
  const spelledOut = [values(pattern.second), values(pattern.minute), values(pattern.hour)].slice(3 - timeFields.length);
  return [...spelledOut, ...fields.slice(timeFields.length)].join(' ');
}

/** Throws `InvalidScheduleError` unless `tz` is an IANA time zone this runtime knows. */
export function assertTimeZone(tz: string): void {
  try {
    if (typeof tz !== 'string' || tz === '') throw new RangeError('empty');
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new InvalidScheduleError('tz', tz, "not an IANA time zone such as 'Europe/Berlin' or 'America/New_York'");
  }
}
