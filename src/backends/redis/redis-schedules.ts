import { canonicalJson } from '../../contract/schedule-spec-equality.ts';
import type { FireResult, ScheduleInput, ScheduleRecord, ScheduleStore, ScheduleTick } from '../../contract/schedule-store.ts';
import type { RedisConnection } from './redis-backend.ts';
import { packedFields, scheduleFromFields } from './redis-rows.ts';

/** The schedule role of the Redis backend: one hash per schedule, changed by scripts (`lua/`). */
export class RedisSchedules implements ScheduleStore {
  constructor(private readonly connection: RedisConnection) {}

  async upsertSchedule(input: ScheduleInput): Promise<ScheduleRecord> {
    const fields = (await this.connection.script(
      'upsertSchedule',
      input.id,
      canonicalJson(input.spec),
      input.enabled === undefined ? '' : input.enabled ? '1' : '0',
      input.nextRunAt ?? '',
      input.now,
    )) as string[];
    return scheduleFromFields(fields);
  }

  async getSchedule(id: string): Promise<ScheduleRecord | null> {
    const fields = await this.connection.call('getSchedule', () => this.connection.redis.hgetall(this.connection.keys.schedule(id)));
    return Object.keys(fields).length === 0 ? null : scheduleFromFields(Object.entries(fields).flat());
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    const ids = await this.connection.call('listSchedules', () => this.connection.redis.zrange(this.connection.keys.schedules, '0', '-1'));
    const records = await Promise.all(ids.map((id) => this.getSchedule(id)));
    return records.filter((record): record is ScheduleRecord => record !== null);
  }

  async removeSchedule(id: string): Promise<boolean> {
    return ((await this.connection.script('removeSchedule', id)) as number) === 1;
  }

  async setScheduleEnabled(id: string, enabled: boolean, nextRunAt: number | null): Promise<ScheduleRecord | null> {
    const fields = (await this.connection.script('setScheduleEnabled', id, enabled ? '1' : '0', nextRunAt ?? '', this.connection.clock.now())) as string[];
    return fields.length === 0 ? null : scheduleFromFields(fields);
  }

  async fireSchedule(tick: ScheduleTick): Promise<FireResult> {
    const out = (await this.connection.script(
      'fireSchedule',
      tick.id,
      tick.expectedNextRunAt,
      tick.nextRunAt ?? '',
      tick.firedAt ?? '',
      tick.overlap,
      this.connection.clock.now(),
      tick.jobs.length,
      packedFields(tick.jobs),
    )) as string[];
    if (out[0] === 'lost') return { outcome: 'lost' };
    if (out[0] === 'skipped') return { outcome: 'skipped-overlap' };
    return { outcome: 'fired', jobIds: out.slice(1) };
  }
}
