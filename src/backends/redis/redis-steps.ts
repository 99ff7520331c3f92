import type { LeaseRef } from '../../contract/job-queue.ts';
import type { StepStore } from '../../contract/step-store.ts';
import { LeaseLostError } from '../../domain/errors.ts';
import type { StepRecord } from '../../domain/job-record.ts';
import type { RedisConnection } from './redis-backend.ts';

/** The durable-steps role on Redis: a hash per job (`steps:<id>`), written by a script fenced by the lease, deleted with the job. */
export class RedisSteps implements StepStore {
  constructor(private readonly connection: RedisConnection) {}

  async recordStep(lease: LeaseRef, step: StepRecord): Promise<void> {
    const ok = await this.connection.script('recordStep', lease.id, lease.token, step.name, JSON.stringify(step));
    if (ok !== 1) throw new LeaseLostError(lease.id);
  }

  async listSteps(id: string): Promise<StepRecord[]> {
    const { connection } = this;
    const fields = await connection.call('listSteps', () => connection.redis.hgetall(connection.keys.steps(id)));
    return Object.values(fields)
      .map((value) => {
        const space = value.indexOf(' ');
        return { seq: Number(value.slice(0, space)), step: JSON.parse(value.slice(space + 1)) as StepRecord };
      })
      .sort((a, b) => a.step.startedAt - b.step.startedAt || a.seq - b.seq)
      .map(({ step }) => step);
  }
}
