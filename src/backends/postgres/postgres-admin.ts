import { waitingForChildrenRunAt } from '../../contract/flow-store.ts';
import type { BackendStats, CancelResult, JobAdmin, JobPage, ListFilter, PruneRequest } from '../../contract/job-admin.ts';
import { listCursor, pageSize } from '../../contract/list-cursor.ts';
import { type BucketCount, buildStats, statsWindowMs, type WaitingForChildrenRow, type WaitingRow } from '../../contract/stats-window.ts';
import { InvalidStateError } from '../../domain/errors.ts';
import type { FailedHookState, JobRecord } from '../../domain/job-record.ts';
import { hookPendingDescription } from '../../domain/job-record.ts';
import { type JobState, terminalStates } from '../../domain/job-state.ts';
import { type PostgresConnection, loadStatements, q } from './postgres-connection.ts';
import type { PostgresFlows } from './postgres-flows.ts';
import { type PgJobRow, isWaitingParent, pgRowToRecord } from './postgres-rows.ts';

const adminStatements = [
  'getJob',
  'findJobsInIdRange',
  'listJobs',
  'lockJob',
  'requestCancel',
  'notify',
  'cancelJob',
  'touchQueue',
  'keyHeldByActiveJob',
  'requeueJob',
  'lockJobState',
  'deleteJob',
  'pruneFinished',
  'pruneExpired',
  'pruneCounts',
  'countJobs',
  'listQueues',
  'countFinished',
  'oldestQueued',
  'waitingForChildren',
  'pauseQueue',
  'resumeQueue',
  'promoteDue',
] as const;

/** The JobAdmin role: reading, cancelling, retrying, deleting and pruning jobs; stats; pausing queues. */
export class PostgresAdmin implements JobAdmin {
  private readonly sql: Record<(typeof adminStatements)[number], string>;

  constructor(
    private readonly connection: PostgresConnection,
    /** The flows role, whose rules a cancel, a delete and a prune keep in their own transactions. */
    private readonly flows: PostgresFlows,
  ) {
    this.sql = loadStatements(new URL('./sql/admin.sql', import.meta.url), adminStatements, connection);
  }

  async get(id: string): Promise<JobRecord | null> {
    if (!isUuid(id)) return null;
    const { rows } = await this.connection.run('get', (db) => q<PgJobRow>(db, this.sql.getJob, [id]));
    return rows[0] ? pgRowToRecord(rows[0]) : null;
  }

  async findByIdPrefix(prefix: string, limit: number): Promise<JobRecord[]> {
    // uuid sorts by its bytes as text does by hex digits, so a prefix is a range.
    const low = `${prefix}${'00000000-0000-0000-0000-000000000000'.slice(prefix.length)}`;
    const high = `${prefix}${'ffffffff-ffff-ffff-ffff-ffffffffffff'.slice(prefix.length)}`;
    if (!isUuid(low) || !isUuid(high)) return [];
    const { rows } = await this.connection.run('findByIdPrefix', (db) => q<PgJobRow>(db, this.sql.findJobsInIdRange, [low, high, limit]));
    return rows.map(pgRowToRecord);
  }

  async list(filter: ListFilter): Promise<JobPage> {
    const limit = pageSize(filter.limit);
    const after = listCursor.decode(filter.cursor);
    // Built here rather than in admin.sql: only the filters given are in the WHERE, so which
    // conditions appear, and the number of each parameter, vary from call to call.
    const where: string[] = [];
    const values: unknown[] = [];
    const param = (value: unknown) => {
      values.push(value);
      return `$${values.length}`;
    };
    if (filter.state !== undefined) where.push(`state = ANY (${param(typeof filter.state === 'string' ? [filter.state] : [...filter.state])}::text[])`);
    if (filter.queue !== undefined) where.push(`queue = ${param(filter.queue)}`);
    if (filter.name !== undefined) where.push(`name = ${param(filter.name)}`);
    if (after !== null) where.push(`id < ${param(after)}`);
    await this.promoteDue();
    const text = `${this.sql.listJobs} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${param(limit + 1)}`;
    const { rows } = await this.connection.run('list', (db) => q<PgJobRow>(db, text, values));
    const page = rows.slice(0, limit).map(pgRowToRecord);
    return { jobs: page, nextCursor: rows.length > limit ? listCursor.encode(page.at(-1)!.id) : null };
  }

  async cancel(id: string): Promise<CancelResult> {
    if (!isUuid(id)) return { outcome: 'not-found' };
    const now = this.connection.clock.now();
    const flowEvents = { cancelled: [] as string[], requested: [] as string[] };
    const result = await this.connection.inTransaction(undefined, 'cancel', async (db): Promise<CancelResult> => {
      // A waiting parent's unfinished descendants first, as a settle locks a child before its parent.
      await this.flows.lockDescendants(db, id);
      const { rows } = await lockInEitherTable(() => q<PgJobRow>(db, this.sql.lockJob, [id]));
      const row = rows[0];
      if (!row) return { outcome: 'not-found' };
      if (terminalStates.includes(row.state)) return { outcome: 'already-finished', job: pgRowToRecord(row) };
      if (row.state === 'running') {
        const updated = await q<PgJobRow>(db, this.sql.requestCancel, [id]);
        // Tells the worker that runs it, wherever it is, at once.
        await q(db, this.sql.notify, [this.connection.channel, `c:${id}`]);
        return { outcome: 'cancel-requested', job: pgRowToRecord(updated.rows[0]!) };
      }
      const updated = await q<PgJobRow>(db, this.sql.cancelJob, [id, now]);
      await q(db, this.sql.touchQueue, [row.queue, now]);
      // In a flow, in this same transaction: its parents are resolved, then, if it was waiting
      // for children, its unfinished descendants are cancelled (flow-store.ts).
      if (row.has_parents) await this.flows.resolveParents(db, [id], now);
      if (isWaitingParent(row)) Object.assign(flowEvents, await this.flows.cancelDescendants(db, id, now));
      return { outcome: 'cancelled', job: pgRowToRecord(updated.rows[0]!) };
    });
    if (result.outcome === 'cancel-requested') this.connection.emit({ type: 'cancel-requested', id });
    if (result.outcome === 'cancelled') this.connection.emit({ type: 'settled', id, state: 'cancelled' });
    for (const descendant of flowEvents.cancelled) this.connection.emit({ type: 'settled', id: descendant, state: 'cancelled' });
    for (const descendant of flowEvents.requested) this.connection.emit({ type: 'cancel-requested', id: descendant });
    return result;
  }

  async retry(id: string): Promise<JobRecord> {
    const record = await this.connection.inTransaction(undefined, 'retry', async (db) => {
      const { rows } = isUuid(id) ? await lockInEitherTable(() => q<PgJobRow>(db, this.sql.lockJob, [id])) : { rows: [] };
      const row = rows[0];
      if (!row) throw new InvalidStateError(id, 'missing', 'retry');
      if (row.state !== 'failed' && row.state !== 'cancelled') throw new InvalidStateError(id, row.state, 'retry');
      if (row.failed_hook === 'pending') throw new InvalidStateError(id, hookPendingDescription, 'retry');
      const clash = row.key === null ? [] : (await q(db, this.sql.keyHeldByActiveJob, [row.name, row.key])).rows;
      if (clash.length > 0) throw new InvalidStateError(id, `${row.state}, and its key "${row.key}" is held by another active job`, 'retry');
      const updated = await q<PgJobRow>(db, this.sql.requeueJob, [id, this.connection.clock.now()]);
      // An UPDATE fires no insert trigger: wake idle workers here.
      await q(db, this.sql.notify, [this.connection.channel, `q:${row.queue}`]);
      return pgRowToRecord(updated.rows[0]!);
    });
    this.connection.emit({ type: 'enqueued', queue: record.queue, runAt: record.runAt });
    return record;
  }

  async delete(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    return this.connection.inTransaction(undefined, 'delete', async (db) => {
      // A parent's children first, as a settle locks a child before its parent.
      await this.flows.lockChildren(db, id);
      const { rows } = await lockInEitherTable(() =>
        q<{ state: JobState; failed_hook: FailedHookState; has_parents: boolean; total_children: number }>(db, this.sql.lockJobState, [id]),
      );
      const row = rows[0];
      if (!row) return false;
      if (row.state === 'running') throw new InvalidStateError(id, 'running', 'delete (cancel it first)');
      if (row.failed_hook === 'pending') throw new InvalidStateError(id, hookPendingDescription, 'delete');
      // A flow job deleted before it finished counts as cancelled for its parents; a parent's
      // dependencies go with it, its children stay (flow-store.ts).
      if (row.has_parents && !terminalStates.includes(row.state)) await this.flows.resolveParents(db, [id], this.connection.clock.now());
      await q(db, this.sql.deleteJob, [id]);
      if (row.total_children > 0) await this.flows.forgetParents(db, [id]);
      return true;
    });
  }

  async prune(request: PruneRequest): Promise<number> {
    const now = this.connection.clock.now();
    // A transaction: the parents a prune removes, with their dependencies, after the jobs without children (postgres-flows.ts).
    return this.connection.inTransaction(undefined, 'prune', async (db) => {
      let removed = 0;
      const states = [...(request.states ?? terminalStates)];
      if (request.finishedBy !== undefined) {
        const result = await q(db, this.sql.pruneFinished, [states, request.finishedBy]);
        removed += result.rowCount ?? 0;
      }
      if (request.expired) {
        // A job whose failed hook is pending stays until the hook has run.
        const result = await q(db, this.sql.pruneExpired, [now]);
        removed += result.rowCount ?? 0;
      }
      if (request.finishedBy !== undefined || request.expired) {
        removed += await this.flows.pruneParents(db, { states, finishedBy: request.finishedBy ?? null, expiredBy: request.expired ? now : null });
      }
      await q(db, this.sql.pruneCounts, [now - statsWindowMs]);
      return removed;
    });
  }

  async stats(): Promise<BackendStats> {
    await this.promoteDue();
    const now = this.connection.clock.now();
    return this.connection.run('stats', async (db) => {
      const counts = await q<{ queue: string; state: JobState; count: number }>(db, this.sql.countJobs);
      const queues = await q<{ name: string; paused: boolean; last_processed_at: number | null }>(db, this.sql.listQueues);
      const buckets = await q<BucketCount>(db, this.sql.countFinished, [now - statsWindowMs]);
      const waiting = await q<WaitingRow>(db, this.sql.oldestQueued);
      const parents = await q<WaitingForChildrenRow>(db, this.sql.waitingForChildren, [waitingForChildrenRunAt]);
      return buildStats(
        now,
        counts.rows,
        queues.rows.map((row) => ({ queue: row.name, paused: row.paused, lastProcessedAt: row.last_processed_at })),
        buckets.rows,
        waiting.rows,
        parents.rows,
      );
    });
  }

  async pause(queue: string): Promise<void> {
    await this.connection.run('pause', (db) => q(db, this.sql.pauseQueue, [queue]));
  }

  async resume(queue: string): Promise<void> {
    await this.connection.run('resume', (db) => q(db, this.sql.resumeQueue, [queue, this.connection.channel]));
    this.connection.emit({ type: 'resumed', queue });
  }

  private async promoteDue(): Promise<void> {
    await this.connection.run('promote', (db) => q(db, this.sql.promoteDue, [this.connection.clock.now()]));
  }
}

/**
 * Locks a job in `jobs` or `finished_jobs` (migration 11). A job that a settle moves to
 * finished_jobs while this waits for its row is deleted from jobs when the wait ends, and its
 * new row is newer than the statement's snapshot: found in neither table. A second statement
 * (a new snapshot under READ COMMITTED) finds it where it went.
 */
async function lockInEitherTable<Row>(lock: () => Promise<{ rows: Row[] }>): Promise<{ rows: Row[] }> {
  const first = await lock();
  return first.rows.length > 0 ? first : lock();
}

export function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}
