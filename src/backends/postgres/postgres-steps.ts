import type { LeaseRef } from '../../contract/job-queue.ts';
import type { StepStore } from '../../contract/step-store.ts';
import { LeaseLostError } from '../../domain/errors.ts';
import type { StepRecord } from '../../domain/job-record.ts';
import { isUuid } from './postgres-admin.ts';
import { type PostgresConnection, loadStatements, q } from './postgres-connection.ts';

const stepStatements = ['recordStep', 'stepsOf'] as const;

/**
 * The durable-steps role on PostgreSQL: a row per step in `steps`, deleted with its job: by
 * deleteJob (admin.sql) for an active job, by the trigger finished_jobs_steps for a finished one
 * (migration 11; a foreign key would have taken the steps when a finishing job moves).
 */
export class PostgresSteps implements StepStore {
  private readonly sql: Record<(typeof stepStatements)[number], string>;

  constructor(private readonly connection: PostgresConnection) {
    this.sql = loadStatements(new URL('./sql/steps.sql', import.meta.url), stepStatements, connection);
  }

  async recordStep(lease: LeaseRef, step: StepRecord): Promise<void> {
    if (!isUuid(lease.id)) throw new LeaseLostError(lease.id);
    const { rowCount } = await this.connection.run('recordStep', (db) =>
      q(db, this.sql.recordStep, [lease.id, lease.token, step.name, step.startedAt, JSON.stringify(step)]),
    );
    if (rowCount === 0) throw new LeaseLostError(lease.id);
  }

  async listSteps(id: string): Promise<StepRecord[]> {
    if (!isUuid(id)) return [];
    const { rows } = await this.connection.run('listSteps', (db) => q<{ record: StepRecord }>(db, this.sql.stepsOf, [id]));
    return rows.map((row) => row.record);
  }
}
