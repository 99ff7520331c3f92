import type { Command } from '@commander-js/extra-typings';
import type { ScheduleRecord } from '../index.ts';
import { parsePositiveInteger } from './list.ts';
import type { Session } from './session.ts';
import { printTable } from './table.ts';
import { scheduleZone as zoneOf, timingText } from '../scheduler/schedule-display.ts';
import { localTimeZone, moment, wallTime } from './time-format.ts';

function scheduleToJson(schedule: ScheduleRecord): Record<string, unknown> {
  const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
  return { ...schedule, nextRunAt: iso(schedule.nextRunAt), lastRunAt: iso(schedule.lastRunAt), createdAt: iso(schedule.createdAt), updatedAt: iso(schedule.updatedAt) };
}

export function registerSchedules(program: Command, session: Session): void {
  const schedules = program
    .command('schedules')
    .description("The schedules in the store, with each one's next run in its own time zone and in local time.")
    .addHelpText('after', '\nExamples:\n  $ jobsmith schedules\n  $ jobsmith schedules next nightly-report -n 5\n  $ jobsmith schedules disable nightly-report')
    .action(async () => {
      const scheduler = await session.scheduler();
      const records = await scheduler.list();
      const terminal = session.terminal;
      if (session.json) {
        for (const record of records) await terminal.json(scheduleToJson(record));
        return;
      }
      if (records.length === 0) return terminal.note('No schedules in the store. `jobsmith worker` registers the ones in the config at start.');
      const now = await session.now();
      const local = localTimeZone();
      await printTable(
        terminal,
        [{ header: 'ID' }, { header: 'JOB' }, { header: 'WHEN' }, { header: 'STATUS' }, { header: 'NEXT RUN' }, { header: `LOCAL (${local})` }, { header: 'LAST RUN' }],
        records.map((record) => [
          record.id,
          record.spec.job,
          timingText(record),
          record.enabled ? terminal.style('green', 'enabled') : terminal.style('yellow', 'disabled'),
          record.enabled && record.nextRunAt !== null ? wallTime(record.nextRunAt, zoneOf(record)) : '—',
          record.enabled && record.nextRunAt !== null ? wallTime(record.nextRunAt, local) : '—',
          moment(record.lastRunAt, now, terminal.tty) || '—',
        ]),
      );
    });

  for (const [verb, past] of [
    ['enable', 'enabled'],
    ['disable', 'disabled'],
  ] as const) {
    schedules
      .command(verb)
      .description(verb === 'enable' ? 'Turn a schedule on; its next run is the first tick after now (missed ticks are not caught up).' : 'Turn a schedule off.')
      .argument('<id>', 'the schedule id')
      .action(async (id) => {
        const scheduler = await session.scheduler();
        const record = verb === 'enable' ? await scheduler.enable(id) : await scheduler.disable(id);
        if (session.json) return session.terminal.json(scheduleToJson(record));
        const next = record.enabled && record.nextRunAt !== null ? `; next run ${wallTime(record.nextRunAt, zoneOf(record))}` : '';
        await session.terminal.line(`Schedule "${id}" ${past}${next}.`);
      });
  }

  schedules
    .command('run')
    .description("Enqueue a schedule's job now, outside its timetable (the job must be in the config). Prints the job id.")
    .argument('<id>', 'the schedule id')
    .action(async (id) => {
      const jobId = await (await session.scheduler()).runNow(id);
      if (session.json) return session.terminal.json({ schedule: id, id: jobId });
      await session.terminal.line(jobId);
    });

  schedules
    .command('next')
    .description("The schedule's next run times, in its own time zone and in local time.")
    .argument('<id>', 'the schedule id')
    .option('-n, --count <n>', 'how many', parsePositiveInteger, 5)
    .action(async (id, options) => {
      const scheduler = await session.scheduler();
      const record = await scheduler.get(id);
      const runs = await scheduler.nextRuns(id, options.count);
      const terminal = session.terminal;
      const zone = zoneOf(record);
      const local = localTimeZone();
      if (session.json) {
        for (const run of runs) await terminal.json({ schedule: id, at: run.toISOString(), zone, inZone: wallTime(run.getTime(), zone), local: wallTime(run.getTime(), local) });
        return;
      }
      if (!record.enabled) terminal.note(`Schedule "${id}" is disabled; these are the times it would run if enabled now.`);
      await printTable(
        terminal,
        [{ header: `IN ${zone}` }, { header: `LOCAL (${local})` }, { header: 'UTC' }],
        runs.map((run) => [wallTime(run.getTime(), zone), wallTime(run.getTime(), local), run.toISOString()]),
      );
    });
}
