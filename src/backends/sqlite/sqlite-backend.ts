import type { BackendCapability } from '../../contract/capabilities.ts';
import { realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type {
  Backend,
  BackendEvent,
  BackendStats,
  CancelResult,
  ClaimedJob,
  ClaimRequest,
  ClaimResult,
  EnqueueCallOptions,
  EnqueueResult,
  JobPage,
  LeaseRef,
  LeaseRequest,
  LeaseStatus,
  ListFilter,
  NewJob,
  FireResult,
  PruneRequest,
  ScheduleInput,
  ScheduleRecord,
  ScheduleTick,
  Settlement,
  SettleResult,
} from '../../contract/backend.ts';
import { enqueuedEvents } from '../../contract/backend-listeners.ts';
import { listCursor, pageSize } from '../../contract/list-cursor.ts';
import { type BucketCount, bucketOf, buildStats, statsWindowMs } from '../../contract/stats-window.ts';
import { type Clock, systemClock } from '../../domain/clock.ts';
import { ClosedError, InvalidOptionError, InvalidStateError, LeaseLostError, StoreError } from '../../domain/errors.ts';
import { newLeaseToken } from '../../domain/ids.ts';
import { type JobLogEntry, type JobProgress, type JobRecord, hookPendingDescription, recordLimits } from '../../domain/job-record.ts';
import { type JobState, terminalStates } from '../../domain/job-state.ts';
import { hubFor, releaseHub } from './sqlite-event-hub.ts';
import { claimSql } from './sqlite-claim-sql.ts';
import { nextTurn, retryWhileBusy, sqliteCodeOf } from './sqlite-lock-wait.ts';
import { sqliteMigrations } from './sqlite-migrations.ts';
import { WriteQueue } from './sqlite-write-queue.ts';
import { type JobRow, type ScheduleRow, rowToClaimed, rowToRecord, rowToSchedule } from './sqlite-rows.ts';
import { canonicalJson, sameSpec } from '../../contract/schedule-spec-equality.ts';
import type { SqliteSynchronous } from './sqlite-url.ts';

export interface SqliteBackendOptions {
  /** The database file; `:memory:` for a private in-memory database. */
  path: string;
  /**
   * `full` (default): an acknowledged enqueue or completion survives power loss.
   * `normal`: several times faster commits in WAL mode; a power loss (not a process
   * crash) may roll back the last transactions.
   */
  synchronous?: SqliteSynchronous;
  /**
   * How long a call waits for another process's write lock before it fails with a transient
   * `StoreError`. The wait is on a timer: the event loop keeps running meanwhile. @default 5000
   */
  busyTimeoutMs?: number;
  /** How often to look for commits by other processes while a worker or waiter listens; 0 turns it off. @default 10 */
  watchIntervalMs?: number;
  clock?: Clock;
}

type Db = Database.Database;
type Statement = Database.Statement;

const activeStates = "('scheduled','queued','running')";

/**
 * The write-ahead log is cut back to this size whenever it restarts: a little above what one
 * autocheckpoint cycle writes (1,000 pages of 4 KiB), so an ordinary cycle never truncates it.
 */
const walSizeLimitBytes = 6 * 1024 * 1024;
/** How often, at most, a pending fold of the log is tried (each try copies the log). */
const walFoldRetryMs = 100;

/**
 * The embedded default: one SQLite file in WAL mode, shared by any number of worker
 * processes. Every write is a `BEGIN IMMEDIATE` transaction, so two processes never
 * claim the same row; claims and completions are batched, one transaction each.
 * A call that finds the file locked by another process waits on a timer, not inside
 * SQLite (see sqlite-lock-wait.ts), and every call first lets the event loop turn.
 */
export class SqliteBackend implements Backend {
  /** What this backend can do beyond the three roles (see `BackendCapability`). */
  readonly capabilities: ReadonlySet<BackendCapability> = new Set<BackendCapability>(['change-events']);
  readonly kind = 'sqlite';
  readonly inProcess = true;
  private readonly options: SqliteBackendOptions;
  private readonly clock: Clock;
  private db: Db | null = null;
  private opening: Promise<Db> | null = null;
  private statements: ReturnType<typeof prepareStatements> | null = null;
  /**
   * When (`performance.now()`) to try folding the write-ahead log back next (`foldWal`), set
   * once a write ran out of space; null while no fold is pending.
   */
  private walFoldDueAt: number | null = null;
  /** How the last fold went, for the errors of writes that ran out of room before the next. */
  private lastWalFold = '';
  /** Lease tokens of running attempts with a cancel request, as last announced (see `announceCancelRequests`). */
  private announcedCancels = new Set<string>();
  private readonly writes: WriteQueue;
  private readonly hubKey: string;
  private readonly ownListeners = new Set<(event: BackendEvent) => void>();
  private watchTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: SqliteBackendOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.writes = new WriteQueue({
      db: () => this.openDb(),
      busyTimeoutMs: this.busyTimeoutMs,
      beforeTransaction: () => {
        if (this.walFoldDueAt !== null && performance.now() >= this.walFoldDueAt) this.foldWal();
      },
      failure: (operation, error) => this.failure(operation, error),
    });
    this.hubKey = options.path === ':memory:' ? `:memory:${Math.random()}` : canonicalPath(options.path);
  }

  async open(): Promise<void> {
    await this.connection();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopWatching();
    const hub = hubFor(this.hubKey);
    for (const listener of this.ownListeners) hub.delete(listener);
    releaseHub(this.hubKey);
    this.db?.close();
    this.db = null;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  now(): number {
    return this.clock.now();
  }

  subscribe(listener: (event: BackendEvent) => void): () => void {
    hubFor(this.hubKey).add(listener);
    this.ownListeners.add(listener);
    this.watchOtherProcesses();
    return () => {
      hubFor(this.hubKey).delete(listener);
      this.ownListeners.delete(listener);
      if (this.ownListeners.size === 0) this.stopWatching();
    };
  }

  /**
   * Commits by other processes are seen through `PRAGMA data_version`, which changes when
   * another connection commits: a read of a few microseconds, polled every
   * `watchIntervalMs` while anyone listens, instead of waiting for a worker's poll.
   * Real time on purpose: it is a polling cadence, not a delay a fake clock should drive.
   */
  private watchOtherProcesses(): void {
    if (this.watchTimer || this.closed) return;
    const ms = this.options.watchIntervalMs ?? 10;
    if (ms <= 0) return;
    let version: number | null = null;
    let cancelsToRead = false;
    this.watchTimer = setInterval(() => {
      const db = this.db;
      if (!db) return;
      let changed = false;
      let cancels: Array<{ id: string; lease_token: string }> | null = null;
      try {
        const current = db.pragma('data_version', { simple: true }) as number;
        changed = version !== null && current !== version;
        version = current;
        if (changed) cancelsToRead = true;
        if (cancelsToRead) cancels = this.stmts().cancelRequests.all() as Array<{ id: string; lease_token: string }>;
        cancelsToRead = false;
      } catch {
        // A failed look (the file busy for a moment) is tried again at the next tick; the
        // worker's poll and heartbeat cover anything missed meanwhile.
      }
      if (changed) this.emit({ type: 'changed' });
      if (cancels) this.announceCancelRequests(cancels);
    }, ms);
    this.watchTimer.unref();
  }

  /**
   * Another process may have asked to cancel a running job: emits 'cancel-requested' for each
   * running attempt with a request (`requests`, read by the watch after another process
   * committed) not announced before, so a worker here
   * aborts its handler now rather than at its next heartbeat. Attempts of other processes
   * are announced too; a worker ignores ids it does not run.
   */
  private announceCancelRequests(requests: ReadonlyArray<{ id: string; lease_token: string }>): void {
    const announced = this.announcedCancels;
    this.announcedCancels = new Set(requests.map((row) => row.lease_token));
    for (const row of requests) if (!announced.has(row.lease_token)) this.emit({ type: 'cancel-requested', id: row.id });
  }

  private stopWatching(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = null;
  }

  async enqueue(jobs: readonly NewJob[], options: EnqueueCallOptions = {}): Promise<EnqueueResult[]> {
    if (options.tx !== undefined) throw new InvalidOptionError('tx', options.tx, 'no transaction: transactional enqueue is for the postgres backend');
    const results = await this.write('enqueue', () => this.insertJobs(jobs));
    for (const event of enqueuedEvents(jobs, results)) this.emit(event);
    return results;
  }

  async enqueueRunning(job: NewJob, lease: LeaseRequest): Promise<{ created: true; job: ClaimedJob } | { created: false; id: string }> {
    return this.write('enqueue', () => {
      const inserted = this.insertJobs([job])[0]!;
      if (!inserted.created) return { created: false as const, id: inserted.id };
      const row = this.stmts().start.get(this.clock.now(), newLeaseToken(), lease.workerId, this.clock.now() + lease.leaseMs, 0, job.id) as JobRow;
      return { created: true as const, job: rowToClaimed(row, false) };
    });
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    // Idle workers poll: look before taking the write lock, so polling never blocks writers.
    const idle = await this.read('claim', () => {
      const now = this.clock.now();
      const queues = JSON.stringify(request.queues);
      const names = JSON.stringify(request.names);
      if (this.stmts().anyClaimable.get(queues, names, now, queues, names, now, queues, names, now, queues, names) !== undefined) return null;
      return { jobs: [], nextRunAt: (this.stmts().nextRunAt.get(queues, names) as { at: number | null }).at };
    });
    return idle ?? this.write('claim', () => this.claimIn(request));
  }

  async settle(settlements: readonly Settlement[], next?: ClaimRequest): Promise<SettleResult> {
    const { result, events } = await this.write('settle', () => {
      const events: BackendEvent[] = [];
      const applied = this.applySettlements(settlements, events);
      return { result: { applied, claimed: next ? this.claimIn(next) : null }, events };
    });
    for (const event of events) this.emit(event);
    return result;
  }

  async renewLeases(leases: readonly LeaseRef[], leaseMs: number): Promise<LeaseStatus[]> {
    return this.write('renewLeases', () => {
      // From when the write happens, not when it was asked for: the call may have waited for the lock.
      const expiresAt = this.clock.now() + leaseMs;
      return leases.map(({ id, token }) => {
        const row = this.stmts().renew.get(expiresAt, id, token) as { cancel_requested: number } | undefined;
        return { id, held: row !== undefined, cancelRequested: row?.cancel_requested === 1 };
      });
    });
  }

  async recordProgress(lease: LeaseRef, progress: JobProgress): Promise<void> {
    await this.write('recordProgress', () => {
      const row = this.stmts().heldHistory.get(lease.id, lease.token) as { progress_history: string } | undefined;
      if (!row) throw new LeaseLostError(lease.id);
      const history = [...(JSON.parse(row.progress_history) as JobProgress[]), progress].slice(-recordLimits.maxProgressHistory);
      this.stmts().setProgress.run(JSON.stringify(progress), JSON.stringify(history), lease.id);
    });
  }

  async appendLog(lease: LeaseRef, entry: JobLogEntry): Promise<void> {
    await this.write('appendLog', () => {
      const row = this.stmts().heldLogs.get(lease.id, lease.token) as { logs: string } | undefined;
      if (!row) throw new LeaseLostError(lease.id);
      const logs = [...(JSON.parse(row.logs) as JobLogEntry[]), entry].slice(-recordLimits.maxLogEntries);
      this.stmts().setLogs.run(JSON.stringify(logs), lease.id);
    });
  }

  async get(id: string): Promise<JobRecord | null> {
    const row = await this.read('get', () => this.stmts().byId.get(id) as JobRow | undefined);
    return row ? rowToRecord(row) : null;
  }

  async findByIdPrefix(prefix: string, limit: number): Promise<JobRecord[]> {
    // A range scan on the id index; LIKE would not use it and treats _ and % specially.
    const rows = await this.read('findByIdPrefix', () => this.stmts().byPrefix.all(prefix, `${prefix}\uffff`, limit) as JobRow[]);
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
    const sql = `SELECT * FROM jobsmith_jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    await this.promoteIfDue();
    const rows = await this.read('list', () => this.openDb().prepare(sql).all(...params, limit + 1) as JobRow[]);
    const page = rows.slice(0, limit).map(rowToRecord);
    return { jobs: page, nextCursor: rows.length > limit ? listCursor.encode(page.at(-1)!.id) : null };
  }

  async cancel(id: string): Promise<CancelResult> {
    const { result, event } = await this.write('cancel', (): { result: CancelResult; event?: BackendEvent } => {
      const row = this.stmts().byId.get(id) as JobRow | undefined;
      if (!row) return { result: { outcome: 'not-found' } };
      if (terminalStates.includes(row.state)) return { result: { outcome: 'already-finished', job: rowToRecord(row) } };
      const now = this.clock.now();
      if (row.state === 'running') {
        const updated = this.stmts().requestCancel.get(id) as JobRow;
        return { result: { outcome: 'cancel-requested', job: rowToRecord(updated) }, event: { type: 'cancel-requested', id } };
      }
      const updated = this.stmts().cancelWaiting.get(now, row.keep_failed_ms === null ? null : now + row.keep_failed_ms, id) as JobRow;
      this.stmts().touchQueue.run(now, row.queue);
      return { result: { outcome: 'cancelled', job: rowToRecord(updated) }, event: { type: 'settled', id, state: 'cancelled' } };
    });
    if (event) this.emit(event);
    return result;
  }

  async retry(id: string): Promise<JobRecord> {
    const record = await this.write('retry', () => {
      const row = this.stmts().byId.get(id) as JobRow | undefined;
      if (!row) throw new InvalidStateError(id, 'missing', 'retry');
      if (row.state !== 'failed' && row.state !== 'cancelled') throw new InvalidStateError(id, row.state, 'retry');
      if (row.failed_hook === 'pending') throw new InvalidStateError(id, hookPendingDescription, 'retry');
      try {
        return rowToRecord(this.stmts().retry.get(this.clock.now(), id) as JobRow);
      } catch (error) {
        if (isUniqueViolation(error)) throw new InvalidStateError(id, `${row.state}, and its key "${row.key}" is held by another active job`, 'retry');
        throw error;
      }
    });
    this.emit({ type: 'enqueued', queue: record.queue, runAt: record.runAt });
    return record;
  }

  async delete(id: string): Promise<boolean> {
    return this.write('delete', () => {
      const row = this.stmts().byId.get(id) as JobRow | undefined;
      if (!row) return false;
      if (row.state === 'running') throw new InvalidStateError(id, 'running', 'delete (cancel it first)');
      if (row.failed_hook === 'pending') throw new InvalidStateError(id, hookPendingDescription, 'delete');
      this.stmts().deleteById.run(id);
      return true;
    });
  }

  async prune(request: PruneRequest): Promise<number> {
    const states = JSON.stringify(request.states ?? terminalStates);
    return this.write('prune', () => {
      const now = this.clock.now();
      let removed = 0;
      if (request.finishedBy !== undefined) removed += this.stmts().pruneFinished.run(states, request.finishedBy).changes;
      if (request.expired) removed += this.stmts().pruneExpired.run(now).changes;
      this.stmts().pruneCounts.run(now - statsWindowMs);
      return removed;
    });
  }

  async stats(): Promise<BackendStats> {
    await this.promoteIfDue();
    return this.read('stats', () => {
      const now = this.clock.now();
      const counts = this.stmts().stateCounts.all() as Array<{ queue: string; state: JobState; count: number }>;
      const queues = (this.stmts().queues.all() as Array<{ name: string; paused: number; last_processed_at: number | null }>).map((row) => ({
        queue: row.name,
        paused: row.paused === 1,
        lastProcessedAt: row.last_processed_at,
      }));
      const buckets = this.stmts().buckets.all(now - statsWindowMs) as BucketCount[];
      return buildStats(now, counts, queues, buckets);
    });
  }

  async upsertSchedule(input: ScheduleInput): Promise<ScheduleRecord> {
    return this.write('upsertSchedule', () => {
      const s = this.stmts();
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
    const row = await this.read('getSchedule', () => this.stmts().scheduleById.get(id) as ScheduleRow | undefined);
    return row ? rowToSchedule(row) : null;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return this.read('listSchedules', () => (this.stmts().schedules.all() as ScheduleRow[]).map(rowToSchedule));
  }

  async removeSchedule(id: string): Promise<boolean> {
    return this.write('removeSchedule', () => this.stmts().removeSchedule.run(id).changes > 0);
  }

  async setScheduleEnabled(id: string, enabled: boolean, nextRunAt: number | null): Promise<ScheduleRecord | null> {
    return this.write('setScheduleEnabled', () => {
      const s = this.stmts();
      const existing = s.scheduleById.get(id) as ScheduleRow | undefined;
      if (!existing) return null;
      if ((existing.enabled === 1) === enabled) return rowToSchedule(existing);
      return rowToSchedule(s.setScheduleEnabled.get(enabled ? 1 : 0, nextRunAt, this.clock.now(), id) as ScheduleRow);
    });
  }

  async fireSchedule(tick: ScheduleTick): Promise<FireResult> {
    const { result, enqueued } = await this.write('fireSchedule', (): { result: FireResult; enqueued: NewJob[] } => {
      const s = this.stmts();
      const row = s.scheduleById.get(tick.id) as ScheduleRow | undefined;
      if (!row || row.enabled !== 1 || row.next_run_at !== tick.expectedNextRunAt) return { result: { outcome: 'lost' }, enqueued: [] };
      const now = this.clock.now();
      if (tick.overlap === 'skip' && row.last_job_id !== null && s.isActive.get(row.last_job_id)) {
        s.advanceSchedule.run(tick.nextRunAt, now, tick.id);
        return { result: { outcome: 'skipped-overlap' }, enqueued: [] };
      }
      const results = this.insertJobs(tick.jobs);
      s.fireSchedule.run(tick.nextRunAt, tick.firedAt, results.at(-1)?.id ?? row.last_job_id, now, tick.id);
      return {
        result: { outcome: 'fired', jobIds: results.map((item) => item.id) },
        enqueued: tick.jobs.filter((_job, index) => results[index]!.created),
      };
    });
    for (const job of enqueued) this.emit({ type: 'enqueued', queue: job.queue, runAt: job.runAt });
    return result;
  }

  async pause(queue: string): Promise<void> {
    await this.write('pause', () => this.stmts().setPaused.run(queue, 1));
  }

  async resume(queue: string): Promise<void> {
    await this.write('resume', () => this.stmts().setPaused.run(queue, 0));
    this.emit({ type: 'resumed', queue });
  }

  // ── internals ──────────────────────────────────────────────────────────────

  /** The open connection; the first call opens it (see `openConnection`). */
  private async connection(): Promise<Db> {
    if (this.closed) throw new ClosedError('The SQLite backend');
    if (this.db) return this.db;
    this.opening ??= this.openConnection().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private get busyTimeoutMs(): number {
    return this.options.busyTimeoutMs ?? 5000;
  }

  private async openConnection(): Promise<Db> {
    const { path } = this.options;
    const deadline = performance.now() + this.busyTimeoutMs;
    let db: Db | null = null;
    try {
      // No busy timeout: SQLite would wait for a lock inside the call, blocking the event loop.
      db = new Database(path, { timeout: 0 });
      const opening = db;
      // Switching a file to WAL needs a lock SQLite would not wait for anyway (it reports
      // SQLITE_BUSY at once): retry, so processes opening a new file together all succeed.
      await retryWhileBusy(deadline, () => opening.pragma('journal_mode = WAL'));
      db.pragma(`synchronous = ${(this.options.synchronous ?? 'full').toUpperCase()}`);
      db.pragma('foreign_keys = ON');
      // A log that grew (a burst, or checkpoints held back by readers) shrinks again when it
      // restarts, instead of keeping its largest size on disk for good.
      db.pragma(`journal_size_limit = ${walSizeLimitBytes}`);
      await retryWhileBusy(deadline, () => migrate(opening, this.clock.now()));
      // A log left larger than that (by a full volume, say) is folded back before the first call.
      if (walFileBytes(path) > walSizeLimitBytes) this.walFoldDueAt = 0;
    } catch (error) {
      db?.close();
      const sqliteCode = sqliteCodeOf(error);
      throw new StoreError(`Cannot open the SQLite database at "${path}" (${dirname(resolve(path))}): ${(error as Error).message}`, {
        cause: error,
        details: { path, ...(sqliteCode === null ? {} : { sqliteCode }) },
        transient: isTransient(sqliteCode),
      });
    }
    if (this.closed) {
      db.close();
      throw new ClosedError('The SQLite backend');
    }
    this.db = db;
    this.statements = prepareStatements(db);
    return db;
  }

  /** Read-only connection settings, for diagnostics and tests. The backend must be open. */
  settings(): { journalMode: string; synchronous: 'full' | 'normal' | 'off' | 'extra'; busyTimeoutMs: number; walSizeLimitBytes: number } {
    const db = this.openDb();
    const synchronous = ['off', 'normal', 'full', 'extra'][db.pragma('synchronous', { simple: true }) as number] as 'full';
    return {
      journalMode: String(db.pragma('journal_mode', { simple: true })),
      synchronous,
      busyTimeoutMs: this.busyTimeoutMs,
      walSizeLimitBytes: db.pragma('journal_size_limit', { simple: true }) as number,
    };
  }

  private openDb(): Db {
    if (this.db) return this.db;
    if (this.closed) throw new ClosedError('The SQLite backend');
    throw new StoreError(`The SQLite database at "${this.options.path}" is not open yet: await open() first`, { details: { path: this.options.path } });
  }

  private stmts(): ReturnType<typeof prepareStatements> {
    this.openDb();
    return this.statements!;
  }

  /**
   * A call that writes: `fn` runs in a `BEGIN IMMEDIATE` transaction, with any other writes of
   * this backend that wait for the lock at the same time (sqlite-write-queue.ts). `fn` must
   * change nothing outside the database: it may run again.
   *
   * Every call, read or write, first lets the event loop turn (`nextTurn`): the work is
   * synchronous, and without a turn a loop of awaited calls (`for … await enqueue`) starves
   * timers, I/O and a worker in the same process. It costs a few µs a call; an enqueue with
   * its commit takes a hundred or more.
   */
  private async write<T>(operation: string, fn: () => T): Promise<T> {
    await this.connection();
    await nextTurn();
    return this.writes.run(operation, fn);
  }

  /** A call that only reads: in WAL mode it needs no lock, except for moments (a log being reset), waited out on a timer. */
  private async read<T>(operation: string, fn: () => T): Promise<T> {
    await this.connection();
    await nextTurn();
    try {
      return await retryWhileBusy(performance.now() + this.busyTimeoutMs, fn);
    } catch (error) {
      throw this.failure(operation, error);
    }
  }

  /**
   * What a failed call throws: store failures become `StoreError`, transient when they may
   * pass by themselves; anything else (`LeaseLostError`, `ClosedError`, …) as it is.
   * Always runs outside a transaction, so a full store can fold its log here.
   */
  private failure(operation: string, error: unknown): unknown {
    const sqliteCode = sqliteCodeOf(error);
    if (sqliteCode === null) return error;
    const walFold = sqliteCode === 'SQLITE_FULL' ? this.afterFull() : undefined;
    return new StoreError(`SQLite ${operation} failed: ${(error as Error).message}`, {
      cause: error,
      details: { operation, sqliteCode, ...(walFold === undefined ? {} : { walFold }) },
      transient: isTransient(sqliteCode),
    });
  }

  /**
   * A write found no space (a full volume, or `max_page_count`). The write-ahead log may hold
   * megabytes that SQLite folds back only past its autocheckpoint size and never gives back
   * to the volume, so a store that once ran full could stay full, even for the `prune` that
   * would free space. Folds it back and cuts it to zero now, and keeps trying before calls
   * (at most every `walFoldRetryMs`) until that succeeds. Says how the fold went, for the error.
   */
  private afterFull(): string {
    if (this.walFoldDueAt !== null && performance.now() < this.walFoldDueAt) return `pending; the last try ${this.lastWalFold}`;
    return this.foldWal();
  }

  /**
   * Copies the whole write-ahead log into the database file and truncates it to zero bytes
   * (`wal_checkpoint(TRUNCATE)`). Without a busy timeout it gives up at once while another
   * connection reads an older snapshot or writes, and it fails while the file cannot grow;
   * either way it is tried again later. That failure is not the failure of the call it
   * precedes, so it is returned, not thrown: `afterFull` reports it in the call's error.
   */
  private foldWal(): string {
    this.walFoldDueAt = performance.now() + walFoldRetryMs;
    try {
      const [result] = this.openDb().pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
      if (result?.busy !== 0) return (this.lastWalFold = 'deferred: another connection is using the log');
      this.walFoldDueAt = null;
      return (this.lastWalFold = 'folded and truncated');
    } catch (error) {
      return (this.lastWalFold = `failed: ${(error as Error).message}`);
    }
  }

  private insertJob(job: NewJob): EnqueueResult {
    const s = this.stmts();
    const state: JobState = job.runAt > this.clock.now() ? 'scheduled' : 'queued';
    const info = s.insert.run(
      job.id,
      job.name,
      job.queue,
      state,
      job.payload,
      JSON.stringify(job.metadata),
      job.priority,
      job.key,
      job.maxAttempts,
      job.backoff === null ? null : JSON.stringify(job.backoff),
      job.timeoutMs,
      job.keepCompletedMs,
      job.keepFailedMs,
      job.runAt,
      job.createdAt,
    );
    if (info.changes === 0) {
      const existing = s.byKey.get(job.name, job.key) as { id: string } | undefined;
      if (!existing) throw new StoreError(`Job "${job.id}" was not stored and no job holds its key`, { details: { id: job.id } });
      return { id: existing.id, created: false };
    }
    return { id: job.id, created: true };
  }

  /** Inserts jobs (inside the caller's transaction), recording each queue once, not once per job. */
  private insertJobs(jobs: readonly NewJob[]): EnqueueResult[] {
    const results = jobs.map((job) => this.insertJob(job));
    for (const queue of new Set(jobs.filter((_job, index) => results[index]!.created).map((job) => job.queue))) this.stmts().ensureQueue.run(queue);
    return results;
  }

  private claimIn(request: ClaimRequest): ClaimResult {
    const s = this.stmts();
    const now = this.clock.now();
    const names = JSON.stringify(request.names);
    const paused = new Set((s.pausedQueues.all() as Array<{ name: string }>).map((row) => row.name));
    const queues = request.queues.filter((queue) => !paused.has(queue));
    const jobs: ClaimedJob[] = [];
    if (queues.length === 0) return { jobs, nextRunAt: null };
    const queueList = JSON.stringify(queues);
    const lease = () => [now, newLeaseToken(), request.workerId, now + request.leaseMs] as const;

    for (const row of s.expired.all(now, queueList, names, request.limit) as Array<{ id: string; cancel_requested: number; keep_failed_ms: number | null; queue: string }>) {
      if (row.cancel_requested === 1) {
        s.cancelExpired.run(now, row.keep_failed_ms === null ? null : now + row.keep_failed_ms, row.id);
        s.touchQueue.run(now, row.queue);
        continue;
      }
      jobs.push(rowToClaimed(s.start.get(...lease(), 1, row.id) as JobRow, true));
    }
    // Failed jobs whose hook's worker died: taken over for the hook alone, still failed.
    if (jobs.length < request.limit) {
      for (const row of s.expiredHooks.all(now, queueList, names, request.limit - jobs.length) as Array<{ id: string }>) {
        jobs.push(rowToClaimed(s.takeOverHook.get(newLeaseToken(), request.workerId, now + request.leaseMs, row.id) as JobRow, true));
      }
    }
    this.promoteDue();
    if (jobs.length < request.limit) {
      const want = request.limit - jobs.length;
      // One index range per queue, merged here: an IN list over queues would lose the index order.
      const candidates = queues.flatMap((queue) => s.ready.all(queue, names, want) as Array<{ seq: number; priority: number; run_at: number }>);
      if (queues.length > 1) candidates.sort((a, b) => b.priority - a.priority || a.run_at - b.run_at || a.seq - b.seq);
      const chosen = candidates.slice(0, want);
      if (chosen.length > 0) {
        // One statement for the batch. Each attempt's token is a fresh random prefix for this
        // claim plus the row's seq: unique per attempt, without a statement per row.
        const started = s.startBatch.all(now, `${newLeaseToken()}-`, request.workerId, now + request.leaseMs, JSON.stringify(chosen.map((c) => c.seq))) as JobRow[];
        const order = new Map(chosen.map((candidate, index) => [candidate.seq, index]));
        started.sort((a, b) => order.get(a.seq)! - order.get(b.seq)!);
        for (const row of started) jobs.push(rowToClaimed(row, false));
      }
    }
    let nextRunAt: number | null = null;
    if (jobs.length < request.limit) nextRunAt = (s.nextRunAt.get(queueList, names) as { at: number | null }).at;
    return { jobs, nextRunAt };
  }

  private promoteDue(): void {
    this.stmts().promote.run(this.clock.now());
  }

  /**
   * Readers (list, stats) show due delayed jobs as queued. They take the write lock only
   * when there is something to promote, so a polling dashboard does not contend with workers.
   */
  private async promoteIfDue(): Promise<void> {
    if ((await this.read('promote', () => this.stmts().anyDue.get(this.clock.now()))) !== undefined) await this.write('promote', () => this.promoteDue());
  }

  private applySettlements(settlements: readonly Settlement[], events: BackendEvent[]): boolean[] {
    const s = this.stmts();
    const now = this.clock.now();
    const counts = new Map<string, { completed: number; failed: number }>();
    const count = (queue: string, field: 'completed' | 'failed' | null) => {
      const row = counts.get(queue) ?? { completed: 0, failed: 0 };
      if (field) row[field]++;
      counts.set(queue, row);
    };
    // Completions, the common case, are one statement for the whole batch.
    const completes = settlements.filter((settlement) => settlement.kind === 'complete');
    const completed = new Set<string>();
    // An outcome whose attempt's outcome is already stored: written before, and its reply lost.
    const alreadyApplied = (id: string, token: string) => s.settledBy.get(id, token) !== undefined;
    if (completes.length > 0) {
      const input = JSON.stringify(completes.map((c) => ({ id: c.id, token: c.token, result: c.result, expiresAt: c.expiresAt })));
      for (const row of s.completeBatch.all(now, input) as Array<{ id: string; queue: string }>) {
        completed.add(row.id);
        count(row.queue, 'completed');
        events.push({ type: 'settled', id: row.id, state: 'completed' });
      }
    }
    const applied = settlements.map((settlement) => {
      const { id, token } = settlement;
      let row: { queue: string } | undefined;
      switch (settlement.kind) {
        case 'complete':
          return completed.has(id) || alreadyApplied(id, token);
        case 'retry':
          row = s.retryLater.get(
            settlement.runAt > now ? 'scheduled' : 'queued',
            settlement.countAttempt ? 1 : 0,
            settlement.error === null ? null : JSON.stringify(settlement.error),
            settlement.runAt,
            id,
            token,
          ) as typeof row;
          if (row) events.push({ type: 'enqueued', queue: row.queue, runAt: settlement.runAt });
          break;
        case 'fail':
          row = s.fail.get({
            attempts: settlement.countAttempt ? 1 : 0,
            error: JSON.stringify(settlement.error),
            now,
            expiresAt: settlement.expiresAt,
            hookPending: settlement.hookPending ? 1 : 0,
            id,
            token,
          }) as typeof row;
          if (row) count(row.queue, 'failed');
          if (row) events.push({ type: 'settled', id, state: 'failed' });
          break;
        case 'cancel':
          row = s.cancelRunning.get(settlement.error === null ? null : JSON.stringify(settlement.error), now, settlement.expiresAt, id, token) as typeof row;
          if (row) count(row.queue, null);
          if (row) events.push({ type: 'settled', id, state: 'cancelled' });
          break;
        case 'hook-done':
          return s.hookDone.get(id, token) !== undefined || s.hookDoneBy.get(id, token) !== undefined;
      }
      return row !== undefined || alreadyApplied(id, token);
    });
    const bucket = bucketOf(now);
    for (const [queue, { completed, failed }] of counts) {
      s.touchQueue.run(now, queue);
      if (completed + failed > 0) s.addCounts.run(queue, bucket, completed, failed);
    }
    return applied;
  }

  private emit(event: BackendEvent): void {
    for (const listener of [...hubFor(this.hubKey)]) listener(event);
  }
}

/** The file's path with symlinked folders resolved, so every route to one file shares one event hub. */
function canonicalPath(path: string): string {
  const absolute = resolve(path);
  try {
    return join(realpathSync(dirname(absolute)), basename(absolute));
  } catch {
    return absolute;
  }
}

function migrate(db: Db, now: number): void {
  db.exec('CREATE TABLE IF NOT EXISTS jobsmith_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  db.transaction(() => {
    const applied = new Set((db.prepare('SELECT version FROM jobsmith_migrations').all() as Array<{ version: number }>).map((row) => row.version));
    for (const migration of sqliteMigrations) {
      if (applied.has(migration.version)) continue;
      db.exec(migration.sql);
      db.prepare('INSERT INTO jobsmith_migrations (version, applied_at) VALUES (?, ?)').run(migration.version, now);
    }
  }).immediate();
}

function walFileBytes(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * Failures that may pass by themselves, which workers back off from and retry: another
 * process holding a lock past the busy timeout, and a full volume (space can come back;
 * see `afterFull`). Anything else (a corrupt file, missing rights) is reported as is.
 */
function isTransient(sqliteCode: string | null): boolean {
  return sqliteCode !== null && (sqliteCode.startsWith('SQLITE_BUSY') || sqliteCode === 'SQLITE_FULL');
}

const leaseColumns = 'lease_token = NULL, lease_worker = NULL, lease_expires_at = NULL';
const held = "id = ? AND state = 'running' AND lease_token = ?";

function prepareStatements(db: Db) {
  const prepare = (sql: string): Statement => db.prepare(sql);
  return {
    insert: prepare(`INSERT OR IGNORE INTO jobsmith_jobs
      (id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    byKey: prepare(`SELECT id FROM jobsmith_jobs WHERE name = ? AND key = ? AND state IN ${activeStates}`),
    ensureQueue: prepare('INSERT OR IGNORE INTO jobsmith_queues (name) VALUES (?)'),
    byId: prepare('SELECT * FROM jobsmith_jobs WHERE id = ?'),
    byPrefix: prepare('SELECT * FROM jobsmith_jobs WHERE id >= ? AND id < ? ORDER BY id LIMIT ?'),
    pausedQueues: prepare('SELECT name FROM jobsmith_queues WHERE paused = 1'),
    promote: prepare(claimSql.promote),
    anyClaimable: prepare(claimSql.anyClaimable),
    anyDue: prepare("SELECT 1 AS due FROM jobsmith_jobs WHERE state = 'scheduled' AND run_at <= ? LIMIT 1"),
    expired: prepare(claimSql.expired),
    expiredHooks: prepare(claimSql.expiredHooks),
    ready: prepare(claimSql.ready),
    nextRunAt: prepare(claimSql.nextRunAt),
    start: prepare(`UPDATE jobsmith_jobs SET state = 'running', started_at = ?, lease_token = ?, lease_worker = ?, lease_expires_at = ?,
      crashes = crashes + ? WHERE id = ? RETURNING *`),
    startBatch: prepare(claimSql.startBatch),
    completeBatch: prepare(`UPDATE jobsmith_jobs AS j SET state = 'completed', attempts = j.attempts + 1, result = s.result, finished_at = ?,
        expires_at = s.expires_at, cancel_requested = 0, settled_token = s.token, ${leaseColumns}
      FROM (SELECT value ->> 'id' AS id, value ->> 'token' AS token, value -> 'result' AS result, value ->> 'expiresAt' AS expires_at
            FROM json_each(?)) AS s
      WHERE j.id = s.id AND j.state = 'running' AND j.lease_token = s.token
      RETURNING id, queue`),
    cancelExpired: prepare(`UPDATE jobsmith_jobs SET state = 'cancelled', finished_at = ?, expires_at = ?, cancel_requested = 0, ${leaseColumns} WHERE id = ?`),
    renew: prepare(`UPDATE jobsmith_jobs SET lease_expires_at = ?
      WHERE id = ? AND lease_token = ? AND (state = 'running' OR failed_hook = 'pending') RETURNING cancel_requested`),
    heldHistory: prepare(`SELECT progress_history FROM jobsmith_jobs WHERE ${held}`),
    setProgress: prepare('UPDATE jobsmith_jobs SET progress = ?, progress_history = ? WHERE id = ?'),
    heldLogs: prepare(`SELECT logs FROM jobsmith_jobs WHERE ${held}`),
    setLogs: prepare('UPDATE jobsmith_jobs SET logs = ? WHERE id = ?'),
    retryLater: prepare(`UPDATE jobsmith_jobs SET state = ?, attempts = attempts + ?, error = coalesce(?, error), run_at = ?,
      settled_token = lease_token, ${leaseColumns} WHERE ${held} RETURNING queue`),
    // With its hook pending, a failed job keeps the lease: the worker that runs the hook holds it.
    fail: prepare(`UPDATE jobsmith_jobs SET state = 'failed', attempts = attempts + @attempts, error = @error, finished_at = @now,
      expires_at = @expiresAt, cancel_requested = 0, settled_token = lease_token,
      failed_hook = CASE WHEN @hookPending THEN 'pending' END,
      lease_token = CASE WHEN @hookPending THEN lease_token END, lease_worker = CASE WHEN @hookPending THEN lease_worker END,
      lease_expires_at = CASE WHEN @hookPending THEN lease_expires_at END
      WHERE id = @id AND state = 'running' AND lease_token = @token RETURNING queue`),
    cancelRunning: prepare(`UPDATE jobsmith_jobs SET state = 'cancelled', error = coalesce(?, error), finished_at = ?, expires_at = ?,
      cancel_requested = 0, settled_token = lease_token, ${leaseColumns} WHERE ${held} RETURNING queue`),
    hookDone: prepare(`UPDATE jobsmith_jobs SET failed_hook = 'done', settled_token = lease_token, ${leaseColumns}
      WHERE id = ? AND state = 'failed' AND failed_hook = 'pending' AND lease_token = ? RETURNING queue`),
    // A hook-done counts as written again only once the hook is done: while it is pending, the
    // failure's token is the stored one, and a dead worker's lease must not end another's hook.
    hookDoneBy: prepare("SELECT 1 AS applied FROM jobsmith_jobs WHERE id = ? AND failed_hook = 'done' AND settled_token = ?"),
    settledBy: prepare('SELECT 1 AS applied FROM jobsmith_jobs WHERE id = ? AND settled_token = ?'),
    takeOverHook: prepare(`UPDATE jobsmith_jobs SET lease_token = ?, lease_worker = ?, lease_expires_at = ?, crashes = crashes + 1
      WHERE id = ? RETURNING *`),
    requestCancel: prepare('UPDATE jobsmith_jobs SET cancel_requested = 1 WHERE id = ? RETURNING *'),
    // Reads only the running rows (through an index on state); there are as many as jobs run.
    cancelRequests: prepare("SELECT id, lease_token FROM jobsmith_jobs WHERE state = 'running' AND cancel_requested = 1"),
    cancelWaiting: prepare(`UPDATE jobsmith_jobs SET state = 'cancelled', finished_at = ?, expires_at = ? WHERE id = ? RETURNING *`),
    retry: prepare(`UPDATE jobsmith_jobs SET state = 'queued', attempts = 0, crashes = 0, run_at = ?, finished_at = NULL, expires_at = NULL,
      cancel_requested = 0, failed_hook = NULL WHERE id = ? RETURNING *`),
    deleteById: prepare('DELETE FROM jobsmith_jobs WHERE id = ?'),
    // A job whose failed hook is pending stays until the hook has run.
    pruneFinished: prepare(`DELETE FROM jobsmith_jobs WHERE state IN (SELECT value FROM json_each(?))
      AND state IN ('completed','failed','cancelled') AND finished_at <= ? AND failed_hook IS NOT 'pending'`),
    pruneExpired: prepare(`DELETE FROM jobsmith_jobs WHERE expires_at <= ? AND state IN ('completed','failed','cancelled')
      AND failed_hook IS NOT 'pending'`),
    pruneCounts: prepare('DELETE FROM jobsmith_counts WHERE bucket <= ?'),
    stateCounts: prepare('SELECT queue, state, count(*) AS count FROM jobsmith_jobs GROUP BY state, queue'),
    queues: prepare('SELECT name, paused, last_processed_at FROM jobsmith_queues'),
    buckets: prepare('SELECT queue, bucket, completed, failed FROM jobsmith_counts WHERE bucket > ?'),
    touchQueue: prepare('UPDATE jobsmith_queues SET last_processed_at = ? WHERE name = ?'),
    addCounts: prepare(`INSERT INTO jobsmith_counts (queue, bucket, completed, failed) VALUES (?, ?, ?, ?)
      ON CONFLICT (queue, bucket) DO UPDATE SET completed = completed + excluded.completed, failed = failed + excluded.failed`),
    scheduleById: prepare('SELECT * FROM jobsmith_schedules WHERE id = ?'),
    schedules: prepare('SELECT * FROM jobsmith_schedules ORDER BY id'),
    upsertSchedule: prepare(`INSERT INTO jobsmith_schedules (id, spec, enabled, next_run_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, enabled = excluded.enabled, next_run_at = excluded.next_run_at,
      updated_at = excluded.updated_at RETURNING *`),
    setScheduleEnabled: prepare('UPDATE jobsmith_schedules SET enabled = ?, next_run_at = ?, updated_at = ? WHERE id = ? RETURNING *'),
    removeSchedule: prepare('DELETE FROM jobsmith_schedules WHERE id = ?'),
    isActive: prepare(`SELECT 1 AS active FROM jobsmith_jobs WHERE id = ? AND state IN ${activeStates}`),
    advanceSchedule: prepare('UPDATE jobsmith_schedules SET next_run_at = ?, updated_at = ? WHERE id = ?'),
    fireSchedule: prepare('UPDATE jobsmith_schedules SET next_run_at = ?, last_run_at = coalesce(?, last_run_at), last_job_id = ?, updated_at = ? WHERE id = ?'),
    setPaused: prepare(`INSERT INTO jobsmith_queues (name, paused) VALUES (?, ?)
      ON CONFLICT (name) DO UPDATE SET paused = excluded.paused`),
  };
}
