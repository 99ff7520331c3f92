import type { BackendEvent } from '../../contract/backend.ts';
import { enqueuedEvents } from '../../contract/backend-listeners.ts';
import type {
  ClaimedJob,
  ClaimRequest,
  ClaimResult,
  EnqueueCallOptions,
  EnqueueResult,
  JobQueue,
  LeaseRef,
  LeaseRequest,
  LeaseStatus,
  NewJob,
  Settlement,
  SettleResult,
} from '../../contract/job-queue.ts';
import type { PresenceRenewal } from '../../contract/worker-registry.ts';
import { followUpsOf, sameStoredSettings } from '../../contract/job-queue.ts';
import { waitingForChildrenRunAt } from '../../contract/flow-store.ts';
import { bucketOf } from '../../contract/stats-window.ts';
import { InvalidOptionError, LeaseLostError, StoreError } from '../../domain/errors.ts';
import { newCompactLeaseToken } from '../../domain/ids.ts';
import { type JobLogEntry, type JobProgress, recordLimits } from '../../domain/job-record.ts';
import { type SqliteConnection, sqliteStatementTexts } from './sqlite-connection.ts';
import type { FinishedChild, SqliteFlows } from './sqlite-flows.ts';
import { type JobRow, rowToClaimed } from './sqlite-rows.ts';
import type { SqliteWorkers } from './sqlite-workers.ts';

const claimStatements = ['anyClaimable', 'ready', 'expired', 'expiredHooks', 'promote', 'nextRunAt', 'startBatch'] as const;

/**
 * The statements a claim runs (sql/queue.sql), by name, so tests can check their query plans
 * (EXPLAIN QUERY PLAN) against exactly what the backend executes. Each is read at first use.
 */
export const claimSql = Object.defineProperties(
  {},
  Object.fromEntries(claimStatements.map((name) => [name, { enumerable: true, get: () => sqliteStatementTexts()[name] }])),
) as Readonly<Record<(typeof claimStatements)[number], string>>;

/**
 * The JobQueue role on SQLite. Claims and outcomes are batched, one transaction each (a
 * `BEGIN IMMEDIATE` shared with the writes that wait beside them, see sqlite-write-queue.ts),
 * so two processes never claim the same row.
 */
export class SqliteQueue implements JobQueue {
  /**
   * Queues whose row an enqueue of this backend committed: no later enqueue needs to record
   * them again (a queue's row is never deleted). Added only once the transaction committed.
   */
  private readonly recordedQueues = new Set<string>();

  constructor(
    private readonly connection: SqliteConnection,
    private readonly workers: SqliteWorkers,
    private readonly flows: SqliteFlows,
  ) {}

  async enqueue(jobs: readonly NewJob[], options: EnqueueCallOptions = {}): Promise<EnqueueResult[]> {
    if (options.tx !== undefined) throw new InvalidOptionError('tx', options.tx, 'no transaction: transactional enqueue is for the postgres backend');
    // A lone keyless job into a queue that has its row is one INSERT: autocommit suffices.
    const oneStatement = jobs.length === 1 && jobs[0]!.key === null && this.recordedQueues.has(jobs[0]!.queue);
    const results = await this.connection.write('enqueue', () => this.insertJobs(jobs), oneStatement);
    if (!oneStatement) for (let index = 0; index < jobs.length; index++) if (results[index]!.created) this.recordedQueues.add(jobs[index]!.queue);
    if (this.connection.listens()) for (const event of enqueuedEvents(jobs, results)) this.connection.emit(event);
    return results;
  }

  async enqueueRunning(job: NewJob, lease: LeaseRequest): Promise<{ created: true; job: ClaimedJob } | { created: false; id: string }> {
    const { clock } = this.connection;
    return this.connection.write('enqueue', () => {
      const inserted = this.insertJobs([job])[0]!;
      if (!inserted.created) return { created: false as const, id: inserted.id };
      const row = this.connection.statements.start.get(clock.now(), newCompactLeaseToken(), lease.workerId, clock.now() + lease.leaseMs, 0, job.id) as JobRow;
      return { created: true as const, job: rowToClaimed(row, false) };
    });
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    // Idle workers poll: look before taking the write lock, so polling never blocks writers.
    const idle = await this.connection.read('claim', () => {
      const s = this.connection.statements;
      const now = this.connection.clock.now();
      const queues = JSON.stringify(request.queues);
      const names = JSON.stringify(request.names);
      if (s.anyClaimable.get(queues, names, now, queues, names, now, queues, names, now, queues, names) !== undefined) return null;
      return { jobs: [], nextRunAt: this.nextRunAt(queues, names) };
    });
    if (idle) return idle;
    const { result, events } = await this.connection.write('claim', () => {
      const events: BackendEvent[] = [];
      return { result: this.claimIn(request, events), events };
    });
    for (const event of events) this.connection.emit(event);
    return result;
  }

  async settle(settlements: readonly Settlement[], next?: ClaimRequest): Promise<SettleResult> {
    const { result, events } = await this.connection.write('settle', () => {
      const events: BackendEvent[] = [];
      const applied = this.applySettlements(settlements, events);
      return { result: { applied, claimed: next ? this.claimIn(next, events) : null }, events };
    });
    for (const event of events) this.connection.emit(event);
    return result;
  }

  async renewLeases(leases: readonly LeaseRef[], leaseMs: number, presence?: PresenceRenewal): Promise<LeaseStatus[]> {
    return this.connection.write('renewLeases', () => {
      if (presence) this.workers.registerNow(presence.worker, presence.ttlMs);
      // From when the write happens, not when it was asked for: the call may have waited for the lock.
      const expiresAt = this.connection.clock.now() + leaseMs;
      return leases.map(({ id, token }) => {
        const row = this.connection.statements.renew.get(expiresAt, id, token) as { cancel_requested: number } | undefined;
        return { id, held: row !== undefined, cancelRequested: row?.cancel_requested === 1 };
      });
    });
  }

  async recordProgress(lease: LeaseRef, progress: JobProgress): Promise<void> {
    await this.connection.write('recordProgress', () => {
      const s = this.connection.statements;
      const row = s.heldHistory.get(lease.id, lease.token) as { progress_history: string } | undefined;
      if (!row) throw new LeaseLostError(lease.id);
      const history = [...(JSON.parse(row.progress_history) as JobProgress[]), progress].slice(-recordLimits.maxProgressHistory);
      s.setProgress.run(JSON.stringify(progress), JSON.stringify(history), lease.id);
    });
  }

  async appendLog(lease: LeaseRef, entry: JobLogEntry): Promise<void> {
    await this.connection.write('appendLog', () => {
      const s = this.connection.statements;
      const row = s.heldLogs.get(lease.id, lease.token) as { logs: string } | undefined;
      if (!row) throw new LeaseLostError(lease.id);
      const logs = [...(JSON.parse(row.logs) as JobLogEntry[]), entry].slice(-recordLimits.maxLogEntries);
      s.setLogs.run(JSON.stringify(logs), lease.id);
    });
  }

  /**
   * Inserts jobs (inside the caller's transaction), recording each queue once, not once per job.
   * A run of keyless jobs that share every column but id, payload and run_at (a bulk enqueue of
   * one job, say) goes in as one statement; a keyed job, whose key may be held, goes alone, so
   * its row tells whether it was stored.
   */
  insertJobs(jobs: readonly NewJob[]): EnqueueResult[] {
    const s = this.connection.statements;
    const now = this.connection.clock.now();
    const results: EnqueueResult[] = [];
    for (let at = 0; at < jobs.length; ) {
      const first = jobs[at]!;
      let end = at + 1;
      if (first.key === null) while (end < jobs.length && jobs[end]!.key === null && sameStoredSettings(first, jobs[end]!)) end++;
      if (end - at === 1) {
        results.push(this.insertJob(first, now));
        at++;
        continue;
      }
      const run = jobs.slice(at, end);
      const stored = s.insertShared.run({ ...sharedColumns(first), now, jobs: JSON.stringify(run.map((job) => [job.id, job.payload, job.runAt])) }).changes;
      // Only a taken id can leave a keyless row out; the caller's transaction is rolled back.
      if (stored !== run.length) {
        throw new StoreError(`${run.length - stored} of the jobs "${first.id}" to "${run.at(-1)!.id}" were not stored: their ids are taken`, {
          details: { ids: run.map((job) => job.id) },
        });
      }
      for (const job of run) results.push({ id: job.id, created: true });
      at = end;
    }
    let recordedHere: Set<string> | undefined;
    for (let index = 0; index < jobs.length; index++) {
      const job = jobs[index]!;
      if (!results[index]!.created || this.recordedQueues.has(job.queue) || recordedHere?.has(job.queue)) continue;
      s.ensureQueue.run(job.queue);
      (recordedHere ??= new Set()).add(job.queue);
    }
    return results;
  }

  private insertJob(job: NewJob, now: number): EnqueueResult {
    const s = this.connection.statements;
    const info = s.insert.run(rowValues(job, now));
    if (info.changes === 0) {
      const existing = s.byKey.get(job.name, job.key) as { id: string } | undefined;
      if (!existing) throw new StoreError(`Job "${job.id}" was not stored and no job holds its key`, { details: { id: job.id } });
      return { id: existing.id, created: false };
    }
    return { id: job.id, created: true };
  }

  /** Adds to `events` what the claim's writes announce beyond the claim itself (parents a cancelled job resolved). */
  private claimIn(request: ClaimRequest, events: BackendEvent[]): ClaimResult {
    const s = this.connection.statements;
    const now = this.connection.clock.now();
    const names = JSON.stringify(request.names);
    const paused = new Set((s.pausedQueues.all() as Array<{ name: string }>).map((row) => row.name));
    const queues = request.queues.filter((queue) => !paused.has(queue));
    const jobs: ClaimedJob[] = [];
    if (queues.length === 0) return { jobs, nextRunAt: null };
    const queueList = JSON.stringify(queues);
    const lease = () => [now, newCompactLeaseToken(), request.workerId, now + request.leaseMs] as const;

    type ExpiredRow = { id: string; cancel_requested: number; keep_failed_ms: number | null; queue: string; has_parents: number };
    for (const row of s.expired.all(now, queueList, names, request.limit) as ExpiredRow[]) {
      if (row.cancel_requested === 1) {
        s.cancelExpired.run(now, row.keep_failed_ms === null ? null : now + row.keep_failed_ms, row.id);
        s.touchQueue.run({ now, queue: row.queue });
        // Before the claim below, so a parent this releases can be claimed by it.
        if (row.has_parents === 1) this.flows.resolveParents([{ id: row.id, state: 'cancelled' }], events);
        continue;
      }
      jobs.push(rowToClaimed(s.start.get(...lease(), 1, row.id) as JobRow, true));
    }
    // Failed jobs whose hook's worker died: taken over for the hook alone, still failed.
    if (jobs.length < request.limit) {
      for (const row of s.expiredHooks.all(now, queueList, names, request.limit - jobs.length) as Array<{ id: string }>) {
        jobs.push(rowToClaimed(s.takeOverHook.get(newCompactLeaseToken(), request.workerId, now + request.leaseMs, row.id) as JobRow, true));
      }
    }
    this.promoteDue();
    if (jobs.length < request.limit) {
      const want = request.limit - jobs.length;
      // One index range per queue, merged here: an IN list over queues would lose the index order.
      const candidates = queues.flatMap((queue) => s.ready.all(queue, names, want) as Array<{ id: string; priority: number; run_at: number }>);
      if (queues.length > 1) candidates.sort((a, b) => b.priority - a.priority || a.run_at - b.run_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const chosen = candidates.slice(0, want);
      if (chosen.length > 0) {
        // One statement for the batch. Each attempt's token is a fresh random prefix for this
        // claim plus the job's place in the batch: unique per attempt, without a statement per row.
        const started = s.startBatch.all(now, `${newCompactLeaseToken()}-`, request.workerId, now + request.leaseMs, JSON.stringify(chosen.map((c) => c.id))) as JobRow[];
        const order = new Map(chosen.map((candidate, index) => [candidate.id, index]));
        started.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
        for (const row of started) jobs.push(rowToClaimed(row, false));
      }
    }
    let nextRunAt: number | null = null;
    if (jobs.length < request.limit) nextRunAt = this.nextRunAt(queueList, names);
    return { jobs, nextRunAt };
  }

  /**
   * The earliest run time of a scheduled job in those queues. A parent waiting for its children
   * is scheduled at `waitingForChildrenRunAt`, the largest run time there is, so it is the
   * earliest only when nothing else is scheduled: then there is none to wait for.
   */
  private nextRunAt(queueList: string, names: string): number | null {
    const { at } = this.connection.statements.nextRunAt.get(queueList, names) as { at: number | null };
    return at === waitingForChildrenRunAt ? null : at;
  }

  /** Due delayed jobs become queued (inside the caller's transaction). */
  private promoteDue(): void {
    this.connection.statements.promote.run(this.connection.clock.now());
  }


  /** A freshly written outcome's follow-up jobs, in its transaction: a failed insert rolls the outcome back too. */
  private insertFollowUps(settlement: Settlement, events: BackendEvent[]): void {
    const jobs = followUpsOf(settlement);
    if (jobs.length > 0) events.push(...enqueuedEvents(jobs, this.insertJobs(jobs)));
  }

  private applySettlements(settlements: readonly Settlement[], events: BackendEvent[]): boolean[] {
    const s = this.connection.statements;
    const now = this.connection.clock.now();
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
    const alreadyApplied = (id: string, token: string) => s.settledBy.get({ id, token }) !== undefined;
    // Flow jobs that finished here, whose parents are resolved in this same transaction; the
    // only cost for a job outside a flow is the test of its has_parents.
    const finished: FinishedChild[] = [];
    if (completes.length > 0) {
      // Each (id, token) once: completeBatch inserts the rows it finds, and a second insert of one
      // would break jobsmith_finished's key (the UPDATE it replaced changed a row once however often it matched).
      const unique = [...new Map(completes.map((c) => [`${c.id}\u0000${c.token}`, c])).values()];
      const input = JSON.stringify(unique.map((c) => ({ id: c.id, token: c.token, result: c.result, expiresAt: c.expiresAt })));
      for (const row of s.completeBatch.all(now, input) as Array<{ id: string; queue: string; has_parents: number }>) {
        completed.add(row.id);
        count(row.queue, 'completed');
        events.push({ type: 'settled', id: row.id, state: 'completed' });
        if (row.has_parents === 1) finished.push({ id: row.id, state: 'completed' });
      }
      if (completed.size > 0) s.completeMoved.run(input);
    }
    const applied = settlements.map((settlement) => {
      const { id, token } = settlement;
      let row: { queue: string; has_parents: number } | undefined;
      switch (settlement.kind) {
        case 'complete':
          if (completed.has(id)) this.insertFollowUps(settlement, events);
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
          if (row) this.insertFollowUps(settlement, events);
          // Failed for good at this write, whether or not its failed hook is still to run.
          if (row?.has_parents === 1) finished.push({ id, state: 'failed' });
          break;
        case 'cancel':
          row = s.cancelRunning.get(settlement.error === null ? null : JSON.stringify(settlement.error), now, settlement.expiresAt, id, token) as typeof row;
          if (row) count(row.queue, null);
          if (row) events.push({ type: 'settled', id, state: 'cancelled' });
          if (row?.has_parents === 1) finished.push({ id, state: 'cancelled' });
          break;
        case 'hook-done':
          return s.hookDone.get(id, token) !== undefined || s.hookDoneBy.get({ id, token }) !== undefined;
      }
      return row !== undefined || alreadyApplied(id, token);
    });
    this.flows.resolveParents(finished, events);
    const bucket = bucketOf(now);
    for (const [queue, { completed, failed }] of counts) {
      s.touchQueue.run({ now, queue });
      if (completed + failed > 0) s.addCounts.run(queue, bucket, completed, failed);
    }
    return applied;
  }
}

/** The columns of `insertShared` bound once for a run of jobs: all but id, payload and run_at. */
function sharedColumns(job: NewJob) {
  return {
    name: job.name,
    queue: job.queue,
    metadata: JSON.stringify(job.metadata),
    priority: job.priority,
    max_attempts: job.maxAttempts,
    backoff: job.backoff === null ? null : JSON.stringify(job.backoff),
    timeout_ms: job.timeoutMs,
    keep_completed_ms: job.keepCompletedMs,
    keep_failed_ms: job.keepFailedMs,
    created_at: job.createdAt,
  };
}

/** A job's values in the order of the `insert` statement's columns. */
function rowValues(job: NewJob, now: number): unknown[] {
  return [
    job.id,
    job.name,
    job.queue,
    job.runAt > now ? 'scheduled' : 'queued',
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
  ];
}
