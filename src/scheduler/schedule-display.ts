import type { ScheduleRecord } from '../contract/backend.ts';

/** The zone a schedule's times are read in: its cron `tz`, or UTC (intervals are absolute; cron defaults to UTC). */
export function scheduleZone(schedule: ScheduleRecord): string {
  return schedule.spec.timing.kind === 'cron' ? (schedule.spec.timing.tz ?? 'UTC') : 'UTC';
}

/** `every 15 s`, `every 5 min`, `0 2 * * * (Europe/Berlin)`: for the CLI's tables and the dashboard. */
export function timingText(schedule: ScheduleRecord): string {
  const { timing } = schedule.spec;
  if (timing.kind === 'every') return `every ${timing.everyMs % 60_000 === 0 ? `${timing.everyMs / 60_000} min` : `${timing.everyMs / 1000} s`}`;
  return `${timing.expression} (${timing.tz ?? 'UTC'})`;
}
