import type { LeaseRef } from '../../contract/job-queue.ts';
import type { StepStore } from '../../contract/step-store.ts';
import { LeaseLostError } from '../../domain/errors.ts';
import type { StepRecord } from '../../domain/job-record.ts';
import type { SqliteConnection } from './sqlite-connection.ts';

/** The durable-steps role on SQLite: a row per step in `jobsmith_steps`, deleted with its job by the triggers of migration 8. */
export class SqliteSteps implements StepStore {
  constructor(private readonly connection: SqliteConnection) {}

  async recordStep(lease: LeaseRef, step: StepRecord): Promise<void> {
    const written = await this.connection.write('recordStep', () =>
      this.connection.statements.recordStep.run({ id: lease.id, token: lease.token, name: step.name, startedAt: step.startedAt, record: JSON.stringify(step) }),
    );
    if (written.changes === 0) throw new LeaseLostError(lease.id);
  }

  async listSteps(id: string): Promise<StepRecord[]> {
    const rows = await this.connection.read('listSteps', () => this.connection.statements.stepsOf.all(id) as Array<{ record: string }>);
    return rows.map((row) => JSON.parse(row.record) as StepRecord);
  }
}
