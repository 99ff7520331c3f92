import type { JsonObject } from '../domain/json-value.ts';
import type { NewJob } from './job-queue.ts';

/** The schedules role of the backend contract: stored schedules and firing their ticks exactly once. */
export interface ScheduleStore {
  /**
   * Creates or updates a schedule by id. Idempotent: when the stored schedule has the
   * same `spec`, its run times are kept, so a hundred processes registering the same
   * schedule at start leave one schedule whose ticks move on undisturbed. A changed
   * spec replaces the old one and takes `nextRunAt` from the input. `enabled`
   * undefined keeps the stored value (true for a new schedule).
   */
  upsertSchedule(input: ScheduleInput): Promise<ScheduleRecord>;
  getSchedule(id: string): Promise<ScheduleRecord | null>;
  /** Every schedule, by id. */
  listSchedules(): Promise<ScheduleRecord[]>;
  /** Resolves false when there was no such schedule. */
  removeSchedule(id: string): Promise<boolean>;
  /** Enables or disables; enabling sets `nextRunAt` (computed by the caller from now). Resolves null when there is no such schedule. */
  setScheduleEnabled(id: string, enabled: boolean, nextRunAt: number | null): Promise<ScheduleRecord | null>;
  /**
   * Fires one tick of a schedule, exactly once across every scheduler: it applies only
   * while the schedule is enabled and its `nextRunAt` still equals `tick.expectedNextRunAt`
   * (a compare-and-set on the fire time). In the same transaction it enqueues `jobs`
   * (none, one, or several for catch-up), or with `overlap: 'skip'` enqueues nothing when
   * the schedule's last job is still waiting or running, and moves `nextRunAt` on.
   */
  fireSchedule(tick: ScheduleTick): Promise<FireResult>;
}

/** How a schedule's fire times are given. */
export type ScheduleTiming = { kind: 'cron'; expression: string; tz: string | null } | { kind: 'every'; everyMs: number };

/** What is stored for a schedule besides its run times. Compared as JSON to tell whether an upsert changed it. */
export interface ScheduleSpec {
  timing: ScheduleTiming;
  /** The job's name. */
  job: string;
  /** JSON text of the payload. */
  payload: string;
  /** Enqueue options for each run, as JSON-safe data. */
  options: JsonObject;
  /** What to do with ticks missed while no scheduler ran. */
  catchUp: 'skip' | 'once' | 'all';
  /** With `catchUp: 'all'`, the most missed ticks run; older ones are dropped. */
  catchUpLimit: number;
  /** `skip`: a tick is dropped while the previous run is still waiting or running. */
  overlap: 'allow' | 'skip';
}

export interface ScheduleInput {
  id: string;
  spec: ScheduleSpec;
  enabled: boolean | undefined;
  /** The next fire time from now, used for a new or changed schedule. */
  nextRunAt: number | null;
  now: number;
}

export interface ScheduleRecord {
  id: string;
  spec: ScheduleSpec;
  enabled: boolean;
  /** The next tick to fire; null when the expression has no future times. */
  nextRunAt: number | null;
  /** The tick most recently fired. */
  lastRunAt: number | null;
  lastJobId: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface ScheduleTick {
  id: string;
  /** The fire time this scheduler saw as next; the tick applies only if it still is. */
  expectedNextRunAt: number;
  /** The fire time after the ticks being fired. */
  nextRunAt: number | null;
  /** The tick being run (for catch-up, the latest); null when the ticks are only dropped, which keeps `lastRunAt`. */
  firedAt: number | null;
  jobs: readonly NewJob[];
  overlap: 'allow' | 'skip';
}

export type FireResult =
  | { outcome: 'fired'; jobIds: string[] }
  /** The previous run was still waiting or running; the tick was dropped. */
  | { outcome: 'skipped-overlap' }
  /** Another scheduler fired it first, or the schedule changed, was disabled or removed. Nothing was written. */
  | { outcome: 'lost' };
