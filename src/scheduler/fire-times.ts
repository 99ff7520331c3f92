import { Cron } from 'croner';
import type { ScheduleTiming } from '../contract/backend.ts';
import { InvalidScheduleError } from '../domain/errors.ts';

/**
 * The fire times of a schedule. croner does the calendar maths (time zones, daylight
 * saving, `L`/`W`/`#`); the scheduler owns the timers and the exactly-once guarantee.
 * Daylight saving follows croner (Vixie cron's rule): a time skipped when clocks spring
 * forward fires right after the gap, and a time repeated when they fall back fires once.
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
      this.cron = new Cron(timing.expression, { paused: true, ...(timing.tz === null ? { timezone: 'UTC' } : { timezone: timing.tz }) });
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

/** Throws `InvalidScheduleError` unless `tz` is an IANA time zone this runtime knows. */
export function assertTimeZone(tz: string): void {
  try {
    if (typeof tz !== 'string' || tz === '') throw new RangeError('empty');
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new InvalidScheduleError('tz', tz, "not an IANA time zone such as 'Europe/Berlin' or 'America/New_York'");
  }
}
