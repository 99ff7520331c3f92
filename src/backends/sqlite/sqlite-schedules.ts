import type { NewJob } from '../../contract/job-queue.ts';
import { canonicalJson, sameSpec } from '../../contract/schedule-spec-equality.ts';
import type { FireResult, ScheduleInput, ScheduleRecord, ScheduleStore, ScheduleTick } from '../../contract/schedule-store.ts';
import type { SqliteConnection } from './sqlite-connection.ts';
import type { SqliteQueue } from './sqlite-queue.ts';
import { type ScheduleRow, rowToSchedule } from './sqlite-rows.ts';

/** The ScheduleStore role on SQLite: a tick's jobs are inserted in the same transaction that advances it. */
export class SqliteSchedules implements ScheduleStore {
  constructor(
    private readonly connection: SqliteConnection,
    private readonly queue: SqliteQueue,
  ) {}

  async upsertSchedule(input: ScheduleInput): Promise<ScheduleRecord> {
    return this.connection.write('upsertSchedule', () => {
      const s = this.connection.statements;
      const existing = s.scheduleById.get(input.id) as ScheduleRow | undefined;
      if (existing && sameSpec(JSON.parse(existing.spec), input.spec)) {
        if (input.enabled === undefined || (existing.enabled === 1) === input.enabled) return rowToSchedule(existing);
        return rowToSchedule(s.setScheduleEnabled.get(input.enabled ? 1 : 0, input.nextRunAt, input.now, input.id) as ScheduleRow);
      }
      const enabled = input.enabled ?? (existing ? existing.enabled === 1 : true);
      return rowToSchedule(s.upsertSchedule.get(input.id, canonicalJson(input.spec), enabled ? 1 : 0, input.nextRunAt, input.now, input.now) as ScheduleRow);
    });
  }

  async getSchedule(id: string): Promise<ScheduleRecord | null> {
    const row = await this.connection.read('getSchedule', () => this.connection.statements.scheduleById.get(id) as ScheduleRow | undefined);
    return row ? rowToSchedule(row) : null;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return this.connection.read('listSchedules', () => (this.connection.statements.schedules.all() as ScheduleRow[]).map(rowToSchedule));
  }

  async removeSchedule(id: string): Promise<boolean> {
    return this.connection.write('removeSchedule', () => this.connection.statements.removeSchedule.run(id).changes > 0);
  }

  async setScheduleEnabled(id: string, enabled: boolean, nextRunAt: number | null): Promise<ScheduleRecord | null> {
    return this.connection.write('setScheduleEnabled', () => {
      const s = this.connection.statements;
      const existing = s.scheduleById.get(id) as ScheduleRow | undefined;
      if (!existing) return null;
      if ((existing.enabled === 1) === enabled) return rowToSchedule(existing);
      return rowToSchedule(s.setScheduleEnabled.get(enabled ? 1 : 0, nextRunAt, this.connection.clock.now(), id) as ScheduleRow);
    });
  }

  async fireSchedule(tick: ScheduleTick): Promise<FireResult> {
    const { result, enqueued } = await this.connection.write('fireSchedule', (): { result: FireResult; enqueued: NewJob[] } => {
      const s = this.connection.statements;
      const row = s.scheduleById.get(tick.id) as ScheduleRow | undefined;
      if (!row || row.enabled !== 1 || row.next_run_at !== tick.expectedNextRunAt) return { result: { outcome: 'lost' }, enqueued: [] };
      const now = this.connection.clock.now();
      if (tick.overlap === 'skip' && row.last_job_id !== null && s.isActive.get(row.last_job_id)) {
        s.advanceSchedule.run(tick.nextRunAt, now, tick.id);
        return { result: { outcome: 'skipped-overlap' }, enqueued: [] };
      }
      const results = this.queue.insertJobs(tick.jobs);
      s.fireSchedule.run(tick.nextRunAt, tick.firedAt, results.at(-1)?.id ?? row.last_job_id, now, tick.id);
      return {
        result: { outcome: 'fired', jobIds: results.map((item) => item.id) },
        enqueued: tick.jobs.filter((_job, index) => results[index]!.created),
      };
    });
    for (const job of enqueued) this.connection.emit({ type: 'enqueued', queue: job.queue, runAt: job.runAt });
    return result;
  }
}
