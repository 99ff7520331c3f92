import type { Backend, NewJob, ScheduleRecord, ScheduleSpec, ScheduleTiming } from '../contract/backend.ts';
import { prepareJob } from '../execution/prepare-job.ts';
import { type Clock, systemClock } from '../domain/clock.ts';
import type { AnyJob, JobDefinition, JobInput } from '../domain/define-job.ts';
import { type Duration, toMs } from '../domain/duration.ts';
import { InvalidOptionError, InvalidScheduleError, ScheduleNotFoundError } from '../domain/errors.ts';
import type { EnqueueOptions } from '../domain/job-options.ts';
import type { JsonObject, JsonValue } from '../domain/json-value.ts';
import { assertKnownOptions } from '../domain/known-options.ts';
import { type Logger, silentLogger } from '../domain/logger.ts';
import { type EveryTiming, intervalMs } from '../domain/schedule-helpers.ts';
import { JobRegistry } from '../execution/job-registry.ts';
import { holdProcessOpen } from '../execution/process-hold.ts';
import { type BackendResolver, instancesOnly, LazyBackend } from '../contract/backend-resolver.ts';
import { SafeEmitter } from '../execution/safe-emitter.ts';
import { FireTimes } from './fire-times.ts';

/** A schedule to register. Give exactly one of `cron` and `every`. */
export interface ScheduleOptions<J extends AnyJob | string = AnyJob | string> {
  /** Unique; registering the same id again updates that schedule (an idempotent upsert). */
  id: string;
  /** 5-field cron, 6-field cron with seconds, a nickname (`@hourly`, `@daily`, `@weekly`, `@monthly`), or `daily()` / `weekly()` / `monthly()`. */
  cron?: string;
  /** A fixed interval aligned to the epoch: `'5m'`, `every('5m')`. */
  every?: Duration | EveryTiming;
  /** IANA time zone the cron expression is read in. @default 'UTC' */
  tz?: string;
  /** The job to enqueue, by definition or by registered name. */
  job: J;
  payload: J extends AnyJob ? JobInput<J> : unknown;
  /** Enqueue options for each run (not `delay` or `runAt`). */
  options?: Omit<EnqueueOptions, 'delay' | 'runAt'>;
  /** @default true for a new schedule; unchanged for an existing one when left out */
  enabled?: boolean;
  /**
   * Ticks missed while no scheduler ran:
   * `skip` drops them (a tick fired within `catchUpGrace` of its time is not missed);
   * `once` runs one job for all of them; `all` runs one per tick, the newest `catchUpLimit`.
   * @default 'skip'
   */
  catchUp?: 'skip' | 'once' | 'all';
  /** @default 100 */
  catchUpLimit?: number;
  /** `skip`: drop a tick while the previous run is still waiting or running. @default 'allow' */
  overlap?: 'allow' | 'skip';
}

export interface SchedulerOptions {
  /** A backend, or a connection string. @default 'sqlite:./jobsmith.db' */
  backend?: Backend | string;
  /** Jobs schedules may name. A scheduler fires only schedules whose job it knows. */
  jobs?: readonly AnyJob[];
  /** How often to look for schedules changed by other processes. @default '1s' */
  pollInterval?: Duration;
  /** How late a tick may fire and still count as on time rather than missed. @default '1m' */
  catchUpGrace?: Duration;
  clock?: Clock;
  logger?: Logger;
}

export interface SchedulerEvents {
  /** A tick was enqueued. `jobIds` has one id, or several for `catchUp: 'all'`. */
  'schedule:fired': [{ schedule: ScheduleRecord; tick: number; jobIds: string[]; missed: number }];
  /** Ticks were dropped: missed while no scheduler ran, or the previous run was still active. */
  'schedule:skipped': [{ schedule: ScheduleRecord; tick: number; reason: 'missed' | 'overlap'; count: number }];
  'scheduler:error': [{ error: unknown; during: string; scheduleId?: string }];
}

/** Most ticks examined in one catch-up; beyond it the schedule jumps to the next tick after now. */
const maxTicksScanned = 10_000;

const schedulerOptionNames = Object.keys({
  backend: true,
  jobs: true,
  pollInterval: true,
  catchUpGrace: true,
  clock: true,
  logger: true,
} satisfies Record<keyof SchedulerOptions, true>);

const scheduleOptionNames = Object.keys({
  id: true,
  cron: true,
  every: true,
  tz: true,
  job: true,
  payload: true,
  options: true,
  enabled: true,
  catchUp: true,
  catchUpLimit: true,
  overlap: true,
} satisfies Record<keyof ScheduleOptions, true>);

/**
 * Registers recurring jobs and fires each tick exactly once across any number of
 * scheduler processes. Schedules and their run times live in the backend; each tick is
 * claimed by a compare-and-set on the schedule's next fire time, in the same transaction
 * that enqueues its job, so two schedulers can never both fire it and a clock that jumps
 * backward cannot fire it again.
 */
export class Scheduler extends SafeEmitter<SchedulerEvents> implements AsyncDisposable {
  private readonly registry: JobRegistry;
  private readonly clock: Clock;
  private readonly pollMs: number;
  private readonly graceMs: number;
  private readonly lazy: LazyBackend;
  private running = false;
  private loopDone: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private closed = false;
  private releaseProcess: (() => void) | null = null;

  /** `resolveBackend` opens what `options.backend` names; `createScheduler()` gives one that opens connection strings. */
  constructor(options: SchedulerOptions = {}, resolveBackend: BackendResolver = instancesOnly) {
    super('scheduler:error', options.logger ?? silentLogger);
    assertKnownOptions(options, schedulerOptionNames, 'createScheduler options');
    this.registry = new JobRegistry(options.jobs ?? []);
    this.clock = options.clock ?? systemClock;
    this.pollMs = toMs(options.pollInterval ?? '1s', 'pollInterval');
    this.graceMs = toMs(options.catchUpGrace ?? '1m', 'catchUpGrace');
    this.lazy = new LazyBackend(options.backend, this.clock, resolveBackend);
  }

  /** Registers or updates a schedule. Everything is checked first; on any error nothing is stored. */
  async schedule<J extends AnyJob | string>(input: ScheduleOptions<J>): Promise<ScheduleRecord> {
    const backend = await this.backend();
    if (typeof input !== 'object' || input === null) throw new InvalidOptionError('schedule', input, 'an object');
    assertKnownOptions(input, scheduleOptionNames, 'the schedule options');
    if (typeof input.id !== 'string' || !/^[\w.:/-]{1,200}$/.test(input.id)) {
      throw new InvalidOptionError('id', input.id, 'a schedule id of 1 to 200 letters, digits, _ . : / or -');
    }
    const definition = typeof input.job === 'string' ? this.registry.get(input.job) : this.registry.add(input.job as AnyJob);
    const timing = toTiming(input);
    const fireTimes = new FireTimes(timing);
    const options = (input.options ?? {}) as EnqueueOptions;
    if ('delay' in options || 'runAt' in options) throw new InvalidOptionError('options', options, 'no delay or runAt: the schedule sets the time');
    // Checks payload and options exactly as an enqueue would, so a bad schedule fails now, not at its first tick.
    const probe = await prepareJob(definition, input.payload, options, backend.now());
    const catchUpLimit = input.catchUpLimit ?? 100;
    if (!Number.isSafeInteger(catchUpLimit) || catchUpLimit < 1) throw new InvalidOptionError('catchUpLimit', input.catchUpLimit, 'an integer of 1 or more');
    const catchUp = oneOf('catchUp', input.catchUp ?? 'skip', ['skip', 'once', 'all'] as const);
    const overlap = oneOf('overlap', input.overlap ?? 'allow', ['allow', 'skip'] as const);
    if (input.enabled !== undefined && typeof input.enabled !== 'boolean') throw new InvalidOptionError('enabled', input.enabled, 'true or false');
    const spec: ScheduleSpec = {
      timing,
      job: definition.name,
      payload: probe.payload,
      options: JSON.parse(JSON.stringify(options)) as JsonObject,
      catchUp,
      catchUpLimit,
      overlap,
    };
    const now = backend.now();
    const record = await backend.upsertSchedule({ id: input.id, spec, enabled: input.enabled, nextRunAt: fireTimes.nextAfter(now), now });
    this.wake();
    return record;
  }

  async get(id: string): Promise<ScheduleRecord> {
    const record = await (await this.backend()).getSchedule(id);
    if (!record) throw new ScheduleNotFoundError(id);
    return record;
  }

  async list(): Promise<ScheduleRecord[]> {
    return (await this.backend()).listSchedules();
  }

  /** Turns a schedule on; its next tick is the first after now (ticks while it was off are not caught up). */
  async enable(id: string): Promise<ScheduleRecord> {
    const backend = await this.backend();
    const current = await this.get(id);
    const record = await backend.setScheduleEnabled(id, true, new FireTimes(current.spec.timing).nextAfter(backend.now()));
    if (!record) throw new ScheduleNotFoundError(id);
    this.wake();
    return record;
  }

  async disable(id: string): Promise<ScheduleRecord> {
    const record = await (await this.backend()).setScheduleEnabled(id, false, null);
    if (!record) throw new ScheduleNotFoundError(id);
    return record;
  }

  /** Removes a schedule; jobs it already enqueued are left alone. */
  async remove(id: string): Promise<boolean> {
    return (await this.backend()).removeSchedule(id);
  }

  /** The next `count` fire times, as Dates. */
  async nextRuns(id: string, count = 5): Promise<Date[]> {
    const record = await this.get(id);
    const fireTimes = new FireTimes(record.spec.timing);
    const now = (await this.backend()).now();
    const first = record.enabled && record.nextRunAt !== null && record.nextRunAt > now ? record.nextRunAt : fireTimes.nextAfter(now);
    if (first === null) return [];
    return [first, ...fireTimes.next(first, count - 1)].slice(0, count).map((at) => new Date(at));
  }

  /** Enqueues the schedule's job now, outside its timetable. Resolves with the job id. */
  async runNow(id: string): Promise<string> {
    const backend = await this.backend();
    const record = await this.get(id);
    const definition = this.registry.get(record.spec.job);
    const job = await this.jobFor(definition, record, backend.now(), { scheduleId: id, manual: true });
    const [result] = await backend.enqueue([job]);
    return result!.id;
  }

  /** Starts firing due ticks. */
  async start(): Promise<void> {
    await this.backend();
    if (this.running) return;
    this.running = true;
    // A started scheduler holds the process open until stopped, as a worker does.
    this.releaseProcess = holdProcessOpen();
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loopDone;
    this.loopDone = null;
    this.releaseProcess?.();
    this.releaseProcess = null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.stop();
    this.closed = true;
    await this.lazy.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Fires every due tick once, now. The loop calls it; tests may too. */
  async fireDue(): Promise<void> {
    const backend = await this.backend();
    const now = backend.now();
    for (const schedule of await backend.listSchedules()) {
      if (!schedule.enabled || schedule.nextRunAt === null || schedule.nextRunAt > now) continue;
      if (!this.registry.names().includes(schedule.spec.job)) continue; // another scheduler that knows the job will fire it
      try {
        await this.fire(backend, schedule, now);
      } catch (error) {
        this.reportError(error, 'fire', schedule.id);
      }
    }
  }

  private async fire(backend: Backend, schedule: ScheduleRecord, now: number): Promise<void> {
    const fireTimes = new FireTimes(schedule.spec.timing);
    const due: number[] = [];
    let next: number | null = schedule.nextRunAt;
    while (next !== null && next <= now && due.length < maxTicksScanned) {
      due.push(next);
      next = fireTimes.nextAfter(next);
    }
    if (next !== null && next <= now) next = fireTimes.nextAfter(now);
    const latest = due.at(-1)!;
    const onTime = now - latest <= this.graceMs;
    const ticks =
      schedule.spec.catchUp === 'all' ? due.slice(-schedule.spec.catchUpLimit) : schedule.spec.catchUp === 'once' || onTime ? [latest] : [];
    const missed = due.length - (onTime ? 1 : 0);
    const definition = this.registry.get(schedule.spec.job);
    const jobs: NewJob[] = [];
    for (const tick of ticks) {
      const extra: JsonObject = { scheduleId: schedule.id, scheduledFor: new Date(tick).toISOString() };
      if (schedule.spec.catchUp === 'once' && missed > 0) extra.missedTicks = missed;
      jobs.push(await this.jobFor(definition, schedule, now, extra));
    }
    const result = await backend.fireSchedule({
      id: schedule.id,
      expectedNextRunAt: schedule.nextRunAt!,
      nextRunAt: next,
      firedAt: ticks.length > 0 ? latest : null,
      jobs,
      overlap: schedule.spec.overlap,
    });
    if (result.outcome === 'lost') return;
    const dropped = due.length - ticks.length;
    if (result.outcome === 'skipped-overlap') {
      this.safeEmit('schedule:skipped', { schedule, tick: latest, reason: 'overlap', count: due.length });
      return;
    }
    if (dropped > 0 && schedule.spec.catchUp !== 'once') this.safeEmit('schedule:skipped', { schedule, tick: latest, reason: 'missed', count: dropped });
    if (result.jobIds.length > 0) {
      this.logger.debug({ scheduleId: schedule.id, tick: new Date(latest).toISOString(), jobIds: result.jobIds }, 'schedule fired');
      this.safeEmit('schedule:fired', { schedule, tick: latest, jobIds: result.jobIds, missed });
    }
  }

  private jobFor(definition: JobDefinition, schedule: ScheduleRecord, now: number, extra: JsonObject): Promise<NewJob> {
    const options = schedule.spec.options as EnqueueOptions;
    const metadata = { ...((options.metadata as JsonObject | undefined) ?? {}), ...extra };
    return prepareJob(definition, JSON.parse(schedule.spec.payload) as JsonValue, { ...options, metadata }, now);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      await this.fireDue().catch((error: unknown) => this.reportError(error, 'poll'));
      if (!this.running) break;
      await this.sleep(await this.nextWake());
    }
  }

  /** Milliseconds until the earliest known tick, at most one poll interval. */
  private async nextWake(): Promise<number> {
    try {
      const backend = await this.backend();
      const now = backend.now();
      let wait = this.pollMs;
      const known = this.registry.names();
      for (const schedule of await backend.listSchedules()) {
        // A schedule of a job this scheduler does not know is another's to fire: waking for
        // it would find nothing to do and spin until that other scheduler fires it.
        if (!schedule.enabled || schedule.nextRunAt === null || !known.includes(schedule.spec.job)) continue;
        wait = Math.min(wait, Math.max(0, schedule.nextRunAt - now));
      }
      return wait;
    } catch (error) {
      this.reportError(error, 'poll');
      return this.pollMs;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const cancel = this.clock.setTimer(ms, () => done());
      const done = () => {
        cancel();
        this.wakeUp = null;
        resolve();
      };
      this.wakeUp = done;
    });
  }

  // A wake that arrives while the loop is busy is remembered, so a schedule registered
  // mid-round is not left waiting for a poll.
  private wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.woken = true;
  }

  private backend(): Promise<Backend> {
    return this.lazy.get();
  }

  private reportError(error: unknown, during: string, scheduleId?: string): void {
    this.logger.error({ err: error, during, scheduleId }, `scheduler error during ${during}`);
    this.safeEmit('scheduler:error', scheduleId === undefined ? { error, during } : { error, during, scheduleId });
  }
}

function toTiming(input: ScheduleOptions<AnyJob | string>): ScheduleTiming {
  if ((input.cron === undefined) === (input.every === undefined)) {
    throw new InvalidScheduleError('schedule', { cron: input.cron, every: input.every }, 'give exactly one of cron and every');
  }
  if (input.every !== undefined) {
    if (input.tz !== undefined) throw new InvalidOptionError('tz', input.tz, 'no time zone with every: intervals are absolute');
    return { kind: 'every', everyMs: typeof input.every === 'object' && input.every !== null ? input.every.every : intervalMs(input.every) };
  }
  if (typeof input.cron !== 'string' || input.cron.trim() === '') throw new InvalidScheduleError('cron', input.cron, 'an empty expression');
  return { kind: 'cron', expression: input.cron.trim(), tz: input.tz ?? null };
}

function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw new InvalidOptionError(option, value, `one of ${allowed.join(', ')}`);
  return value as T;
}
