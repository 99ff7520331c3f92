import type { FireResult, ScheduleInput, ScheduleRecord, ScheduleStore, ScheduleTick } from '../../contract/backend.ts';
import { sameSpec } from '../../contract/schedule-spec-equality.ts';
import { isTerminal } from '../../domain/job-state.ts';
import type { MemoryState } from './memory-backend.ts';
import type { MemoryQueue } from './memory-queue.ts';

/**
 * The memory backend's schedules. Records are handed out as copies, never the stored
 * object. A tick enqueues through the queue role in the same synchronous step that
 * moves the schedule on, so the two happen together or not at all.
 */
export class MemorySchedules implements ScheduleStore {
  constructor(
    private readonly state: MemoryState,
    private readonly queue: MemoryQueue,
  ) {}

  async upsertSchedule(input: ScheduleInput): Promise<ScheduleRecord> {
    this.state.assertOpen();
    const existing = this.state.schedules.get(input.id);
    if (existing && sameSpec(existing.spec, input.spec)) {
      if (input.enabled !== undefined && input.enabled !== existing.enabled) {
        Object.assign(existing, { enabled: input.enabled, nextRunAt: input.enabled ? input.nextRunAt : existing.nextRunAt, updatedAt: input.now });
      }
      return structuredClone(existing);
    }
    const record: ScheduleRecord = {
      id: input.id,
      spec: structuredClone(input.spec),
      enabled: input.enabled ?? existing?.enabled ?? true,
      nextRunAt: input.nextRunAt,
      lastRunAt: existing?.lastRunAt ?? null,
      lastJobId: existing?.lastJobId ?? null,
      createdAt: existing?.createdAt ?? input.now,
      updatedAt: input.now,
    };
    this.state.schedules.set(input.id, record);
    return structuredClone(record);
  }

  async getSchedule(id: string): Promise<ScheduleRecord | null> {
    this.state.assertOpen();
    const record = this.state.schedules.get(id);
    return record ? structuredClone(record) : null;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    this.state.assertOpen();
    return [...this.state.schedules.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((record) => structuredClone(record));
  }

  async removeSchedule(id: string): Promise<boolean> {
    this.state.assertOpen();
    return this.state.schedules.delete(id);
  }

  async setScheduleEnabled(id: string, enabled: boolean, nextRunAt: number | null): Promise<ScheduleRecord | null> {
    this.state.assertOpen();
    const record = this.state.schedules.get(id);
    if (!record) return null;
    if (record.enabled !== enabled) Object.assign(record, { enabled, nextRunAt: enabled ? nextRunAt : record.nextRunAt, updatedAt: this.state.clock.now() });
    return structuredClone(record);
  }

  async fireSchedule(tick: ScheduleTick): Promise<FireResult> {
    this.state.assertOpen();
    const record = this.state.schedules.get(tick.id);
    // Another scheduler fired this tick first, or the schedule changed since it was read.
    if (!record || !record.enabled || record.nextRunAt !== tick.expectedNextRunAt) return { outcome: 'lost' };
    const previous = record.lastJobId === null ? undefined : this.state.jobs.get(record.lastJobId);
    if (tick.overlap === 'skip' && previous && !isTerminal(previous.state)) {
      Object.assign(record, { nextRunAt: tick.nextRunAt, updatedAt: this.state.clock.now() });
      return { outcome: 'skipped-overlap' };
    }
    const results = this.queue.enqueueNow(tick.jobs);
    Object.assign(record, {
      nextRunAt: tick.nextRunAt,
      lastRunAt: tick.firedAt ?? record.lastRunAt,
      lastJobId: results.at(-1)?.id ?? record.lastJobId,
      updatedAt: this.state.clock.now(),
    });
    return { outcome: 'fired', jobIds: results.map((result) => result.id) };
  }
}
