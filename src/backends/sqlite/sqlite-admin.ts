import type { BackendEvent } from '../../contract/backend.ts';
import { waitingForChildrenRunAt } from '../../contract/flow-store.ts';
import type { BackendStats, CancelResult, JobAdmin, JobPage, ListFilter, PruneRequest } from '../../contract/job-admin.ts';
import { listCursor, pageSize } from '../../contract/list-cursor.ts';
import { type BucketCount, buildStats, statsWindowMs, type WaitingForChildrenRow, type WaitingRow } from '../../contract/stats-window.ts';
import { InvalidStateError } from '../../domain/errors.ts';
import { type JobRecord, hookPendingDescription } from '../../domain/job-record.ts';
import { type JobState, terminalStates } from '../../domain/job-state.ts';
import type { SqliteConnection } from './sqlite-connection.ts';
import { type FinishedChild, type SqliteFlows, isWaiting } from './sqlite-flows.ts';
import { type JobRow, rowToRecord } from './sqlite-rows.ts';

/** The JobAdmin role on SQLite: reads need no lock in WAL mode; every change is a write of its own. */
export class SqliteAdmin implements JobAdmin {
  constructor(
    private readonly connection: SqliteConnection,
    private readonly flows: SqliteFlows,
  ) {}

  async get(id: string): Promise<JobRecord | null> {
    const row = await this.connection.read('get', () => this.connection.statements.byId.get(id) as JobRow | undefined);
    return row ? rowToRecord(row) : null;
  }

  async findByIdPrefix(prefix: string, limit: number): Promise<JobRecord[]> {
    // A range scan on the id index; LIKE would not use it and treats _ and % specially.
    const rows = await this.connection.read('findByIdPrefix', () => this.connection.statements.byPrefix.all(prefix, `${prefix}\uffff`, prefix, `${prefix}\uffff`, limit) as JobRow[]);
    return rows.map(rowToRecord);
  }

  async list(filter: ListFilter): Promise<JobPage> {
    const limit = pageSize(filter.limit);
    const after = listCursor.decode(filter.cursor);
    const states = filter.state === undefined ? null : typeof filter.state === 'string' ? [filter.state] : [...filter.state];
    const where: string[] = [];
    const params: unknown[] = [];
    if (states) {
      where.push('state IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(states));
    }
    if (filter.queue !== undefined) {
      where.push('queue = ?');
      params.push(filter.queue);
    }
    if (filter.name !== undefined) {
      where.push('name = ?');
      params.push(filter.name);
    }
    if (after !== null) {
      where.push('id < ?');
      params.push(after);
    }
    // Both tables (migration 8), each filtered, merged newest first: a compound ORDER BY reads
    // each in id order and stops at the limit, where the view of both was sorted whole.
    const filtered = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const sql = `SELECT * FROM jobsmith_jobs ${filtered} UNION ALL SELECT * FROM jobsmith_finished_job ${filtered} ORDER BY id DESC LIMIT CAST(? AS INTEGER)`;
    await this.promoteIfDue();
    const rows = await this.connection.read('list', () => this.connection.handle().prepare(sql).all(...params, ...params, limit + 1) as JobRow[]);
    const page = rows.slice(0, limit).map(rowToRecord);
    return { jobs: page, nextCursor: rows.length > limit ? listCursor.encode(page.at(-1)!.id) : null };
  }

  async cancel(id: string): Promise<CancelResult> {
    const { result, events } = await this.connection.write('cancel', (): { result: CancelResult; events: BackendEvent[] } => {
      const row = this.connection.statements.byId.get(id) as JobRow | undefined;
      if (!row) return { result: { outcome: 'not-found' }, events: [] };
      if (terminalStates.includes(row.state)) return { result: { outcome: 'already-finished', job: rowToRecord(row) }, events: [] };
      const now = this.connection.clock.now();
      if (row.state === 'running') {
        const updated = this.connection.statements.requestCancel.get(id) as JobRow;
        return { result: { outcome: 'cancel-requested', job: rowToRecord(updated) }, events: [{ type: 'cancel-requested', id }] };
      }
      const updated = this.connection.statements.cancelWaiting.get(now, row.keep_failed_ms === null ? null : now + row.keep_failed_ms, id) as JobRow;
      this.connection.statements.touchQueue.run({ now, queue: row.queue });
      const events: BackendEvent[] = [{ type: 'settled', id, state: 'cancelled' }];
      if (row.flow_id !== null) {
        const finished: FinishedChild[] = row.has_parents === 1 ? [{ id, state: 'cancelled' }] : [];
        // A parent cancelled while it waits takes every unfinished job below it along.
        if (isWaiting(row)) finished.push(...this.flows.cancelDescendants(id, events));
        this.flows.resolveParents(finished, events);
      }
      return { result: { outcome: 'cancelled', job: rowToRecord(updated) }, events };
    });
    for (const event of events) this.connection.emit(event);
    return result;
  }

  async retry(id: string): Promise<JobRecord> {
    const record = await this.connection.write('retry', () => {
      const row = this.connection.statements.byId.get(id) as JobRow | undefined;
      if (!row) throw new InvalidStateError(id, 'missing', 'retry');
      if (row.state !== 'failed' && row.state !== 'cancelled') throw new InvalidStateError(id, row.state, 'retry');
      if (row.failed_hook === 'pending') throw new InvalidStateError(id, hookPendingDescription, 'retry');
      try {
        // The finished row moves back to jobsmith_jobs (migration 8): copied, then removed.
        this.connection.statements.retry.run(this.connection.clock.now(), id);
        this.connection.statements.retried.run(id);
        return rowToRecord(this.connection.statements.byId.get(id) as JobRow);
      } catch (error) {
        if (isUniqueViolation(error)) throw new InvalidStateError(id, `${row.state}, and its key "${row.key}" is held by another active job`, 'retry');
        throw error;
      }
    });
    this.connection.emit({ type: 'enqueued', queue: record.queue, runAt: record.runAt });
    return record;
  }

  async delete(id: string): Promise<boolean> {
    const { deleted, events } = await this.connection.write('delete', () => {
      const events: BackendEvent[] = [];
      const row = this.connection.statements.byId.get(id) as JobRow | undefined;
      if (!row) return { deleted: false, events };
      if (row.state === 'running') throw new InvalidStateError(id, 'running', 'delete (cancel it first)');
      if (row.failed_hook === 'pending') throw new InvalidStateError(id, hookPendingDescription, 'delete');
      // Deleted before it finished: its parents count it as cancelled. Its own dependencies, as
      // a parent, go with its row (the trigger of migration 7).
      if (row.has_parents === 1 && !terminalStates.includes(row.state)) this.flows.resolveParents([{ id, state: 'cancelled' }], events);
      // Its row is in one of the two tables (migration 8).
      this.connection.statements.deleteById.run(id);
      this.connection.statements.deleteFinishedById.run(id);
      return { deleted: true, events };
    });
    for (const event of events) this.connection.emit(event);
    return deleted;
  }

  async prune(request: PruneRequest): Promise<number> {
    const states = JSON.stringify(request.states ?? terminalStates);
    return this.connection.write('prune', () => {
      const now = this.connection.clock.now();
      let removed = 0;
      if (request.finishedBy !== undefined) removed += this.connection.statements.pruneFinished.run(states, request.finishedBy).changes;
      if (request.expired) removed += this.connection.statements.pruneExpired.run(now).changes;
      this.connection.statements.pruneCounts.run(now - statsWindowMs);
      // The pages the pruned rows held go back to the volume (a new file's auto_vacuum=INCREMENTAL).
      if (removed > 0) this.connection.giveBackFreePages();
      return removed;
    });
  }

  async stats(): Promise<BackendStats> {
    await this.promoteIfDue();
    return this.connection.read('stats', () => {
      const now = this.connection.clock.now();
      const counts = this.connection.statements.stateCounts.all() as Array<{ queue: string; state: JobState; count: number }>;
      const queues = (this.connection.statements.queues.all() as Array<{ name: string; paused: number; last_processed_at: number | null }>).map((row) => ({
        queue: row.name,
        paused: row.paused === 1,
        lastProcessedAt: row.last_processed_at,
      }));
      const buckets = this.connection.statements.buckets.all(now - statsWindowMs) as BucketCount[];
      const waiting = this.connection.statements.oldestQueued.all() as WaitingRow[];
      const parents = this.connection.statements.waitingForChildren.all(waitingForChildrenRunAt) as WaitingForChildrenRow[];
      return buildStats(now, counts, queues, buckets, waiting, parents);
    });
  }
  async pause(queue: string): Promise<void> {
    await this.connection.write('pause', () => this.connection.statements.setPaused.run(queue, 1));
  }

  async resume(queue: string): Promise<void> {
    await this.connection.write('resume', () => this.connection.statements.setPaused.run(queue, 0));
    this.connection.emit({ type: 'resumed', queue });
  }

  /**
   * Readers (list, stats) show due delayed jobs as queued. They take the write lock only
   * when there is something to promote, so a polling dashboard does not contend with workers.
   */
  private async promoteIfDue(): Promise<void> {
    const { clock } = this.connection;
    if ((await this.connection.read('promote', () => this.connection.statements.anyDue.get(clock.now()))) !== undefined) {
      await this.connection.write('promote', () => this.connection.statements.promote.run(clock.now()));
    }
  }
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}
