import type { EnqueueResult } from '../../contract/job-queue.ts';
import type { FireResult, ScheduleInput, ScheduleRecord, ScheduleStore, ScheduleTick } from '../../contract/schedule-store.ts';
import { canonicalJson } from '../../contract/schedule-spec-equality.ts';
import { type PostgresConnection, loadStatements, q } from './postgres-connection.ts';
import type { PostgresQueue } from './postgres-queue.ts';
import { type PgScheduleRow, pgRowToSchedule } from './postgres-rows.ts';

const scheduleStatements = [
  'lockScheduleId',
  'getSchedule',
  'enableSchedule',
  'upsertSchedule',
  'listSchedules',
  'removeSchedule',
  'setScheduleEnabled',
  'lockDueSchedule',
  'isJobActive',
  'skipScheduleRun',
  'recordScheduleRun',
] as const;

/** The ScheduleStore role; a tick enqueues its jobs through the queue role, in the tick's transaction. */
export class PostgresSchedules implements ScheduleStore {
  private readonly sql: Record<(typeof scheduleStatements)[number], string>;

  constructor(
    private readonly connection: PostgresConnection,
    private readonly queue: PostgresQueue,
  ) {
    this.sql = loadStatements(new URL('./sql/schedules.sql', import.meta.url), scheduleStatements, connection);
  }

  async upsertSchedule(input: ScheduleInput): Promise<ScheduleRecord> {
    const specText = canonicalJson(input.spec);
    return this.connection.inTransaction(undefined, 'upsertSchedule', async (db) => {
      // Serialises concurrent registrations of one id, so "unchanged" is judged against the latest row.
      await q(db, this.sql.lockScheduleId, [`${this.connection.schema}:schedule:${input.id}`]);
      const { rows } = await q<PgScheduleRow & { spec_text: string }>(db, this.sql.getSchedule, [input.id]);
      const existing = rows[0];
      if (existing && existing.spec_text === specText) {
        if (input.enabled === undefined || existing.enabled === input.enabled) return pgRowToSchedule(existing);
        const updated = await q<PgScheduleRow>(db, this.sql.enableSchedule, [
          input.id,
          input.enabled,
          input.enabled ? input.nextRunAt : existing.next_run_at,
          input.now,
        ]);
        return pgRowToSchedule(updated.rows[0]!);
      }
      const enabled = input.enabled ?? existing?.enabled ?? true;
      const upserted = await q<PgScheduleRow>(db, this.sql.upsertSchedule, [input.id, specText, enabled, input.nextRunAt, input.now, specText]);
      return pgRowToSchedule(upserted.rows[0]!);
    });
  }

  async getSchedule(id: string): Promise<ScheduleRecord | null> {
    const { rows } = await this.connection.run('getSchedule', (db) => q<PgScheduleRow>(db, this.sql.getSchedule, [id]));
    return rows[0] ? pgRowToSchedule(rows[0]) : null;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    const { rows } = await this.connection.run('listSchedules', (db) => q<PgScheduleRow>(db, this.sql.listSchedules));
    return rows.map(pgRowToSchedule);
  }

  async removeSchedule(id: string): Promise<boolean> {
    const { rowCount } = await this.connection.run('removeSchedule', (db) => q(db, this.sql.removeSchedule, [id]));
    return (rowCount ?? 0) > 0;
  }

  async setScheduleEnabled(id: string, enabled: boolean, nextRunAt: number | null): Promise<ScheduleRecord | null> {
    const { rows } = await this.connection.run('setScheduleEnabled', (db) =>
      q<PgScheduleRow>(db, this.sql.setScheduleEnabled, [id, enabled, nextRunAt, this.connection.clock.now()]),
    );
    return rows[0] ? pgRowToSchedule(rows[0]) : null;
  }

  async fireSchedule(tick: ScheduleTick): Promise<FireResult> {
    let results: EnqueueResult[] = [];
    const outcome = await this.connection.inTransaction(undefined, 'fireSchedule', async (db): Promise<FireResult> => {
      // The compare-and-set: only the scheduler that still sees this fire time as next gets the row.
      const { rows } = await q<PgScheduleRow>(db, this.sql.lockDueSchedule, [tick.id, tick.expectedNextRunAt]);
      const row = rows[0];
      if (!row) return { outcome: 'lost' };
      const now = this.connection.clock.now();
      if (tick.overlap === 'skip' && row.last_job_id !== null) {
        const active = await q(db, this.sql.isJobActive, [row.last_job_id]);
        if (active.rows.length > 0) {
          await q(db, this.sql.skipScheduleRun, [tick.id, tick.nextRunAt, now]);
          return { outcome: 'skipped-overlap' };
        }
      }
      results = tick.jobs.length > 0 ? await this.queue.insertJobs(db, tick.jobs, this.connection.prepare) : [];
      await q(db, this.sql.recordScheduleRun, [tick.id, tick.nextRunAt, tick.firedAt, results.at(-1)?.id ?? null, now]);
      return { outcome: 'fired', jobIds: results.map((result) => result.id) };
    });
    if (outcome.outcome === 'fired') this.connection.emitEnqueued(tick.jobs, results);
    return outcome;
  }
}
