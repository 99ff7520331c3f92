import { expect } from 'vitest';
import type { ScheduleSpec } from '../../contract/backend.ts';
import { createScheduler } from '../../create.ts';
import { defineJob } from '../../domain/define-job.ts';
import { InvalidOptionError, InvalidScheduleError, ScheduleNotFoundError, UnknownJobError } from '../../domain/errors.ts';
import type { JobRecord } from '../../domain/job-record.ts';
import { daily, every, monthly, weekly } from '../../domain/schedule-helpers.ts';
import { prepareJob } from '../../execution/prepare-job.ts';
import type { Scheduler, SchedulerOptions } from '../../scheduler/scheduler.ts';
import { daylightSavingNights, firesThatNight } from '../daylight-saving.ts';
import type { ConformanceSuite } from './index.ts';

const minute = 60_000;
const hour = 60 * minute;

/**
 * The scheduler's part of the conformance suite: the backend's schedule operations,
 * and the guarantees built on them (exactly once per tick across schedulers, time
 * zones and daylight saving, clock jumps, catch-up and overlap policies).
 */
export function scheduleTests(suite: ConformanceSuite): void {
  const { test, current } = suite;

  const report = defineJob({ name: 'report', run: () => null });
  const newScheduler = (extra: Partial<SchedulerOptions> = {}) => {
    const { backend, clock, schedulers } = current();
    const scheduler = createScheduler({ backend, clock, jobs: [report], pollInterval: '1h', ...extra });
    schedulers.push(scheduler);
    return scheduler;
  };
  const started = async (extra: Partial<SchedulerOptions> = {}) => {
    const scheduler = newScheduler(extra);
    await scheduler.start();
    return scheduler;
  };
  const allJobs = async (): Promise<JobRecord[]> => {
    const jobs: JobRecord[] = [];
    for await (const job of current().client.jobs({ name: 'report' })) jobs.push(job);
    return jobs.sort((a, b) => String(a.metadata.scheduledFor).localeCompare(String(b.metadata.scheduledFor)));
  };
  const firedTimes = async () => (await allJobs()).map((job) => String(job.metadata.scheduledFor));
  const spec = async (cron: string): Promise<ScheduleSpec> => ({
    timing: { kind: 'cron', expression: cron, tz: null },
    job: 'report',
    payload: (await prepareJob(report, null, {}, current().clock.now())).payload,
    options: {},
    catchUp: 'skip',
    catchUpLimit: 100,
    overlap: 'allow',
  });

  // ── the backend's schedule operations ──────────────────────────────────

  test('upsertSchedule is idempotent and keeps run times; a changed spec replaces them', async ({ clock, backend }) => {
    const now = clock.now();
    const first = await backend.upsertSchedule({ id: 's1', spec: await spec('0 * * * *'), enabled: undefined, nextRunAt: now + hour, now });
    expect(first).toMatchObject({ id: 's1', enabled: true, nextRunAt: now + hour, lastRunAt: null });
    await clock.advance('10m');
    const again = await backend.upsertSchedule({ id: 's1', spec: await spec('0 * * * *'), enabled: undefined, nextRunAt: now + 2 * hour, now: clock.now() });
    expect(again.nextRunAt).toBe(now + hour);
    const changed = await backend.upsertSchedule({ id: 's1', spec: await spec('30 * * * *'), enabled: undefined, nextRunAt: now + 30 * minute, now: clock.now() });
    expect(changed).toMatchObject({ nextRunAt: now + 30 * minute, spec: { timing: { expression: '30 * * * *' } } });
    expect(await backend.listSchedules()).toHaveLength(1);
    expect((await backend.setScheduleEnabled('s1', false, null))?.enabled).toBe(false);
    expect((await backend.upsertSchedule({ id: 's1', spec: await spec('30 * * * *'), enabled: undefined, nextRunAt: 1, now: clock.now() })).enabled).toBe(false);
    expect(await backend.removeSchedule('s1')).toBe(true);
    expect(await backend.getSchedule('s1')).toBeNull();
    expect(await backend.setScheduleEnabled('s1', true, 1)).toBeNull();
  });

  test('fireSchedule fires a tick once: the second claim of the same tick is lost and writes nothing', async ({ clock, backend }) => {
    const now = clock.now();
    await backend.upsertSchedule({ id: 's1', spec: await spec('0 * * * *'), enabled: true, nextRunAt: now, now });
    const tick = async () => ({
      id: 's1',
      expectedNextRunAt: now,
      nextRunAt: now + hour,
      firedAt: now,
      jobs: [await prepareJob(report, null, { metadata: { scheduledFor: new Date(now).toISOString() } }, now)],
      overlap: 'allow' as const,
    });
    const results = await Promise.all([backend.fireSchedule(await tick()), backend.fireSchedule(await tick()), backend.fireSchedule(await tick())]);
    expect(results.filter((result) => result.outcome === 'fired')).toHaveLength(1);
    expect(results.filter((result) => result.outcome === 'lost')).toHaveLength(2);
    expect(await allJobs()).toHaveLength(1);
    const record = await backend.getSchedule('s1');
    expect(record).toMatchObject({ nextRunAt: now + hour, lastRunAt: now });
    expect(record!.lastJobId).toBe((await allJobs())[0]!.id);
    await backend.setScheduleEnabled('s1', false, null);
    expect((await backend.fireSchedule({ ...(await tick()), expectedNextRunAt: now + hour })).outcome).toBe('lost');
  });

  test('fireSchedule with overlap skip drops the tick while the last job is active', async ({ clock, backend, client }) => {
    const now = clock.now();
    await backend.upsertSchedule({ id: 's1', spec: await spec('0 * * * *'), enabled: true, nextRunAt: now, now });
    const fire = async (at: number) =>
      backend.fireSchedule({ id: 's1', expectedNextRunAt: at, nextRunAt: at + hour, firedAt: at, jobs: [await prepareJob(report, null, {}, at)], overlap: 'skip' });
    expect((await fire(now)).outcome).toBe('fired');
    expect((await fire(now + hour)).outcome).toBe('skipped-overlap');
    expect(await backend.getSchedule('s1')).toMatchObject({ nextRunAt: now + 2 * hour, lastRunAt: now });
    const [job] = await allJobs();
    await client.cancel(job!.id);
    expect((await fire(now + 2 * hour)).outcome).toBe('fired');
    expect(await allJobs()).toHaveLength(2);
  });

  // ── registering ────────────────────────────────────────────────────────

  test('a hundred registrations of the same schedule leave one', async () => {
    const scheduler = newScheduler();
    const others = Array.from({ length: 9 }, () => newScheduler());
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 10 === 0 ? scheduler : others[i % 9]!).schedule({ id: 'nightly', cron: daily(2, 0), tz: 'Europe/Berlin', job: report, payload: null })),
    );
    const list = await scheduler.list();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: 'nightly', enabled: true, spec: { timing: { kind: 'cron', expression: '0 2 * * *', tz: 'Europe/Berlin' } } });
  });

  test('bad input is rejected at registration with a typed error naming the value, and nothing is stored', async () => {
    const scheduler = newScheduler();
    const cases: Array<[Parameters<Scheduler['schedule']>[0], (error: unknown) => boolean]> = [
      [{ id: 'a', cron: 'not a cron', job: report, payload: null }, (e) => e instanceof InvalidScheduleError && e.field === 'cron' && e.value === 'not a cron'],
      [{ id: 'a', cron: '61 * * * *', job: report, payload: null }, (e) => e instanceof InvalidScheduleError && e.field === 'cron' && e.message.includes('61')],
      [{ id: 'a', cron: '0 2 * * *', tz: 'Mars/Olympus_Mons', job: report, payload: null }, (e) => e instanceof InvalidScheduleError && e.field === 'tz' && e.value === 'Mars/Olympus_Mons'],
      [{ id: 'a', cron: '0 2 * * *', job: 'no-such-job', payload: null }, (e) => e instanceof UnknownJobError && e.jobName === 'no-such-job'],
      [{ id: 'a', job: report, payload: null }, (e) => e instanceof InvalidScheduleError],
      [{ id: 'a', cron: '* * * * *', every: '5m', job: report, payload: null }, (e) => e instanceof InvalidScheduleError],
      [{ id: 'a', every: '10ms', job: report, payload: null }, (e) => e instanceof InvalidScheduleError && e.field === 'every'],
      [{ id: 'a', cron: '* * * * *', job: report, payload: () => 1 }, (e) => (e as { code?: string }).code === 'PAYLOAD_NOT_JSON'],
      [{ id: 'a', cron: '* * * * *', job: report, payload: null, catchUp: 'sometimes' as never }, (e) => e instanceof InvalidOptionError && e.option === 'catchUp'],
      [{ id: 'a', cron: '* * * * *', job: report, payload: null, options: { delay: '1m' } as never }, (e) => e instanceof InvalidOptionError],
      [{ id: 'has space', cron: '* * * * *', job: report, payload: null }, (e) => e instanceof InvalidOptionError && e.option === 'id'],
    ];
    for (const [input, check] of cases) await expect(scheduler.schedule(input)).rejects.toSatisfy(check);
    expect(await scheduler.list()).toEqual([]);
  });

  test('the helpers give standard cron expressions and intervals', async () => {
    expect(daily(2, 30)).toBe('30 2 * * *');
    expect(weekly('monday', 9, 0)).toBe('0 9 * * 1');
    expect(monthly(1, 0, 0)).toBe('0 0 1 * *');
    expect(every('5m')).toEqual({ every: 300_000 });
    expect(() => daily(24, 0)).toThrow(InvalidOptionError);
    expect(() => weekly('someday' as never, 9)).toThrow(InvalidOptionError);
    const scheduler = newScheduler();
    await scheduler.schedule({ id: 'mondays', cron: weekly('monday', 9, 0), tz: 'America/New_York', job: report, payload: null });
    // 2026-01-01 is a Thursday; Mondays at 09:00 in New York (EST, UTC−5).
    expect((await scheduler.nextRuns('mondays', 2)).map((date) => date.toISOString())).toEqual(['2026-01-05T14:00:00.000Z', '2026-01-12T14:00:00.000Z']);
    await scheduler.schedule({ id: 'hourly', cron: '@hourly', job: report, payload: null });
    expect((await scheduler.nextRuns('hourly', 1))[0]!.toISOString()).toBe('2026-01-01T13:00:00.000Z');
    await scheduler.schedule({ id: 'seconds', cron: '*/20 * * * * *', job: report, payload: null });
    expect((await scheduler.nextRuns('seconds', 3)).map((date) => date.toISOString())).toEqual([
      '2026-01-01T12:00:20.000Z',
      '2026-01-01T12:00:40.000Z',
      '2026-01-01T12:01:00.000Z',
    ]);
    await expect(scheduler.nextRuns('nope')).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });

  // ── firing ─────────────────────────────────────────────────────────────

  test('every(5m) fires on aligned ticks, each job carrying its schedule and tick', async ({ clock }) => {
    const scheduler = await started();
    await scheduler.schedule({ id: 'five', every: every('5m'), job: report, payload: null });
    await clock.advance('16m');
    expect(await firedTimes()).toEqual(['2026-01-01T12:05:00.000Z', '2026-01-01T12:10:00.000Z', '2026-01-01T12:15:00.000Z']);
    expect((await allJobs())[0]!.metadata).toMatchObject({ scheduleId: 'five' });
    expect(await scheduler.get('five')).toMatchObject({ lastRunAt: Date.UTC(2026, 0, 1, 12, 15), nextRunAt: Date.UTC(2026, 0, 1, 12, 20) });
  });

  test('three schedulers, killed and restarted over a simulated week, enqueue each tick exactly once', async ({ clock }) => {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const alive: Array<Scheduler | null> = [await started(), await started(), await started()];
    await alive[0]!.schedule({ id: 'quarter', cron: '*/15 * * * *', job: report, payload: null });
    const start = clock.now();
    let kills = 0;
    for (let step = 0; step < 7 * 24; step++) {
      const index = Math.floor(random() * 3);
      const aliveCount = alive.filter(Boolean).length;
      if (alive[index] && aliveCount > 1) {
        await alive[index]!.stop();
        alive[index] = null;
        kills++;
      } else if (!alive[index]) {
        alive[index] = await started();
      }
      await clock.advance(hour - (step === 0 ? 0 : 0));
    }
    const times = await firedTimes();
    const expected = Array.from({ length: 7 * 24 * 4 }, (_, i) => new Date(start + (i + 1) * 15 * minute).toISOString());
    expect(kills).toBeGreaterThan(20);
    expect(new Set(times).size).toBe(times.length);
    expect(times).toEqual(expected);
  }, 120_000);

  test('daily 02:30 in Europe/Berlin runs once on the spring-forward day and once on the fall-back day', async ({ clock }) => {
    await clock.set(Date.UTC(2026, 2, 27, 12));
    const scheduler = await started();
    await scheduler.schedule({ id: 'berlin', cron: daily(2, 30), tz: 'Europe/Berlin', job: report, payload: null });
    await clock.advance('4d');
    await scheduler.disable('berlin');
    await clock.set(Date.UTC(2026, 9, 23, 12));
    await scheduler.enable('berlin');
    await clock.advance('4d');
    expect(await firedTimes()).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 02:30 does not exist: right after the gap, 03:00 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
      '2026-03-31T00:30:00.000Z',
      '2026-10-24T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 happens twice: only the first
      '2026-10-26T01:30:00.000Z', // 02:30 CET
      '2026-10-27T01:30:00.000Z',
    ]);
  });

  test('*/15 in America/New_York never fires twice for the same instant across the fall-back', async ({ clock }) => {
    await clock.set(Date.UTC(2026, 10, 1, 3, 50)); // 2026-11-01 23:50 EDT the day before
    const scheduler = await started();
    await scheduler.schedule({ id: 'ny', cron: '*/15 * * * *', tz: 'America/New_York', job: report, payload: null });
    await clock.advance('5h');
    const times = await firedTimes();
    expect(new Set(times).size).toBe(times.length);
    expect(times).toHaveLength(20);
    expect(times).toContain('2026-11-01T05:45:00.000Z'); // 01:45 EDT
    expect(times).toContain('2026-11-01T06:45:00.000Z'); // 01:45 EST, an hour later
  });

  for (const night of daylightSavingNights) {
    test(`daylight saving in ${night.tz} on ${night.date} (${night.change}): what fires, what is stored and what nextRuns() lists agree`, async ({ clock, client }) => {
      const expressions = Object.keys(night.fires);
      const firedBy = async (name: string) => {
        const fired = new Map<string, number[]>(expressions.map((cron) => [cron, []]));
        for await (const job of client.jobs({ name })) fired.get(job.payload as string)!.push(Date.parse(String(job.metadata.scheduledFor)));
        return new Map([...fired].map(([cron, times]) => [cron, firesThatNight(times.sort((a, b) => a - b), night)]));
      };
      await clock.set(night.from);
      const scheduler = await started();
      for (const [i, cron] of expressions.entries()) await scheduler.schedule({ id: `dst-${i}`, cron, tz: night.tz, job: report, payload: cron });
      for (const [i, cron] of expressions.entries()) {
        expect(firesThatNight((await scheduler.nextRuns(`dst-${i}`, 12)).map(Number), night), cron).toEqual(night.fires[cron]);
      }
      // Through the night in ten-minute steps: each schedule has fired exactly what it should
      // have so far, and its stored next fire time and nextRuns() show what fires next.
      while (clock.now() < night.to) {
        await clock.advance('10m');
        const fired = await firedBy('report');
        for (const [i, cron] of expressions.entries()) {
          const expected = night.fires[cron]!;
          const done = fired.get(cron)!.length;
          expect(fired.get(cron), `${cron} by ${new Date(clock.now()).toISOString()}`).toEqual(expected.slice(0, done));
          const { nextRunAt } = await scheduler.get(`dst-${i}`);
          if (done < expected.length) expect(firesThatNight([nextRunAt!], night), cron).toEqual([expected[done]]);
          else expect(nextRunAt, cron).toBeGreaterThanOrEqual(night.to);
          expect(firesThatNight((await scheduler.nextRuns(`dst-${i}`, 3)).map(Number), night), cron).toEqual(expected.slice(done, done + 3));
        }
      }
      // The same night caught up afterwards by a scheduler that was not running: the same ticks.
      await scheduler.stop();
      for (const i of expressions.keys()) await scheduler.remove(`dst-${i}`);
      const caughtUp = defineJob({ name: 'report-caught-up', run: () => null });
      const late = newScheduler({ jobs: [caughtUp] });
      await clock.set(night.from);
      for (const [i, cron] of expressions.entries()) await late.schedule({ id: `late-${i}`, cron, tz: night.tz, job: caughtUp, payload: cron, catchUp: 'all' });
      await clock.set(night.to);
      await late.fireDue();
      expect(Object.fromEntries(await firedBy('report-caught-up'))).toEqual(night.fires);
    });
  }

  test('a clock that jumps backward never fires a tick twice', async ({ clock }) => {
    await clock.set(Date.UTC(2026, 0, 1, 3, 59));
    const scheduler = await started();
    await scheduler.schedule({ id: 'four', cron: '0 4 * * *', job: report, payload: null });
    await clock.advance('2m'); // 04:01: fired
    expect(await firedTimes()).toEqual(['2026-01-01T04:00:00.000Z']);
    await clock.set(Date.UTC(2026, 0, 1, 3, 1)); // back an hour
    await scheduler.fireDue();
    for (let i = 0; i < 10; i++) {
      // jitter around the tick, as a skewed clock would
      await clock.set(Date.UTC(2026, 0, 1, 3, 59, 0));
      await clock.set(Date.UTC(2026, 0, 1, 3, 59, 30));
    }
    await clock.set(Date.UTC(2026, 0, 1, 4, 5));
    await scheduler.fireDue();
    expect(await firedTimes()).toEqual(['2026-01-01T04:00:00.000Z']);
    // The other scheduler, with a clock an hour behind, waits for the next tick too.
    const late = newScheduler();
    await clock.set(Date.UTC(2026, 0, 1, 3, 30));
    await late.fireDue();
    expect(await firedTimes()).toHaveLength(1);
  });

  for (const [policy, expected] of [
    ['skip', { jobs: 0, missed: 5 }],
    ['once', { jobs: 1, missed: 5 }],
    ['all', { jobs: 3, missed: 5 }],
  ] as const) {
    test(`catch-up ${policy}: ticks missed while no scheduler ran`, async ({ clock }) => {
      const first = await started();
      await first.schedule({ id: 'ten', cron: '*/10 * * * *', job: report, payload: null, catchUp: policy, catchUpLimit: 3 });
      await clock.advance('10m'); // 12:10 fires on time
      expect(await firedTimes()).toEqual(['2026-01-01T12:10:00.000Z']);
      await first.stop();
      await clock.advance('45m'); // 12:20 … 12:50 pass with no scheduler, then one starts at 12:55
      const second = await started();
      const skippedEvents: number[] = [];
      second.on('schedule:skipped', ({ count }) => skippedEvents.push(count));
      await second.fireDue();
      // The scheduler's own loop may have fired it: wait for whichever did to commit.
      await clock.advance(0);
      const jobs = (await allJobs()).slice(1);
      expect(jobs).toHaveLength(expected.jobs);
      if (policy === 'once') expect(jobs[0]!.metadata).toMatchObject({ scheduledFor: '2026-01-01T12:50:00.000Z', missedTicks: 4 });
      if (policy === 'all') expect(jobs.map((job) => job.metadata.scheduledFor)).toEqual(['2026-01-01T12:30:00.000Z', '2026-01-01T12:40:00.000Z', '2026-01-01T12:50:00.000Z']);
      if (policy === 'skip') expect(skippedEvents).toEqual([4]);
      expect((await second.get('ten')).nextRunAt).toBe(Date.UTC(2026, 0, 1, 13, 0));
      // From here on, ticks fire on time again.
      await clock.advance('5m');
      expect((await firedTimes()).at(-1)).toBe('2026-01-01T13:00:00.000Z');
    });
  }

  test('overlap skip drops ticks while the previous run waits; allow enqueues every tick', async ({ clock, client }) => {
    const scheduler = await started();
    await scheduler.schedule({ id: 'single', cron: '*/10 * * * *', job: report, payload: 'single', overlap: 'skip' });
    await scheduler.schedule({ id: 'many', cron: '*/10 * * * *', job: report, payload: 'many' });
    const overlaps: string[] = [];
    scheduler.on('schedule:skipped', ({ schedule, reason }) => reason === 'overlap' && overlaps.push(schedule.id));
    await clock.advance('30m');
    const byPayload = (payload: string) => allJobs().then((jobs) => jobs.filter((job) => job.payload === payload));
    expect(await byPayload('single')).toHaveLength(1);
    expect(await byPayload('many')).toHaveLength(3);
    expect(overlaps).toEqual(['single', 'single']);
    await client.cancel((await byPayload('single'))[0]!.id);
    await clock.advance('10m');
    expect(await byPayload('single')).toHaveLength(2);
  });

  test('enable, disable, remove, list, nextRuns and runNow', async ({ clock, client }) => {
    const scheduler = await started();
    await scheduler.schedule({ id: 'h', cron: '0 * * * *', job: report, payload: { n: 1 } });
    expect((await scheduler.nextRuns('h', 3)).map((date) => date.getUTCHours())).toEqual([13, 14, 15]);
    await scheduler.disable('h');
    await clock.advance('3h');
    expect(await allJobs()).toHaveLength(0);
    // Ticks while disabled are not caught up: the next one is the first after enabling.
    expect((await scheduler.enable('h')).nextRunAt).toBe(Date.UTC(2026, 0, 1, 16));
    await clock.advance('1h');
    expect(await firedTimes()).toEqual(['2026-01-01T16:00:00.000Z']);
    const manual = await scheduler.runNow('h');
    expect((await client.get(manual)).metadata).toMatchObject({ scheduleId: 'h', manual: true });
    expect((await client.get(manual)).payload).toEqual({ n: 1 });
    expect(await scheduler.list()).toHaveLength(1);
    expect(await scheduler.remove('h')).toBe(true);
    expect(await scheduler.list()).toEqual([]);
    await expect(scheduler.enable('h')).rejects.toBeInstanceOf(ScheduleNotFoundError);
    await clock.advance('2h');
    expect(await allJobs()).toHaveLength(2);
  });

  test('schedules survive a restart: a new scheduler on the same store continues them', async ({ clock }) => {
    const first = await started();
    await first.schedule({ id: 'h', cron: '0 * * * *', job: report, payload: null, options: { priority: 5, queue: 'reports' } });
    await clock.advance('1h');
    await first.stop();
    const second = await started();
    await clock.advance('1h');
    const jobs = await allJobs();
    expect(jobs.map((job) => job.metadata.scheduledFor)).toEqual(['2026-01-01T13:00:00.000Z', '2026-01-01T14:00:00.000Z']);
    expect(jobs.every((job) => job.priority === 5 && job.queue === 'reports')).toBe(true);
    expect((await second.get('h')).lastJobId).toBe(jobs[1]!.id);
  });
}
